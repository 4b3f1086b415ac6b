//! Logging: human-readable lines on stdout, or JSON lines in `log.output`; audit records as
//! JSON lines in `log.audit`; access decisions as JSON lines in `log.decisions`, rotated by
//! size. Every file is written by a background thread through a bounded, lossy queue, so a
//! slow disk never holds a request.

mod rotating;

use crate::config::model::LogConfig;
use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::prelude::*;
use tracing_subscriber::Layer;

/// The tracing target of access decisions (see [`crate::gate`]).
pub const DECISIONS: &str = "decision";

/// Keeps the background log writers alive; drop it at exit to flush.
pub struct LogGuards(#[allow(dead_code)] Vec<WorkerGuard>);

/// Install the global subscriber. `RUST_LOG` overrides `log.level`.
pub fn init(config: &LogConfig) -> anyhow::Result<LogGuards> {
    let level = match config.level.to_ascii_lowercase().as_str() {
        "panic" => "error".to_owned(),
        other => other.to_owned(),
    };
    // Audit records go to their own layer only. Every filter here knows its most verbose level,
    // so the subscriber's level hint is exact: the `log` records of dependencies below it
    // (cranelift writes many while it compiles a plugin) are dropped where they are made
    // instead of each going through the filters, which made compiling a large plugin several
    // times slower.
    let filter = || {
        EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new(&level))
            .add_directive("audit=off".parse().expect("a valid directive"))
            .add_directive(
                format!("{DECISIONS}=off")
                    .parse()
                    .expect("a valid directive"),
            )
    };
    let mut guards = Vec::new();
    let main: Box<dyn Layer<_> + Send + Sync> = match &config.output {
        Some(path) => {
            let (writer, guard) = tracing_appender::non_blocking(open_append(path)?);
            guards.push(guard);
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(writer)
                .with_filter(filter())
                .boxed()
        }
        None => tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_filter(filter())
            .boxed(),
    };
    let audit = match &config.audit {
        Some(path) => {
            let (writer, guard) = tracing_appender::non_blocking(open_append(path)?);
            guards.push(guard);
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(writer)
                    .with_filter(Targets::new().with_target("audit", LevelFilter::INFO)),
            )
        }
        None => None,
    };
    let decisions = match &config.decisions {
        Some(log) => {
            let max_bytes = (log.maxsizemb * 1e6).max(1.0) as u64;
            let file = rotating::RotatingFile::open(&log.path, max_bytes, log.keep)?;
            let (writer, guard) = tracing_appender::non_blocking(file);
            guards.push(guard);
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_target(false)
                    .with_level(false)
                    .with_writer(writer)
                    .with_filter(Targets::new().with_target(DECISIONS, LevelFilter::INFO)),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(main)
        .with(audit)
        .with(decisions)
        .try_init()?;
    Ok(LogGuards(guards))
}

fn open_append(path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open log file {}: {e}", path.display()))
}
