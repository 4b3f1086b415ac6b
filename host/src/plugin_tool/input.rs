//! JSON documents the tool reads: given inline on the command line, or as `@FILE`, or as a
//! file, in JSON or YAML (the format follows the extension, as for the registry's
//! configuration).

use anyhow::Context;
use serde_json::Value;
use std::path::Path;

/// A command-line argument holding JSON inline, or `@PATH` naming a JSON or YAML file; `what`
/// names the argument in errors (e.g. `--request`).
pub fn value_arg(what: &str, arg: &str) -> anyhow::Result<Value> {
    match arg.strip_prefix('@') {
        Some(path) => document(Path::new(path)).with_context(|| format!("{what} {arg}")),
        None => serde_json::from_str(arg).with_context(|| format!("{what} is not valid JSON")),
    }
}

/// A JSON or YAML file: `.json`, `.yaml` and `.yml` pick the format, anything else is tried
/// as JSON, then YAML.
pub fn document(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    crate::config::parse_document(&text, ext.as_deref())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Deserialize `value` into `T`; an error names the offending field's path (e.g.
/// `identity.groups[0]`), prefixed with `what`.
pub fn typed<T: serde::de::DeserializeOwned>(what: &str, value: Value) -> anyhow::Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_json_and_its_errors() {
        assert_eq!(value_arg("--config", r#"{"a":1}"#).unwrap()["a"], 1);
        let e = value_arg("--config", "{a").unwrap_err();
        assert!(
            format!("{e:#}").contains("--config is not valid JSON"),
            "{e:#}"
        );
    }

    #[test]
    fn typed_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            groups: Vec<String>,
        }
        let e = typed::<T>("request", serde_json::json!({"groups": [1]})).unwrap_err();
        assert!(e.to_string().starts_with("request: groups[0]: "), "{e}");
    }
}
