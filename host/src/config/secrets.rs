//! zot's secret side files, read so that secrets stay out of the main configuration: an OpenID
//! provider's `credentialsFile` (`{"clientid", "clientsecret"}`, both required) and
//! `sessionKeysFile` (`{"hashKey", "encryptKey"}`, either may be missing). Keys are
//! case-insensitive and unknown keys are refused, as zot does.

use serde::Deserialize;
use std::path::Path;

/// An OpenID client's credentials.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentials {
    /// The client id.
    pub clientid: String,
    /// The client secret.
    pub clientsecret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("clientid", &self.clientid)
            .finish_non_exhaustive()
    }
}

/// The keys of a `sessionKeysFile`.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionKeys {
    /// Key authenticating session identifiers.
    #[serde(default)]
    pub hashkey: Option<String>,
    /// Key encrypting session data (accepted for zot compatibility; sessions are kept on the
    /// server, so nothing is encrypted into cookies).
    #[serde(default)]
    pub encryptkey: Option<String>,
}

/// Read a secret side file as `T`, naming the file (never its content) in errors.
fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|_| format!("{}: not a JSON object", path.display()))?;
    let serde_json::Value::Object(map) = value else {
        return Err(format!("{}: not a JSON object", path.display()));
    };
    let lowered: serde_json::Map<String, serde_json::Value> = map
        .into_iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect();
    serde_json::from_value(serde_json::Value::Object(lowered))
        .map_err(|e| format!("{}: {}", path.display(), redact(&e.to_string())))
}

/// serde's messages quote unknown field names, never values; keep only the first line.
fn redact(message: &str) -> String {
    message.lines().next().unwrap_or_default().to_owned()
}

/// Read an OpenID provider's `credentialsFile`.
pub fn client_credentials(path: &Path) -> Result<ClientCredentials, String> {
    read(path)
}

/// Read a `sessionKeysFile`.
pub fn session_keys(path: &Path) -> Result<SessionKeys, String> {
    read(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_and_case_insensitive() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.json");
        std::fs::write(
            &file,
            r#"{"ClientID": "registry", "clientSecret": "s3cret"}"#,
        )
        .unwrap();
        let c = client_credentials(&file).unwrap();
        assert_eq!(c.clientid, "registry");
        assert!(!format!("{c:?}").contains("s3cret"));
        std::fs::write(&file, r#"{"clientid": "registry"}"#).unwrap();
        assert!(client_credentials(&file)
            .unwrap_err()
            .contains("clientsecret"));
        std::fs::write(
            &file,
            r#"{"clientid": "r", "clientsecret": "s3cret", "extra": 1}"#,
        )
        .unwrap();
        let e = client_credentials(&file).unwrap_err();
        assert!(e.contains("extra") && !e.contains("s3cret"), "{e}");
        std::fs::write(&file, r#"{"hashKey": "h"}"#).unwrap();
        assert_eq!(session_keys(&file).unwrap().hashkey.as_deref(), Some("h"));
    }
}
