//! The `portcullis` command line.

mod allocator;

use clap::{Parser, Subcommand};
use portcullis::config::{self, Config};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "An OCI registry with a programmable gate"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry. Without CONFIG: filesystem storage under ./data on 127.0.0.1:8080.
    Serve {
        /// zot-format configuration file (JSON or YAML).
        config: Option<PathBuf>,
    },
    /// Check a configuration file and exit (non-zero, naming the key, when it is invalid).
    Verify {
        /// zot-format configuration file (JSON or YAML).
        config: PathBuf,
    },
    /// The plugin author's offline tool: inspect, check, run and test a plugin component
    /// without a registry.
    Plugin {
        #[command(subcommand)]
        command: Box<portcullis::plugin_tool::PluginCommand>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Plugin { command } => portcullis::plugin_tool::main(*command),
        Command::Verify { config } => match config::load_and_validate(&config).and_then(|c| {
            portcullis::server::verify_plugins(&c)
                .map_err(|e| config::ConfigError(format!("{e:#}")))
        }) {
            Ok(()) => {
                println!("{}: configuration is valid", config.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Serve { config } => {
            let loaded = match &config {
                Some(path) => config::load_and_validate(path),
                None => Ok(Config::default()),
            };
            match loaded {
                Ok(loaded) => run(loaded, config),
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn run(config: Config, path: Option<PathBuf>) -> ExitCode {
    let _guards = match portcullis::logging::init(&config.log) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(portcullis::server::serve(
        config,
        path,
        allocator::start_up_over,
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "registry stopped");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
