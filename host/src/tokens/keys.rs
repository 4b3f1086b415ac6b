//! Verification keys of signed tokens: a JWKS (workload issuers, and `bearer.cert` as a JWKS
//! with one key), a PEM certificate or a PEM public key (PKIX or PKCS#1), and the algorithms a
//! key may verify — asymmetric only: never `none`, never HMAC (a public key is no secret).

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};

/// Largest JWKS, discovery document or key file read.
pub const MAX_DOCUMENT: usize = 1 << 20;

/// The asymmetric algorithms tokens may be signed with.
pub const ALLOWED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A token's header. The algorithm is checked by name first, so that `none`, HMAC and any
/// unknown algorithm are refused as such.
pub fn header_of(token: &str) -> Result<jsonwebtoken::Header, String> {
    use base64::Engine as _;
    let encoded = token.split('.').next().unwrap_or_default();
    let raw: serde_json::Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("malformed token: its header is not base64url JSON")?;
    let alg = raw
        .get("alg")
        .and_then(serde_json::Value::as_str)
        .ok_or("malformed token: its header names no algorithm")?;
    if !ALLOWED.iter().any(|a| format!("{a:?}") == alg) {
        return Err(format!("algorithm {alg:?} is not accepted"));
    }
    jsonwebtoken::decode_header(token).map_err(|e| format!("malformed token: {e}"))
}

/// A verification key and the algorithms it may verify.
pub struct VerifyingKey {
    /// Its id, if the key set names it.
    pub kid: Option<String>,
    /// The key.
    pub key: DecodingKey,
    /// Algorithms it may verify (those of its family; only its own when the JWK says).
    pub algorithms: Vec<Algorithm>,
}

impl VerifyingKey {
    /// Whether this key may verify a token signed with `alg`.
    pub fn verifies(&self, alg: Algorithm) -> bool {
        ALLOWED.contains(&alg) && self.algorithms.contains(&alg)
    }
}

fn family(params: &AlgorithmParameters) -> Vec<Algorithm> {
    use Algorithm::*;
    match params {
        AlgorithmParameters::RSA(_) => vec![RS256, RS384, RS512, PS256, PS384, PS512],
        AlgorithmParameters::EllipticCurve(_) => vec![ES256, ES384],
        AlgorithmParameters::OctetKeyPair(_) => vec![EdDSA],
        AlgorithmParameters::OctetKey(_) => Vec::new(),
    }
}

/// The usable keys of a JWKS (symmetric and unparseable ones are skipped, with a reason).
pub fn from_jwks(set: &JwkSet) -> Vec<VerifyingKey> {
    set.keys.iter().filter_map(from_jwk).collect()
}

fn from_jwk(jwk: &Jwk) -> Option<VerifyingKey> {
    let mut algorithms = family(&jwk.algorithm);
    if let Some(declared) = jwk.common.key_algorithm {
        let declared = declared.to_string();
        algorithms.retain(|a| format!("{a:?}") == declared);
    }
    if algorithms.is_empty() {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerifyingKey {
        kid: jwk.common.key_id.clone(),
        key,
        algorithms,
    })
}

/// Reads a PEM document as a decoding key of one family.
type PemParser = fn(&[u8]) -> jsonwebtoken::errors::Result<DecodingKey>;

/// `bearer.cert`: a PEM certificate, a PEM public key (PKIX or PKCS#1), or a JWKS with exactly
/// one key (zot's `loadPublicKeyFromBytes`).
pub fn from_cert_file(bytes: &[u8]) -> Result<VerifyingKey, String> {
    if let Ok(set) = serde_json::from_slice::<JwkSet>(bytes) {
        let mut keys = from_jwks(&set);
        return match (keys.len(), set.keys.len()) {
            (1, 1) => Ok(keys.remove(0)),
            _ => Err("a JWKS given as bearer.cert must hold exactly one asymmetric key".into()),
        };
    }
    use Algorithm::*;
    let attempts: [(PemParser, Vec<Algorithm>); 3] = [
        (
            DecodingKey::from_rsa_pem,
            vec![RS256, RS384, RS512, PS256, PS384, PS512],
        ),
        (DecodingKey::from_ec_pem, vec![ES256, ES384]),
        (DecodingKey::from_ed_pem, vec![EdDSA]),
    ];
    for (parse, algorithms) in attempts {
        if let Ok(key) = parse(bytes) {
            return Ok(VerifyingKey {
                kid: None,
                key,
                algorithms,
            });
        }
    }
    Err("not a PEM certificate, a PEM public key or a JWKS with one key".into())
}
