//! Signed tokens presented as `Authorization: Bearer` (zot's `http.auth.bearer`): workload
//! identity tokens of the configured OIDC issuers, tried in order (the first that verifies
//! wins; every failure is logged with its reason, never shown to the client), then traditional
//! Docker tokens. Verification is the host's (it needs the network, and signature checks are
//! ten times cheaper natively); mapping claims to an identity is the claim-mapper plugin's.

mod docker;
mod keys;
mod workload;

pub use docker::DockerToken;

use crate::config::auth::BearerConfig;
use anyhow::Context;
use serde_json::Value;
use workload::WorkloadIssuer;

/// Longest token accepted (a larger one is refused before it is parsed).
pub const MAX_TOKEN: usize = 16 << 10;

/// A token that verified.
#[derive(Clone, Debug)]
pub enum Verified {
    /// A workload identity token: its issuer (as configured) and claims.
    Workload {
        /// The configured issuer URL.
        issuer: String,
        /// The verified claims.
        claims: Value,
    },
    /// A Docker token and what it grants.
    Docker(DockerToken),
}

impl Verified {
    /// When the token expires, ms since the Unix epoch.
    pub fn expires_at_ms(&self) -> Option<u64> {
        match self {
            Verified::Workload { claims, .. } => claims
                .get("exp")
                .and_then(Value::as_f64)
                .map(|s| (s * 1000.0) as u64),
            Verified::Docker(t) => Some(t.exp.saturating_mul(1000)),
        }
    }
}

/// The configured token verifiers.
pub struct Tokens {
    workload: Vec<WorkloadIssuer>,
    docker: Option<keys::VerifyingKey>,
    realm: Option<String>,
    service: String,
}

/// Whether a string is shaped like a compact JWT (three base64url parts).
pub fn looks_like_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts[..2].iter().all(|p| !p.is_empty())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
}

impl Tokens {
    /// The verifiers of `bearer` (nothing is fetched here).
    pub fn from_config(bearer: &BearerConfig) -> anyhow::Result<Tokens> {
        let mut workload = Vec::new();
        for (i, o) in bearer.oidc.iter().enumerate() {
            let ca = match (&o.certificateauthority, &o.certificateauthorityfile) {
                (Some(pem), _) => Some(pem.as_bytes().to_vec()),
                (None, Some(path)) => Some(std::fs::read(path).with_context(|| {
                    format!(
                        "key `http.auth.bearer.oidc[{i}].certificateauthorityfile`: cannot read {}",
                        path.display()
                    )
                })?),
                (None, None) => None,
            };
            if let Some(pem) = &ca {
                let certs = reqwest::Certificate::from_pem_bundle(pem).unwrap_or_default();
                anyhow::ensure!(
                    !certs.is_empty(),
                    "key `http.auth.bearer.oidc[{i}].certificateauthority`: not a PEM certificate bundle"
                );
            }
            workload.push(
                WorkloadIssuer::new(
                    o.issuer.clone(),
                    o.audiences.clone(),
                    ca.as_deref(),
                    o.skipissuerverification == Some(true),
                )
                .with_context(|| format!("bearer.oidc[{i}] ({})", o.issuer))?,
            );
        }
        let docker = match (&bearer.cert, &bearer.realm, &bearer.service) {
            (Some(cert), Some(_), Some(_)) => {
                let bytes = std::fs::read(cert).with_context(|| {
                    format!(
                        "key `http.auth.bearer.cert`: cannot read {}",
                        cert.display()
                    )
                })?;
                Some(keys::from_cert_file(&bytes).map_err(|e| {
                    anyhow::anyhow!("key `http.auth.bearer.cert`: {}: {e}", cert.display())
                })?)
            }
            _ => None,
        };
        Ok(Tokens {
            workload,
            docker,
            realm: bearer.realm.clone().filter(|r| !r.is_empty()),
            service: bearer.service.clone().unwrap_or_default(),
        })
    }

    /// Whether workload identity issuers are configured.
    pub fn has_workload(&self) -> bool {
        !self.workload.is_empty()
    }

    /// The Bearer challenge for `scope` (`repository:<name>:<pull|push|delete>`, or empty for
    /// `/v2/`), when a realm is configured.
    pub fn challenge(&self, scope: &str) -> Option<String> {
        let clean = |s: &str| s.replace(['"', '\\'], "");
        self.realm.as_ref().map(|realm| {
            format!(
                "Bearer realm=\"{}\",service=\"{}\",scope=\"{}\"",
                clean(realm),
                clean(&self.service),
                clean(scope)
            )
        })
    }

    /// The realm, for the token endpoint's Basic challenge.
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// Verify a workload identity token with the configured issuers, in order.
    pub async fn verify_workload(&self, token: &str) -> Result<Verified, String> {
        if token.len() > MAX_TOKEN {
            return Err(format!("token longer than {MAX_TOKEN} bytes"));
        }
        let mut reasons = Vec::new();
        for issuer in &self.workload {
            match issuer.verify(token).await {
                Ok(claims) => {
                    return Ok(Verified::Workload {
                        issuer: issuer.issuer.clone(),
                        claims,
                    })
                }
                Err(reason) => reasons.push(format!("{}: {reason}", issuer.issuer)),
            }
        }
        Err(if reasons.is_empty() {
            "no workload identity issuer is configured".into()
        } else {
            reasons.join("; ")
        })
    }

    /// Verify a Bearer token: workload issuers first, then the Docker token key.
    pub async fn verify(&self, token: &str) -> Result<Verified, String> {
        if token.len() > MAX_TOKEN {
            return Err(format!("token longer than {MAX_TOKEN} bytes"));
        }
        let workload = match self.verify_workload(token).await {
            Ok(verified) => return Ok(verified),
            Err(reason) => reason,
        };
        match &self.docker {
            Some(key) => docker::verify(key, token)
                .map(Verified::Docker)
                .map_err(|e| match self.workload.is_empty() {
                    true => format!("docker token: {e}"),
                    false => format!("{workload}; docker token: {e}"),
                }),
            None => Err(workload),
        }
    }

    /// Whether an unverified token is one of the workload issuers' (its `iss` and `aud`):
    /// zot's test of which credentials the token endpoint owns.
    pub fn owns(&self, token: &str) -> bool {
        if token.len() > MAX_TOKEN || !looks_like_jwt(token) {
            return false;
        }
        let Some(payload) = token.split('.').nth(1) else {
            return false;
        };
        use base64::Engine as _;
        let Ok(bytes) =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
        else {
            return false;
        };
        let Ok(claims) = serde_json::from_slice::<Value>(&bytes) else {
            return false;
        };
        self.workload.iter().any(|w| w.claims_ownership(&claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwt_shapes() {
        assert!(looks_like_jwt("eyJh.eyJi.sig-_"));
        assert!(!looks_like_jwt("zak_0123"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a b.c.d"));
    }
}
