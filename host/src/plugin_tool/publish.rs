//! `portcullis plugin push FILE REF` and `portcullis plugin pull REF`: a plugin as an OCI
//! artifact in any registry, with skopeo's flags for credentials and TLS.

use super::source::PluginFile;
use super::workbench::{RuntimeOptions, Workbench};
use crate::plugins::oci::artifact::MAX_PLUGIN_BYTES;
use crate::plugins::oci::{self, Access, PluginReference};
use crate::plugins::CONTRACT_PACKAGE;
use crate::sync::upstream::Credentials;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// How to reach the registry, as skopeo's flags say it.
#[derive(clap::Args, Debug)]
pub struct RegistryOptions {
    /// `USER:PASSWORD` for the registry (default: anonymous).
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_creds)]
    creds: Option<UserPassword>,
    /// Check the registry's TLS certificate; `--tls-verify=false` also allows plain HTTP (a
    /// local registry).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    tls_verify: bool,
}

/// A `--creds` value.
#[derive(Clone)]
struct UserPassword(String, String);

impl std::fmt::Debug for UserPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:***", self.0)
    }
}

fn parse_creds(s: &str) -> Result<UserPassword, String> {
    match s.split_once(':') {
        Some((user, password)) if !user.is_empty() => {
            Ok(UserPassword(user.to_owned(), password.to_owned()))
        }
        _ => Err("expected USER:PASSWORD".into()),
    }
}

impl RegistryOptions {
    fn access(&self) -> Access {
        Access {
            insecure: !self.tls_verify,
            credentials: self.creds.as_ref().map(|c| Credentials {
                username: c.0.clone(),
                password: c.1.clone(),
            }),
        }
    }
}

/// Arguments of `push`.
#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// The component: a path to a `.wasm` file.
    #[arg(value_parser = PluginFile::parse, value_name = "FILE")]
    file: PluginFile,
    /// Where to publish it: `[oci://]host[:port]/repository:tag`.
    #[arg(value_parser = PluginReference::parse, value_name = "REF")]
    reference: PluginReference,
    #[command(flatten)]
    registry: RegistryOptions,
}

/// Arguments of `pull`.
#[derive(clap::Args, Debug)]
pub struct PullArgs {
    /// What to fetch: `[oci://]host[:port]/repository:tag` or `…/repository@sha256:…`.
    #[arg(value_parser = PluginReference::parse, value_name = "REF")]
    reference: PluginReference,
    /// Where to write the component (default: the repository's last component `.wasm`).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryOptions,
}

/// Run `push`: check the component is a plugin, push it, print the reference by digest.
pub fn push(args: &PushArgs) -> anyhow::Result<ExitCode> {
    let path = &args.file.path;
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    anyhow::ensure!(
        size <= MAX_PLUGIN_BYTES as u64,
        "{} is {size} bytes, more than the {MAX_PLUGIN_BYTES} a plugin may be",
        path.display()
    );
    let bytes = args.file.read()?;
    let bench = Workbench::new(&RuntimeOptions::default())?;
    let (_, version) = bench.shape(&args.file)?.world().with_context(|| {
        format!(
            "{} is not a Portcullis plugin: it exports no interface of {CONTRACT_PACKAGE}",
            args.file.path.display()
        )
    })?;
    let contract = format!("{CONTRACT_PACKAGE}@{version}");
    let title = args
        .file
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("plugin.wasm");
    let access = args.registry.access();
    let digest = oci::blocking(oci::push(
        &args.reference,
        &access,
        bytes.into(),
        &contract,
        title,
    ))?;
    println!("{}", args.reference.pinned(digest));
    Ok(ExitCode::SUCCESS)
}

/// Run `pull`: fetch and verify the component, write it, print its reference by digest.
pub fn pull(args: &PullArgs) -> anyhow::Result<ExitCode> {
    let pulled = oci::blocking(oci::pull(&args.reference, &args.registry.access()))?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.wasm", args.reference.plugin_name())));
    std::fs::write(&output, &pulled.component)
        .with_context(|| format!("cannot write {}", output.display()))?;
    eprintln!(
        "wrote {} ({} bytes, contract {})",
        output.display(),
        pulled.component.len(),
        pulled.contract.as_deref().unwrap_or("not annotated")
    );
    println!("{}", args.reference.pinned(pulled.manifest_digest));
    Ok(ExitCode::SUCCESS)
}
