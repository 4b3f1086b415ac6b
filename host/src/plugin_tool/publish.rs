//! `portcullis plugin push FILE REF` and `portcullis plugin pull REF`: a plugin as an OCI
//! artifact in any registry, with skopeo's flags for credentials and TLS.

use super::source::{PluginSource, RegistryOptions};
use super::workbench::{RuntimeOptions, Workbench};
use crate::plugins::oci::artifact::MAX_PLUGIN_BYTES;
use crate::plugins::oci::{self, PluginReference};
use crate::plugins::CONTRACT_PACKAGE;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `push`.
#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// The component: a path to a `.wasm` file.
    #[arg(value_parser = PluginSource::parse, value_name = "FILE")]
    file: PluginSource,
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
    let file = args.file.resolve(&args.registry)?;
    let path = &file.path;
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    anyhow::ensure!(
        size <= MAX_PLUGIN_BYTES as u64,
        "{} is {size} bytes, more than the {MAX_PLUGIN_BYTES} a plugin may be",
        path.display()
    );
    let bytes = file.read()?;
    let bench = Workbench::new(&RuntimeOptions::default())?;
    let (_, version) = bench.shape(&file)?.world().with_context(|| {
        format!(
            "{} is not a Portcullis plugin: it exports no interface of {CONTRACT_PACKAGE}",
            file.path.display()
        )
    })?;
    let contract = format!("{CONTRACT_PACKAGE}@{version}");
    let title = file
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("plugin.wasm");
    let access = args.registry.access(&args.reference, false);
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
    let pulled = oci::blocking(oci::pull(
        &args.reference,
        &args.registry.access(&args.reference, false),
    ))?;
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
