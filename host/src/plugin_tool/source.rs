//! The FILE argument of every `portcullis plugin` subcommand: which component to work on.

use crate::plugins::oci::{self, Access, PluginReference};
use anyhow::Context;
use std::path::PathBuf;

/// A component the tool works on, and the name the registry would give it.
#[derive(Clone, Debug)]
pub struct PluginFile {
    /// Where the component is.
    pub path: PathBuf,
    /// The plugin's name in messages and its key-value namespace: the file stem, as the
    /// registry names a plugin given by `path` without a `name`.
    pub name: String,
}

impl PluginFile {
    /// Interpret a FILE argument. Every subcommand goes through here, so other kinds of
    /// reference (an OCI artifact, fetched into the cache) only need a case in this function.
    pub fn parse(arg: &str) -> Result<PluginFile, String> {
        if arg.starts_with(oci::SCHEME) {
            return pulled(arg).map_err(|e| format!("{e:#}"));
        }
        if arg.is_empty() {
            return Err("the path of a .wasm component is required".into());
        }
        let path = PathBuf::from(arg);
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("plugin")
            .to_owned();
        Ok(PluginFile { path, name })
    }

    /// The component's bytes.
    pub fn read(&self) -> anyhow::Result<Vec<u8>> {
        std::fs::read(&self.path).with_context(|| format!("cannot read {}", self.path.display()))
    }
}

/// An `oci://` reference, pulled (anonymously; plain HTTP is tried after HTTPS only for a
/// loopback registry) into a directory under the system's temporary directory, by digest.
fn pulled(arg: &str) -> anyhow::Result<PluginFile> {
    let reference = PluginReference::parse(arg).map_err(|e| anyhow::anyhow!(e))?;
    let host = reference
        .host
        .rsplit_once(':')
        .map_or(&*reference.host, |(h, _)| h);
    let access = Access {
        insecure: host == "localhost" || host.starts_with("127."),
        credentials: None,
    };
    let pulled = oci::blocking(oci::pull(&reference, &access))?;
    let dir = std::env::temp_dir().join("portcullis-plugins");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let digest = &pulled.manifest_digest;
    let path = dir.join(format!(
        "{}-{}.wasm",
        digest.algorithm().name(),
        digest.hex()
    ));
    crate::fsutil::write_atomic(&path, &pulled.component)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(PluginFile {
        path,
        name: reference.plugin_name().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::PluginFile;

    #[test]
    fn a_path_is_named_by_its_stem() {
        let f = PluginFile::parse("target/x/immutable_tags.wasm").unwrap();
        assert_eq!(f.name, "immutable_tags");
        assert_eq!(f.path.to_str(), Some("target/x/immutable_tags.wasm"));
    }

    #[test]
    fn invalid_oci_references_are_refused_with_a_reason() {
        let e = PluginFile::parse("oci://example.com/p@sha256:00").unwrap_err();
        assert!(e.contains("invalid plugin reference"), "{e}");
    }
}
