//! Signed tokens for the authentication paths: an ES256 key made for the run, a token issuer
//! serving OpenID discovery and the key's JWKS on 127.0.0.1 (inside this process), and the
//! tokens — workload identity tokens of that issuer, and Docker tokens with `access` claims
//! signed by the same key (whose public half is the registry's `bearer.cert`).

use crate::payload::Payload;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{json, Value};
use sha2::Digest;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};

/// The audience and Docker token service the tokens name.
pub const AUDIENCE: &str = "portcullis-bench";

/// A signing key and the issuer that publishes it.
pub struct Signer {
    key: EncodingKey,
    /// The public key, SPKI PEM (the registry's `bearer.cert`).
    pub public_pem: String,
    /// The issuer URL (`http://127.0.0.1:PORT`).
    pub issuer: String,
    serial: AtomicU64,
}

impl Signer {
    /// Make a key (derived from `label`: the benchmark needs no secrecy) and start its issuer.
    pub async fn start(label: &str) -> anyhow::Result<Signer> {
        let seed = sha2::Sha256::digest(format!("portcullis-bench-key-{label}"));
        let secret = p256::SecretKey::from_slice(&seed)?;
        let public = secret.public_key();
        let point = public.to_encoded_point(false);
        let b64 = |bytes: &[u8]| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        };
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "bench", "alg": "ES256", "use": "sig",
            "x": b64(point.x().expect("an uncompressed point")),
            "y": b64(point.y().expect("an uncompressed point")),
        }]});
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let discovery = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/keys"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        });
        tokio::spawn(serve(listener, discovery.to_string(), jwks.to_string()));
        Ok(Signer {
            key: EncodingKey::from_ec_pem(secret.to_pkcs8_pem(LineEnding::LF)?.as_bytes())?,
            public_pem: public.to_public_key_pem(LineEnding::LF)?,
            issuer,
            serial: AtomicU64::new(0),
        })
    }

    fn sign(&self, mut claims: Value, kid: Option<&str>) -> anyhow::Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        // Every token differs, so each is verified afresh when first presented.
        claims["jti"] = self.serial.fetch_add(1, Ordering::Relaxed).into();
        claims["iat"] = now.into();
        claims["exp"] = (now + 3600).into();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = kid.map(str::to_owned);
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }

    /// A workload identity token for `subject`.
    pub fn workload_token(&self, subject: &str) -> anyhow::Result<String> {
        let claims = json!({"iss": self.issuer, "aud": AUDIENCE, "sub": subject});
        self.sign(claims, Some("bench"))
    }

    /// A Docker token granting `pull` on `repository`.
    pub fn docker_token(&self, subject: &str, repository: &str) -> anyhow::Result<String> {
        let claims = json!({
            "iss": "portcullis-bench-token-service", "aud": AUDIENCE, "sub": subject,
            "access": [{"type": "repository", "name": repository, "actions": ["pull"]}],
        });
        self.sign(claims, None)
    }
}

/// Serve the discovery document and the JWKS until the process ends.
async fn serve(listener: tokio::net::TcpListener, discovery: String, jwks: String) {
    while let Ok((stream, _)) = listener.accept().await {
        let (discovery, jwks) = (discovery.clone(), jwks.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let body = match request.uri().path() {
                    "/.well-known/openid-configuration" => Some(discovery.clone()),
                    "/keys" => Some(jwks.clone()),
                    _ => None,
                };
                async move {
                    let mut response = Response::new(Payload::empty());
                    match body {
                        Some(body) => *response.body_mut() = bytes::Bytes::from(body).into(),
                        None => *response.status_mut() = StatusCode::NOT_FOUND,
                    }
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
