//! The FILE argument of every `portcullis plugin` subcommand: which component to work on.

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
        if arg.starts_with("oci://") {
            return Err(format!(
                "{arg}: OCI references are not supported by this version; give the path of a \
                 .wasm component"
            ));
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
    fn oci_references_are_refused_with_a_reason() {
        let e = PluginFile::parse("oci://example.com/p@sha256:00").unwrap_err();
        assert!(e.contains("not supported"), "{e}");
    }
}
