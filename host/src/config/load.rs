//! Reading a configuration file: JSON or YAML, keys case-insensitive, unknown keys rejected.

use super::model::Config;
use serde_json::{Map, Value};
use std::path::Path;

/// Why a configuration could not be loaded; the message names the file and the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Read and parse `path`. The format follows the extension (`.json`, `.yaml`, `.yml`); a file
/// with another extension is tried as JSON, then YAML.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    from_text(&text, ext.as_deref())
        .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
}

/// Parse configuration text: `extension` `json`, `yaml` or `yml` picks the format; any other
/// (or none) tries JSON, then YAML.
pub fn from_text(text: &str, extension: Option<&str>) -> Result<Config, ConfigError> {
    from_value(parse_document(text, extension).map_err(ConfigError)?)
}

/// Parse a JSON or YAML document: `extension` `json`, `yaml` or `yml` picks the format; any
/// other (or none) tries JSON, then YAML. The error says which format failed and why.
pub fn parse_document(text: &str, extension: Option<&str>) -> Result<Value, String> {
    match extension {
        Some("json") => parse_json(text),
        Some("yaml" | "yml") => parse_yaml(text),
        _ => parse_json(text).or_else(|_| parse_yaml(text)),
    }
}

fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))
}

fn parse_yaml(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str(text).map_err(|e| format!("invalid YAML: {e}"))
}

/// Build a [`Config`] from an already parsed document.
pub fn from_value(value: Value) -> Result<Config, ConfigError> {
    match &value {
        Value::Object(map) if map.is_empty() => {
            return Err(ConfigError("configuration is empty".into()))
        }
        Value::Object(_) => {}
        Value::Null => return Err(ConfigError("configuration is empty".into())),
        _ => return Err(ConfigError("configuration must be a mapping".into())),
    }
    let value = lowercase_keys(value, "")?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ConfigError(inner.to_string())
        } else {
            ConfigError(format!("key `{path}`: {inner}"))
        }
    })
}

/// Lowercase every mapping key, as zot's loader does, refusing keys that collide once lowercased.
/// A plugin's own `config` is the plugin's business and keeps its keys as written.
fn lowercase_keys(value: Value, at: &str) -> Result<Value, ConfigError> {
    if at.starts_with("plugins.") && at.ends_with(".config") {
        return Ok(value);
    }
    Ok(match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, v) in map {
                let lower = key.to_lowercase();
                let here = if at.is_empty() {
                    lower.clone()
                } else {
                    format!("{at}.{lower}")
                };
                let v = lowercase_keys(v, &here)?;
                if out.insert(lower, v).is_some() {
                    return Err(ConfigError(format!(
                        "key `{here}` appears twice (keys are case-insensitive)"
                    )));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| lowercase_keys(v, &format!("{at}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn case_insensitive_and_strict() {
        let c = from_value(json!({"Storage": {"RootDirectory": "/x", "GCDelay": "2h"},
            "HTTP": {"Port": "5000"}}))
        .unwrap();
        assert_eq!(c.storage.rootdirectory, std::path::PathBuf::from("/x"));
        assert_eq!(c.storage.gcdelay.as_secs(), 7200);
        assert_eq!(c.http.port, 5000);
        let e = from_value(json!({"storage": {"rootDirectory": "/x", "bogus": 1}})).unwrap_err();
        assert!(
            e.0.contains("storage.bogus") || e.0.contains("`bogus`"),
            "{}",
            e.0
        );
        let e = from_value(json!({"http": {"port": "x"}})).unwrap_err();
        assert!(e.0.contains("http.port"), "{}", e.0);
        let e = from_value(json!({"http": {"Port": 1, "port": 2}})).unwrap_err();
        assert!(e.0.contains("twice"), "{}", e.0);
        assert!(from_value(json!({})).is_err());
    }
}
