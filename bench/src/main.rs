//! `portcullis-bench`: Portcullis and CNCF distribution on 127.0.0.1, the same workloads
//! against both, interleaved and repeated, reported as medians, Portcullis/distribution ratios
//! and fractions of the machine's ceilings measured in the same run. `scripts/bench` builds
//! and runs it; `--smoke` runs every code path with tiny sizes in seconds.

mod affinity;
mod bench;
mod blobdata;
mod ceilings;
mod client;
mod decision;
mod figure;
mod load;
mod oci;
mod params;
mod payload;
mod process;
mod procfs;
mod registry;
mod report;
mod signing;
mod stats;
mod workloads;

use anyhow::Context as _;
use bench::Bench;
use clap::{Parser, Subcommand};
use params::Params;
use registry::{Binaries, Variant};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use workloads::Workload;

/// Benchmark Portcullis beside CNCF distribution on loopback.
#[derive(Parser)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Helper>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Tiny sizes, one repetition, short durations: proves every code path in seconds.
    #[arg(long)]
    smoke: bool,
    /// Repetitions of each measurement (full mode).
    #[arg(long, default_value_t = 5)]
    repetitions: usize,
    /// The portcullis binary (default: beside this program).
    #[arg(long)]
    portcullis: Option<PathBuf>,
    /// CNCF distribution's registry binary.
    #[arg(long, default_value = "/usr/bin/docker-registry")]
    distribution: PathBuf,
    /// Scratch directory for registry roots and ceiling files (on the filesystem to measure).
    #[arg(long, default_value = "target/bench/work")]
    work_dir: PathBuf,
    /// Where to write the results as JSON (a Markdown table is written beside it).
    #[arg(long, default_value = "target/bench/results.json")]
    out: PathBuf,
    /// Output of `cargo bench -p portcullis --bench decision`, to include its timings.
    #[arg(long)]
    decision: Option<PathBuf>,
    /// Run only these parts (comma-separated): `ceilings` (the overview), `startup`,
    /// `credentials` (manifest GET with every kind of credential), `scale` (costs at many tags
    /// and repositories), `pull-through` (a first pull through the sync extension), and the
    /// workloads push-monolithic, push-chunked, pull, manifest-get, blob-head,
    /// small-sequential, small-concurrent, manifest-put. Default: everything.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Run only these variants (comma-separated): anonymous, htpasswd. Default: both.
    #[arg(long, value_delimiter = ',')]
    variants: Vec<String>,
}

/// What `--only` and `--variants` selected.
struct Selection {
    overview: bool,
    startup: bool,
    credentials: bool,
    scale: bool,
    pull_through: bool,
    workloads: Vec<Workload>,
    variants: Vec<Variant>,
}

impl Selection {
    fn parse(only: &[String], variants: &[String]) -> anyhow::Result<Selection> {
        for part in only {
            anyhow::ensure!(
                [
                    "ceilings",
                    "startup",
                    "credentials",
                    "scale",
                    "pull-through"
                ]
                .contains(&part.as_str())
                    || Workload::ALL.iter().any(|w| w.id() == part),
                "--only: unknown part {part:?}"
            );
        }
        let wanted = |id: &str| only.is_empty() || only.iter().any(|o| o == id);
        let variants: Vec<Variant> = [Variant::Anonymous, Variant::Htpasswd]
            .into_iter()
            .filter(|v| variants.is_empty() || variants.iter().any(|n| n == v.name()))
            .collect();
        anyhow::ensure!(
            !variants.is_empty(),
            "--variants: none of anonymous, htpasswd"
        );
        Ok(Selection {
            overview: wanted("ceilings"),
            startup: wanted("startup"),
            credentials: wanted("credentials"),
            scale: wanted("scale"),
            pull_through: wanted("pull-through"),
            workloads: Workload::ALL
                .into_iter()
                .filter(|w| wanted(w.id()))
                .collect(),
            variants,
        })
    }
}

/// Servers the benchmark starts as processes of their own.
#[derive(Subcommand)]
enum Helper {
    /// The loopback HTTP ceiling server.
    #[command(hide = true)]
    CeilingServer {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        big: usize,
        #[arg(long)]
        small: usize,
    },
    /// The sendfile pull ceiling server.
    #[command(hide = true)]
    SendfileServer {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Helper::CeilingServer { port, big, small }) => {
            runtime().block_on(ceilings::http_server::serve(port, big, small))
        }
        Some(Helper::SendfileServer { port, file }) => ceilings::sendfile::serve(port, &file),
        None => runtime().block_on(run(cli.run)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the tokio runtime")
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let selection = Selection::parse(&args.only, &args.variants)?;
    let params = if args.smoke {
        Params::smoke()
    } else {
        Params::full(args.repetitions.max(1))
    };
    let exe = std::env::current_exe()?;
    let portcullis = match args.portcullis {
        Some(path) => path,
        None => exe.with_file_name("portcullis"),
    };
    for program in [&portcullis, &args.distribution] {
        anyhow::ensure!(
            program.exists(),
            "{} is missing (scripts/bench builds portcullis and installs docker-registry)",
            program.display()
        );
    }
    let distribution_version = version_of(&args.distribution)?;
    let dir = args.work_dir.join(format!("run-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let htpasswd = dir.join("users.htpasswd");
    registry::write_htpasswd(&htpasswd)?;
    eprintln!(
        "[bench] {} mode, {} repetition(s); portcullis {}, {distribution_version}; scratch {}",
        params.mode,
        params.repetitions,
        portcullis.display(),
        dir.display()
    );
    let machine = report::Machine::describe(&portcullis, distribution_version);
    let bins = Binaries {
        portcullis,
        distribution: args.distribution,
    };
    let bench = Bench::new(params, dir.clone(), bins, exe, htpasswd);
    let servers =
        ceilings::CeilingServers::start(&bench, workloads::fixture::manifest_size()).await?;
    let ceilings = if selection.overview {
        ceilings::measure(&bench, &servers).await?
    } else {
        ceilings::Ceilings::default()
    };
    // Portcullis starts as it would every time but its first: with its plugins compiled.
    workloads::startup::warm_plugin_cache(
        &bench.dir.join("warm-up"),
        &bench.plugin_cache,
        &bench.htpasswd,
        &bench.bins,
    )
    .await?;
    let mut variants = Vec::new();
    if !selection.workloads.is_empty() {
        for &variant in &selection.variants {
            let result =
                workloads::run_variant(&bench, variant, &selection.workloads, &servers).await?;
            variants.push(result);
        }
    }
    servers.stop()?;
    let credentials = if selection.credentials {
        workloads::credentials::measure(&bench).await?
    } else {
        workloads::credentials::Credentials::default()
    };
    let scale = if selection.scale {
        workloads::scale::measure(&bench).await?
    } else {
        workloads::scale::Scale::default()
    };
    let pull_through = if selection.pull_through {
        workloads::pull_through::measure(&bench).await?
    } else {
        workloads::pull_through::PullThrough::default()
    };
    let startup = if selection.startup {
        workloads::startup::measure(&bench).await?
    } else {
        workloads::startup::Startup::default()
    };
    let decision = decision::read(args.decision.as_deref());
    let results = report::build(
        machine,
        bench.params.clone(),
        report::Measurements {
            ceilings,
            variants,
            startup,
            credentials,
            scale,
            pull_through,
            decision,
        },
    );
    report::print(&results);
    report::write_json(&results, &args.out)?;
    let markdown = args.out.with_extension("md");
    std::fs::write(&markdown, report::render(&results, true))?;
    std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    eprintln!(
        "[bench] done in {:.0} s; wrote {} and {}",
        started.elapsed().as_secs_f64(),
        args.out.display(),
        markdown.display()
    );
    Ok(())
}

/// The first line `PROGRAM --version` prints.
fn version_of(program: &Path) -> anyhow::Result<String> {
    let output = std::process::Command::new(program)
        .arg("--version")
        .output()
        .with_context(|| format!("run {} --version", program.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text
        .lines()
        .next()
        .unwrap_or("unknown version")
        .trim()
        .to_owned())
}
