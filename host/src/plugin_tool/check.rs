//! `portcullis plugin check FILE [--config JSON]`: load a component as the registry loads a
//! plugin — contract check, link, `configure` — and say whether the registry would accept it.

use super::input::value_arg;
use super::logs;
use super::source::{PluginSource, RegistryOptions};
use super::workbench::{RuntimeOptions, Workbench};
use crate::plugins::CONTRACT_PACKAGE;
use std::process::ExitCode;

/// Arguments of `check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The component: a path to a `.wasm` file, or `oci://host/repository@sha256:…` (or
    /// `:tag`), pulled first.
    #[arg(value_parser = PluginSource::parse, value_name = "FILE")]
    file: PluginSource,
    #[command(flatten)]
    registry: RegistryOptions,
    /// The plugin's configuration (what the registry's `plugins.<slot>.config` holds): JSON
    /// inline, or @FILE naming a JSON or YAML file.
    #[arg(long, value_name = "JSON|@FILE", default_value = "{}")]
    config: String,
    #[command(flatten)]
    options: RuntimeOptions,
}

/// The configuration argument as the text `configure` receives: the registry passes the
/// configuration's JSON value, serialized.
pub fn config_text(arg: &str) -> anyhow::Result<String> {
    Ok(value_arg("--config", arg)?.to_string())
}

/// Run `check`.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let file = args.file.resolve(&args.registry)?;
    let config = config_text(&args.config)?;
    let bench = Workbench::new(&args.options)?;
    let (world, version) = bench.shape(&file)?.require_world()?;
    let loaded = bench.load(&file, world, &config);
    for line in logs::take() {
        eprintln!("plugin {}: {line}", file.name);
    }
    let set = loaded?;
    println!(
        "{}: world {}, contract {CONTRACT_PACKAGE}@{version}: loaded and configured; the \
         registry accepts it",
        file.path.display(),
        world.name(),
    );
    if set.authorizer.is_some() {
        let a = set.anonymous;
        println!(
            "anonymous-access: repositories {}, metrics {}, authenticated-only {}",
            a.repositories, a.metrics, a.authenticated_only
        );
        match &set.decisions {
            Some(memory) => println!(
                "decision-reuse: each decision is reused for {} ms",
                memory.lifetime().as_millis()
            ),
            None => println!("decision-reuse: none (the registry asks about every access)"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
