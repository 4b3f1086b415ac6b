//! `portcullis plugin inspect FILE`: what a component is — its world, contract version,
//! exports, imports, size and digest.

use super::source::{PluginSource, RegistryOptions};
use super::workbench::{RuntimeOptions, Workbench};
use crate::plugins::{ContractVersion, CONTRACT_PACKAGE};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The component: a path to a `.wasm` file, or `oci://host/repository@sha256:…` (or
    /// `:tag`), pulled first.
    #[arg(value_parser = PluginSource::parse, value_name = "FILE")]
    file: PluginSource,
    #[command(flatten)]
    registry: RegistryOptions,
    /// Print JSON: {file, world, contract, loadable, size, digest, exports, imports}.
    #[arg(long)]
    json: bool,
    /// Directory for compiled components (default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

/// What `inspect` reports.
#[derive(Serialize)]
struct Report {
    file: String,
    /// The world, none when the component exports no plugin interface.
    world: Option<&'static str>,
    /// E.g. `portcullis:plugin@0.2.0`.
    contract: Option<String>,
    /// Whether this registry implements that version of the contract.
    loadable: bool,
    size: usize,
    digest: String,
    exports: Vec<String>,
    imports: Vec<String>,
}

/// Run `inspect`.
pub fn run(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let file = args.file.resolve(&args.registry)?;
    let bytes = file.read()?;
    let bench = Workbench::new(&RuntimeOptions {
        cache_dir: args.cache_dir.clone(),
        ..RuntimeOptions::default()
    })?;
    let shape = bench.shape(&file)?;
    let world = shape.world();
    let report = Report {
        file: file.path.display().to_string(),
        world: world.as_ref().map(|(w, _)| w.name()),
        contract: world
            .as_ref()
            .map(|(_, v)| format!("{CONTRACT_PACKAGE}@{v}")),
        loadable: world.as_ref().is_some_and(|(w, v)| {
            ContractVersion::compatible_with(v).is_some_and(|v| w.versions().contains(&v))
        }),
        size: bytes.len(),
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
        exports: shape.exports,
        imports: shape.imports,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn text(r: &Report) -> String {
    let mut out = format!("file:      {}\n", r.file);
    out += &format!(
        "world:     {}\n",
        r.world.unwrap_or("none (not a Portcullis plugin)")
    );
    if let Some(contract) = &r.contract {
        let loadable = if r.loadable {
            "this registry loads it"
        } else {
            "this registry does NOT load it"
        };
        out += &format!("contract:  {contract} ({loadable})\n");
    }
    out += &format!("size:      {} bytes\n", r.size);
    out += &format!("digest:    {}\n", r.digest);
    for (title, names) in [("exports", &r.exports), ("imports", &r.imports)] {
        out += &format!("{title}:\n");
        for name in names {
            out += &format!("  {name}\n");
        }
    }
    out
}
