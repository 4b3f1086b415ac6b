//! `portcullis plugin`: the plugin author's offline tool. It loads a component exactly as the
//! registry does — the same compile cache, contract check, `configure` call and default limits,
//! through [`crate::plugins::PluginRuntime`] — and asks it for decisions without a running
//! registry: `inspect`, `check`, `run` and `test` (a table of cases, for an author's CI); and
//! `push` and `pull` publish it to and fetch it from an OCI registry.

mod check;
mod input;
mod inspect;
mod logs;
mod matching;
mod outcome;
mod publish;
mod request;
mod run;
mod source;
mod table;
mod workbench;
mod world;

pub use outcome::Outcome;
pub use request::Request;
pub use source::PluginFile;
pub use workbench::{RuntimeOptions, Workbench};
pub use world::{Function, World};

use std::process::ExitCode;

/// The subcommands of `portcullis plugin`.
#[derive(clap::Subcommand, Debug)]
pub enum PluginCommand {
    /// Show a component's world, contract version, exports, imports, size and digest.
    Inspect(inspect::InspectArgs),
    /// Load a component as the registry would: contract check, link, `configure` with the
    /// configuration; print the registry's message and exit non-zero when it would be refused.
    Check(check::CheckArgs),
    /// Ask a component for one decision and print it as JSON, with its timing and the lines the
    /// plugin logged.
    Run(run::RunArgs),
    /// Run a table of cases (YAML or JSON) against a component; print one line per case and a
    /// diff for each failure; exit non-zero when any case fails.
    Test(table::TestArgs),
    /// Publish a component as an OCI artifact to a registry; print its reference by digest
    /// (`oci://host/repository@sha256:…`, what a configuration names).
    Push(publish::PushArgs),
    /// Fetch a plugin published with `push`, verify its digests, and write the component.
    Pull(publish::PullArgs),
}

/// Run one `portcullis plugin` subcommand; errors are printed on stderr.
pub fn main(command: PluginCommand) -> ExitCode {
    logs::capture();
    let result = match command {
        PluginCommand::Inspect(args) => inspect::run(&args),
        PluginCommand::Check(args) => check::run(&args),
        PluginCommand::Run(args) => run::run(&args),
        PluginCommand::Test(args) => table::run(&args),
        PluginCommand::Push(args) => publish::push(&args),
        PluginCommand::Pull(args) => publish::pull(&args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}
