//! CNCF distribution's configuration (YAML), as close to Debian's default as a benchmark
//! allows: filesystem storage, in-memory blob descriptor cache, deletes enabled; no access
//! log, no upload purging, no storage health check.

use super::{LaunchSpec, Variant};
use std::path::{Path, PathBuf};

/// Write `config.yml` for `spec` into its directory; returns its path.
pub fn write_config(spec: &LaunchSpec<'_>, root: &Path, port: u16) -> anyhow::Result<PathBuf> {
    // JSON strings are valid YAML scalars, which quotes any odd path safely.
    let quote = |p: &Path| serde_json::to_string(&p.to_string_lossy()).expect("a string");
    let mut config = format!(
        "version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: portcullis-bench-secret
",
        root = quote(root),
    );
    if spec.variant == Variant::Htpasswd {
        config.push_str(&format!(
            "auth:
  htpasswd:
    realm: portcullis-bench
    path: {}
",
            quote(spec.htpasswd)
        ));
    }
    let path = spec.dir.join("config.yml");
    std::fs::write(&path, config)?;
    Ok(path)
}
