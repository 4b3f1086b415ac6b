//! `portcullis plugin run FILE --config JSON --request JSON`: one decision, printed as JSON
//! with its timing and what the plugin logged (like `kwctl run`).

use super::check::config_text;
use super::input::value_arg;
use super::logs::{self, LogLine};
use super::outcome::{decide, Outcome};
use super::request::Request;
use super::source::{PluginSource, RegistryOptions};
use super::workbench::{RuntimeOptions, Workbench};
use super::world::Function;
use serde::Serialize;
use std::process::ExitCode;

/// The shapes of `--request`, shown by `portcullis plugin run --help`.
const REQUEST_HELP: &str = "\
The request mirrors the WIT records of wit/plugin.wit, field names in kebab-case:

  authorize (access-request; only resource and action are required, no identity = anonymous):
    {\"identity\": {\"username\": \"alice\", \"groups\": [\"dev\"], \"source\": \"htpasswd\",
                  \"scopes\": [{\"repositories\": \"ci/**\", \"actions\": [\"read\"]}],
                  \"expires-at-ms\": 1900000000000},
     \"resource\": {\"repository\": \"team/app\"},        (or \"metrics\")
     \"action\": \"update\",   (read, create, update, delete, detect-manifest-collision)
     \"reference\": \"v1.0\",
     \"context\": {\"method\": \"PUT\", \"user-agent\": \"docker/27\", \"client-ip\": \"10.0.0.1\",
                 \"forwarded-for\": [], \"tls-version\": \"TLSv1.3\", \"time-ms\": 0},
     \"claims\": {\"sub\": \"repo:org/app\"}}
  authenticate (basic-credentials):
    {\"username\": \"alice\", \"password\": \"secret\"}
  map-claims:
    {\"issuer\": \"https://token.example\", \"claims\": {\"sub\": \"repo:org/app\"}}
  create-key, list-keys, revoke-key (api-keys-plugin; --function is then required):
    {\"owner\": {\"username\": \"alice\"}, \"request\": {\"label\": \"ci\", \"scopes\": [\"ci/**:read\"],
                                           \"expires-at-ms\": null, \"creator-ua\": \"curl\"}}
    {\"owner\": \"alice\"}
    {\"owner\": \"alice\", \"id\": \"…\"}

Defaults: identity groups [], source \"test\"; context a plain-HTTP GET from 127.0.0.1, now.

The answer: {\"plugin\", \"world\", \"function\", \"decision\" (allow, deny, authenticated,
not-mine, rejected, created, invalid, not-created, keys, revoked, not-found, or failed when
the plugin gave no answer), \"reason\", \"identity\", \"key\", \"secret\", \"keys\", \"failure\"
(trap, deadline, memory…), \"micros\", \"logs\": [{\"level\", \"message\"}]}.
The exit status is non-zero when the plugin failed (the registry would deny the request).";

/// Arguments of `run`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = REQUEST_HELP)]
pub struct RunArgs {
    /// The component: a path to a `.wasm` file, or `oci://host/repository@sha256:…` (or
    /// `:tag`), pulled first.
    #[arg(value_parser = PluginSource::parse, value_name = "FILE")]
    file: PluginSource,
    #[command(flatten)]
    registry: RegistryOptions,
    /// The plugin's configuration: JSON inline, or @FILE naming a JSON or YAML file.
    #[arg(long, value_name = "JSON|@FILE", default_value = "{}")]
    config: String,
    /// The request: JSON inline, or @FILE naming a JSON or YAML file (shapes: see --help).
    #[arg(long, value_name = "JSON|@FILE")]
    request: String,
    /// The function to call (default: the only one of the component's world; required for an
    /// API-key plugin).
    #[arg(long, value_enum)]
    function: Option<Function>,
    #[command(flatten)]
    options: RuntimeOptions,
}

/// What `run` prints.
#[derive(Serialize)]
struct Report<'a> {
    plugin: &'a str,
    world: &'static str,
    function: &'static str,
    #[serde(flatten)]
    outcome: &'a Outcome,
    micros: u128,
    logs: Vec<LogLine>,
}

/// Run `run`.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let file = args.file.resolve(&args.registry)?;
    let config = config_text(&args.config)?;
    let request = value_arg("--request", &args.request)?;
    let bench = Workbench::new(&args.options)?;
    let (world, _) = bench.shape(&file)?.require_world()?;
    let function = world.function(args.function)?;
    let request = Request::parse(function, request)?;
    // The lines of `configure` are reported too: they are often what an author looks for.
    let set = bench.load(&file, world, &config)?;
    let (outcome, elapsed) = bench.block_on(decide(&set, &request))?;
    let report = Report {
        plugin: &file.name,
        world: world.name(),
        function: function.name(),
        outcome: &outcome,
        micros: elapsed.as_micros(),
        logs: logs::take(),
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    if let (true, Some(reason)) = (outcome.failed(), &outcome.reason) {
        eprintln!("error: {reason}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
