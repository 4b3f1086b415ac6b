//! The FILE argument of every `portcullis plugin` subcommand, which component to work on, and
//! the flags that reach the registry an `oci://` one is in.

use crate::plugins::oci::{self, Access, PluginReference};
use crate::sync::upstream::Credentials;
use anyhow::Context;
use std::path::PathBuf;

/// The FILE argument of a subcommand, as given: a path, or an OCI reference still to pull
/// (with the subcommand's [`RegistryOptions`]).
#[derive(Clone, Debug)]
pub enum PluginSource {
    /// A `.wasm` file.
    Path(PathBuf),
    /// `oci://host/repository@sha256:…`.
    Oci(PluginReference),
}

impl PluginSource {
    /// Interpret a FILE argument. Every subcommand goes through here, so other kinds of
    /// reference only need a case in this function and in [`PluginSource::resolve`].
    pub fn parse(arg: &str) -> Result<PluginSource, String> {
        if arg.starts_with(oci::SCHEME) {
            return PluginReference::parse(arg).map(PluginSource::Oci);
        }
        if arg.is_empty() {
            return Err("the path of a .wasm component is required".into());
        }
        Ok(PluginSource::Path(PathBuf::from(arg)))
    }

    /// The component as a local file: a path as it is, a reference pulled through `registry`
    /// (plain HTTP is also spoken to a loopback registry, as the registry itself allows for a
    /// configured plugin).
    pub fn resolve(&self, registry: &RegistryOptions) -> anyhow::Result<PluginFile> {
        match self {
            PluginSource::Path(path) => Ok(PluginFile {
                path: path.clone(),
                name: path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("plugin")
                    .to_owned(),
            }),
            PluginSource::Oci(reference) => pulled(reference, registry.access(reference, true)),
        }
    }
}

/// A component the tool works on, and the name the registry would give it.
#[derive(Clone, Debug)]
pub struct PluginFile {
    /// Where the component is.
    pub path: PathBuf,
    /// The plugin's name in messages and its key-value namespace: the file stem, as the
    /// registry names a plugin given by `path` without a `name`, or the reference's.
    pub name: String,
}

impl PluginFile {
    /// The component's bytes.
    pub fn read(&self) -> anyhow::Result<Vec<u8>> {
        std::fs::read(&self.path).with_context(|| format!("cannot read {}", self.path.display()))
    }
}

/// How to reach a registry, as skopeo's flags say it.
#[derive(clap::Args, Debug, Default)]
pub struct RegistryOptions {
    /// `USER:PASSWORD` for the registry (default: anonymous).
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_creds)]
    creds: Option<Credentials>,
    /// Check the registry's TLS certificate; `--tls-verify=false` also allows plain HTTP.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    tls_verify: bool,
}

/// A `--creds` value.
fn parse_creds(s: &str) -> Result<Credentials, String> {
    match s.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok(Credentials {
            username: user.to_owned(),
            password: password.to_owned(),
        }),
        _ => Err("expected USER:PASSWORD".into()),
    }
}

impl RegistryOptions {
    /// How to reach `reference`'s registry; with `loopback_plain`, a loopback registry may
    /// be plain HTTP without `--tls-verify=false`.
    pub fn access(&self, reference: &PluginReference, loopback_plain: bool) -> Access {
        let host = reference
            .host
            .rsplit_once(':')
            .map_or(&*reference.host, |(h, _)| h);
        let loopback = host == "localhost" || host.starts_with("127.");
        Access {
            insecure: !self.tls_verify || (loopback_plain && loopback),
            credentials: self.creds.clone(),
        }
    }
}

/// `reference` pulled into a directory under the system's temporary directory, by digest (as
/// the registry keeps pulled plugins).
fn pulled(reference: &PluginReference, access: Access) -> anyhow::Result<PluginFile> {
    let pulled = oci::blocking(oci::pull(reference, &access))?;
    let dir = std::env::temp_dir().join("portcullis-plugins");
    let path = oci::keep(
        &dir,
        &pulled.manifest_digest,
        &pulled.manifest,
        &pulled.component,
    )?;
    Ok(PluginFile {
        path,
        name: reference.plugin_name().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::{PluginSource, RegistryOptions};

    #[test]
    fn a_path_is_named_by_its_stem() {
        let source = PluginSource::parse("target/x/immutable_tags.wasm").unwrap();
        let f = source.resolve(&RegistryOptions::default()).unwrap();
        assert_eq!(f.name, "immutable_tags");
        assert_eq!(f.path.to_str(), Some("target/x/immutable_tags.wasm"));
    }

    #[test]
    fn invalid_oci_references_are_refused_with_a_reason() {
        let e = PluginSource::parse("oci://example.com/p@sha256:00").unwrap_err();
        assert!(e.contains("invalid plugin reference"), "{e}");
    }
}
