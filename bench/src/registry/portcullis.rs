//! Portcullis's configuration (zot's JSON format).

use super::{LaunchSpec, Variant};
use std::path::{Path, PathBuf};

/// Write `config.json` for `spec` into its directory; returns its path.
pub fn write_config(spec: &LaunchSpec<'_>, root: &Path, port: u16) -> anyhow::Result<PathBuf> {
    let mut http = serde_json::json!({"address": "127.0.0.1", "port": port.to_string()});
    if spec.variant == Variant::Htpasswd {
        http["realm"] = "portcullis-bench".into();
        http["auth"] = serde_json::json!({"htpasswd": {"path": spec.htpasswd}});
        http["accessControl"] = serde_json::json!({"repositories": {"**": {
            "anonymousPolicy": ["read"],
            "defaultPolicy": ["read", "create", "update", "delete"],
        }}});
    }
    let mut config = serde_json::json!({
        "distSpecVersion": "1.1.1",
        "storage": {"rootDirectory": root, "gc": false},
        "http": http,
        "log": {"level": "warn"},
    });
    if let Some(cache) = spec.plugin_cache {
        config["plugins"] = serde_json::json!({"cacheDirectory": cache});
    }
    if let Some(extra) = spec.extra {
        merge(&mut config, extra.clone());
    }
    let path = spec.dir.join("config.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
    Ok(path)
}

/// Merge `extra` into `base`: objects key by key, anything else replaced.
fn merge(base: &mut serde_json::Value, extra: serde_json::Value) {
    match (base, extra) {
        (serde_json::Value::Object(b), serde_json::Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}
