//! Traditional Docker token authentication (`bearer.realm`, `service`, `cert`): tokens from an
//! external token service, signed with the key of `bearer.cert`, whose `access` claim lists
//! what the bearer may do: `[{"type": "repository", "name": "<repo>", "actions": ["pull",
//! "push", "delete"], "exp"?: <unix time>}]` (per-entry `exp` is zot's extension). As in zot
//! and distribution, `aud` and `iss` are not checked, and such a token is its own
//! authorization: accessControl does not apply to it.

use super::keys::VerifyingKey;
use jsonwebtoken::Validation;
use serde::Deserialize;
use std::time::{SystemTime, UNIX_EPOCH};

/// One entry of a token's `access` claim.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Grant {
    /// `repository` (zot checks the type too).
    #[serde(rename = "type")]
    pub kind: String,
    /// The repository (empty: the catalog).
    pub name: String,
    /// `pull`, `push`, `delete`.
    #[serde(default)]
    pub actions: Vec<String>,
    /// This entry's own expiry (zot's extension).
    #[serde(default)]
    pub exp: Option<u64>,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    access: Vec<Grant>,
    exp: u64,
}

/// A verified Docker token.
#[derive(Clone, Debug)]
pub struct DockerToken {
    /// Its subject (the user the token service authenticated), possibly empty.
    pub subject: String,
    /// What it grants.
    pub grants: Vec<Grant>,
    /// Its expiry, seconds since the Unix epoch.
    pub exp: u64,
}

impl DockerToken {
    /// Whether the token grants `action` (`pull`, `push`, `delete`) on `repository` (empty:
    /// the catalog).
    pub fn allows(&self, repository: &str, action: &str) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.grants.iter().any(|g| {
            g.kind == "repository"
                && g.name == repository
                && g.actions.iter().any(|a| a == action || a == "*")
                && g.exp.is_none_or(|exp| exp > now)
        })
    }
}

/// Verify a token with the configured key.
pub fn verify(key: &VerifyingKey, token: &str) -> Result<DockerToken, String> {
    let header = super::keys::header_of(token)?;
    if !key.verifies(header.alg) {
        return Err(format!("algorithm {:?} is not accepted", header.alg));
    }
    let mut validation = Validation::new(header.alg);
    validation.validate_aud = false;
    validation.leeway = super::workload::LEEWAY_SECS;
    validation.validate_nbf = true;
    let data = jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation)
        .map_err(|e| format!("token refused: {e}"))?;
    super::workload::check_iat(&data.claims)?;
    let claims: Claims =
        serde_json::from_value(data.claims).map_err(|e| format!("malformed access claims: {e}"))?;
    Ok(DockerToken {
        subject: claims.sub.unwrap_or_default(),
        grants: claims.access,
        exp: claims.exp,
    })
}
