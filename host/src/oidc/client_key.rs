//! `private_key_jwt` client authentication (zot's `keypath`): the token request carries a JWT
//! signed with the client's private key instead of a client secret. The key file is a PEM
//! private key (RSA or P-256), or a zitadel key file (JSON with `keyId` and the PEM in `key`).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use std::path::Path;

/// How long a client assertion is valid.
const ASSERTION_LIFETIME_SECS: u64 = 60;

/// A client's signing key.
pub struct ClientKey {
    key: EncodingKey,
    algorithm: Algorithm,
    key_id: Option<String>,
}

/// zot's (zitadel's) JSON key file.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyFile {
    key: String,
    #[serde(default)]
    key_id: Option<String>,
}

impl ClientKey {
    /// Read a key file.
    pub fn read(path: &Path) -> anyhow::Result<ClientKey> {
        let text = std::fs::read_to_string(path)?;
        let (pem, key_id) = match serde_json::from_str::<KeyFile>(&text) {
            Ok(file) => (file.key, file.key_id),
            Err(_) => (text, None),
        };
        let (key, algorithm) = match EncodingKey::from_rsa_pem(pem.as_bytes()) {
            Ok(k) => (k, Algorithm::RS256),
            Err(_) => (
                EncodingKey::from_ec_pem(pem.as_bytes())
                    .map_err(|_| anyhow::anyhow!("not an RSA or P-256 private key in PEM"))?,
                Algorithm::ES256,
            ),
        };
        Ok(ClientKey {
            key,
            algorithm,
            key_id,
        })
    }

    /// A fresh client assertion for `client_id` at a provider (`aud` names both the issuer and
    /// the token endpoint, which providers accept either of).
    pub fn assertion(
        &self,
        client_id: &str,
        issuer: &str,
        token_endpoint: &str,
    ) -> anyhow::Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let mut header = Header::new(self.algorithm);
        header.kid = self.key_id.clone();
        let audience: Vec<&str> = [issuer, token_endpoint]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
            "jti": crate::sessions::random_token(),
        });
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}
