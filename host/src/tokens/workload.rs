//! Workload identity issuers (`http.auth.bearer.oidc[]`): OpenID discovery and the JWKS fetched
//! lazily (never at start-up, so an unreachable issuer does not stop the registry), kept for
//! a while, fetched again when a token names an unknown key (at most every few seconds), over
//! TLS with the issuer's own CA when one is configured. A token is verified with the key its
//! header names and only an asymmetric algorithm that key allows; `iss` (unless
//! `skipIssuerVerification`), `aud` (any configured audience), `exp`, `nbf` and `iat` are
//! checked with a small leeway.

use super::keys::{self, VerifyingKey, MAX_DOCUMENT};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::Validation;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a fetched key set is used before it is fetched again.
const KEYS_TTL: Duration = Duration::from_secs(300);
/// Least time between two fetches of an issuer's keys (a token naming an unknown key, as
/// after a key rotation, prompts one).
const REFETCH_EVERY: Duration = Duration::from_secs(2);
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 60;
/// Deadline of one call to an issuer.
const ISSUER_TIMEOUT: Duration = Duration::from_secs(10);

/// One configured issuer.
pub struct WorkloadIssuer {
    /// The issuer URL as configured.
    pub issuer: String,
    audiences: Vec<String>,
    skip_issuer_check: bool,
    http: reqwest::Client,
    keys: tokio::sync::Mutex<KeyCache>,
}

/// The issuer's keys as last fetched, and when a fetch was last tried.
#[derive(Default)]
struct KeyCache {
    fetched: Option<Fetched>,
    last_attempt: Option<Instant>,
}

struct Fetched {
    keys: Arc<Vec<VerifyingKey>>,
    at: Instant,
}

/// The issuer's discovery document, as far as it matters here.
#[derive(serde::Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

impl WorkloadIssuer {
    /// An issuer; `ca` is a PEM bundle to trust for its TLS (none: the system's roots).
    pub fn new(
        issuer: String,
        audiences: Vec<String>,
        ca: Option<&[u8]>,
        skip_issuer_check: bool,
    ) -> anyhow::Result<WorkloadIssuer> {
        let mut http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(ISSUER_TIMEOUT)
            .connect_timeout(Duration::from_secs(5));
        if let Some(pem) = ca {
            for cert in reqwest::Certificate::from_pem_bundle(pem)? {
                http = http.add_root_certificate(cert);
            }
        }
        Ok(WorkloadIssuer {
            issuer,
            audiences,
            skip_issuer_check,
            http: http.build()?,
            keys: tokio::sync::Mutex::new(KeyCache::default()),
        })
    }

    /// Whether an unverified token says it is for this issuer: its `iss` is this issuer and its
    /// `aud` names one of the audiences (zot's token-exchange ownership test).
    pub fn claims_ownership(&self, claims: &Value) -> bool {
        claims
            .get("iss")
            .and_then(Value::as_str)
            .is_some_and(|iss| same_issuer(iss, &self.issuer))
            && audiences_of(claims)
                .iter()
                .any(|a| self.audiences.contains(a))
    }

    async fn get(&self, url: &str) -> Result<bytes::Bytes, String> {
        let response = self
            .http
            .get(url)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {}", crate::errors::describe(&e)))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let bytes = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        if bytes.len() > MAX_DOCUMENT {
            return Err(format!("{url}: document too large"));
        }
        Ok(bytes)
    }

    async fn fetch(&self) -> Result<Arc<Vec<VerifyingKey>>, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = serde_json::from_slice(&self.get(&url).await?)
            .map_err(|e| format!("{url}: not a discovery document: {e}"))?;
        // Even with skipIssuerVerification, the document must be the configured issuer's.
        if !same_issuer(&discovery.issuer, &self.issuer) {
            return Err(format!(
                "the discovery document names issuer {:?}, not {:?}",
                discovery.issuer, self.issuer
            ));
        }
        let set: JwkSet = serde_json::from_slice(&self.get(&discovery.jwks_uri).await?)
            .map_err(|e| format!("{}: not a JWKS: {e}", discovery.jwks_uri))?;
        Ok(Arc::new(keys::from_jwks(&set)))
    }

    /// The key set: cached; fetched when missing, stale, or when `want` names a key the cached
    /// set lacks — at most once every [`REFETCH_EVERY`], whatever the outcome (one caller
    /// fetches while the others wait for its answer). When the issuer cannot be reached, keys
    /// fetched earlier stay in use.
    async fn keys(&self, want: Option<&str>) -> Result<Arc<Vec<VerifyingKey>>, String> {
        let mut cache = self.keys.lock().await;
        if let Some(f) = cache.fetched.as_ref() {
            let knows = want.is_none_or(|kid| f.keys.iter().any(|k| k.kid.as_deref() == Some(kid)));
            if knows && f.at.elapsed() < KEYS_TTL {
                return Ok(f.keys.clone());
            }
        }
        let tried_recently = cache
            .last_attempt
            .is_some_and(|at| at.elapsed() < REFETCH_EVERY);
        if !tried_recently {
            cache.last_attempt = Some(Instant::now());
            match self.fetch().await {
                Ok(keys) => {
                    cache.fetched = Some(Fetched {
                        keys: keys.clone(),
                        at: Instant::now(),
                    });
                    return Ok(keys);
                }
                Err(e) => {
                    tracing::warn!(issuer = %self.issuer, error = %e, "cannot fetch the issuer's keys");
                }
            }
        }
        match cache.fetched.as_ref() {
            Some(f) => Ok(f.keys.clone()),
            None => Err(format!(
                "invalid or unreachable oidc issuer {}: its keys could not be fetched",
                self.issuer
            )),
        }
    }

    /// Verify a token of this issuer; its claims on success, the reason otherwise.
    pub async fn verify(&self, token: &str) -> Result<Value, String> {
        let header = keys::header_of(token)?;
        let keys = self.keys(header.kid.as_deref()).await?;
        let key = match &header.kid {
            Some(kid) => keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid.as_str()))
                .ok_or_else(|| format!("no key {kid:?} in the issuer's key set"))?,
            None if keys.len() == 1 => &keys[0],
            None => return Err("the token names no key (kid) and the issuer has several".into()),
        };
        if !key.verifies(header.alg) {
            return Err(format!(
                "key {:?} does not verify {:?}",
                key.kid, header.alg
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_audience(&self.audiences);
        if !self.skip_issuer_check {
            validation.set_issuer(&[self.issuer.as_str(), self.issuer.trim_end_matches('/')]);
        }
        let data = jsonwebtoken::decode::<Value>(token, &key.key, &validation)
            .map_err(|e| format!("token refused: {e}"))?;
        check_iat(&data.claims)?;
        Ok(data.claims)
    }
}

/// `iat`, when present, must not be in the future (beyond the leeway).
pub fn check_iat(claims: &Value) -> Result<(), String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match claims.get("iat") {
        None => Ok(()),
        Some(v) => match v.as_f64() {
            Some(iat) if iat <= (now + LEEWAY_SECS) as f64 => Ok(()),
            Some(_) => Err("token issued in the future (iat)".into()),
            None => Err("iat is not a number".into()),
        },
    }
}

/// The audiences a token names (`aud` as a string or an array of strings).
pub fn audiences_of(claims: &Value) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}
