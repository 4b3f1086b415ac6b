//! Turning the measurements into results: rows of Portcullis beside distribution with their
//! ratio and Portcullis's fraction of the machine's ceiling, the targets, the JSON
//! file and the printed tables.

mod table;
pub mod targets;

pub use table::{print, render};

use crate::ceilings::Ceilings;
use crate::decision::Decision;
use crate::params::Params;
use crate::stats::ratio;
use crate::workloads::credentials::Credentials;
use crate::workloads::pull_through::PullThrough;
use crate::workloads::scale::Scale;
use crate::workloads::startup::Startup;
use crate::workloads::{VariantResult, Workload, WorkloadResult, NO_CREDENTIALS};
use serde::Serialize;
use std::path::Path;

/// Whether a larger value is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Rates.
    Higher,
    /// Latencies, CPU, memory, times.
    Lower,
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `anonymous`, `htpasswd` or `portcullis only`.
    pub section: String,
    /// What was measured.
    pub figure: String,
    /// Its unit.
    pub unit: String,
    /// Which direction is better.
    pub better: Better,
    /// Portcullis's median.
    pub portcullis: f64,
    /// Distribution's median, where compared.
    pub distribution: Option<f64>,
    /// portcullis / distribution.
    pub ratio: Option<f64>,
    /// The ceiling's median (measured beside the workload), where there is one.
    pub ceiling: Option<f64>,
    /// Which ceiling.
    pub ceiling_name: Option<&'static str>,
    /// Portcullis's fraction of the ceiling (for lower-is-better figures, ceiling / portcullis,
    /// so that 1 is the ceiling either way).
    pub fraction: Option<f64>,
}

/// Everything one run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// When, seconds since the Unix epoch.
    pub finished_unix: u64,
    /// The machine.
    pub machine: Machine,
    /// Sizes and durations.
    pub params: Params,
    /// What every part measured.
    #[serde(flatten)]
    pub measured: Measurements,
    /// The table.
    pub rows: Vec<Row>,
    /// The targets.
    pub targets: Vec<targets::TargetCheck>,
}

/// What the run ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Online CPUs.
    pub cpus: usize,
    /// `/proc/cpuinfo` model name.
    pub cpu_model: String,
    /// Kernel release.
    pub kernel: String,
    /// Registry programs used.
    pub portcullis: String,
    /// Distribution's version line.
    pub distribution: String,
}

impl Machine {
    /// Read the machine's description; `distribution` is the version line of its program.
    pub fn describe(portcullis: &Path, distribution: String) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_default();
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            portcullis: portcullis.display().to_string(),
            distribution,
        }
    }
}

/// What the parts of a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Measurements {
    /// The machine's ceilings.
    pub ceilings: Ceilings,
    /// Both variants' workloads.
    pub variants: Vec<VariantResult>,
    /// Start-up times.
    pub startup: Startup,
    /// Manifest GET with every kind of credential.
    pub credentials: Credentials,
    /// Costs at many tags and repositories.
    pub scale: Scale,
    /// A first pull through the pull-through cache.
    pub pull_through: PullThrough,
    /// The per-decision WebAssembly cost.
    pub decision: Decision,
}

/// Assemble the results.
pub fn build(machine: Machine, params: Params, measured: Measurements) -> Results {
    let m = &measured;
    let mut rows = Vec::new();
    for variant in &m.variants {
        variant_rows(variant, &mut rows);
    }
    portcullis_rows(&m.variants, &m.startup, &m.decision, &mut rows);
    credential_rows(&m.credentials, &mut rows);
    scale_rows(&m.scale, &mut rows);
    pull_through_rows(&m.pull_through, &mut rows);
    let targets = targets::check(
        &m.variants,
        &m.credentials,
        &m.scale,
        &m.pull_through,
        &rows,
    );
    Results {
        finished_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        machine,
        params,
        measured,
        rows,
        targets,
    }
}

struct RowSpec<'a> {
    section: &'a str,
    figure: String,
    unit: &'a str,
    better: Better,
    portcullis: f64,
    distribution: Option<f64>,
    ceiling: Option<(&'static str, f64)>,
}

fn row(spec: RowSpec<'_>) -> Row {
    let fraction = spec.ceiling.map(|(_, c)| match spec.better {
        Better::Higher => ratio(spec.portcullis, c),
        Better::Lower => ratio(c, spec.portcullis),
    });
    Row {
        section: spec.section.to_owned(),
        figure: spec.figure,
        unit: spec.unit.to_owned(),
        better: spec.better,
        portcullis: spec.portcullis,
        distribution: spec.distribution,
        ratio: spec.distribution.map(|d| ratio(spec.portcullis, d)),
        ceiling: spec.ceiling.map(|(_, c)| c),
        ceiling_name: spec.ceiling.map(|(name, _)| name),
        fraction,
    }
}

/// A row of Portcullis alone: nothing to compare it with, no ceiling.
fn solo(section: &str, figure: String, unit: &str, better: Better, value: f64) -> Row {
    row(RowSpec {
        section,
        figure,
        unit,
        better,
        portcullis: value,
        distribution: None,
        ceiling: None,
    })
}

fn medians(w: &WorkloadResult, subject: &str) -> Option<(f64, Option<f64>, f64)> {
    w.series(subject).map(|s| {
        (
            s.value.median,
            s.p99_ms.as_ref().map(|f| f.median),
            s.cpu.median,
        )
    })
}

fn variant_rows(variant: &VariantResult, rows: &mut Vec<Row>) {
    let section = variant.variant.name();
    for w in &variant.workloads {
        let Some((p_value, p_p99, p_cpu)) = medians(w, "portcullis") else {
            continue;
        };
        let d = medians(w, "distribution");
        rows.push(row(RowSpec {
            section,
            figure: w.title.clone(),
            unit: w.unit,
            better: Better::Higher,
            portcullis: p_value,
            distribution: d.map(|d| d.0),
            ceiling: Some((w.ceiling.name, w.ceiling.value.median)),
        }));
        if let (Some(p99), Some(c)) = (p_p99, &w.ceiling.p99_ms) {
            rows.push(row(RowSpec {
                section,
                figure: format!("{} p99", w.title),
                unit: "ms",
                better: Better::Lower,
                portcullis: p99,
                distribution: d.and_then(|d| d.1),
                ceiling: Some((w.ceiling.name, c.median)),
            }));
        }
        if let Some((value, p99, _)) = medians(w, NO_CREDENTIALS) {
            for (suffix, unit, better, v) in [
                ("", w.unit, Better::Higher, value),
                (" p99", "ms", Better::Lower, p99.unwrap_or(f64::NAN)),
            ] {
                rows.push(solo(
                    section,
                    format!("{} without credentials{suffix}", w.title),
                    unit,
                    better,
                    v,
                ));
            }
        }
        rows.push(row(RowSpec {
            section,
            figure: format!("{}: server CPU", w.title),
            unit: w.cpu_unit,
            better: Better::Lower,
            portcullis: p_cpu,
            distribution: d.map(|d| d.2),
            ceiling: w.ceiling.cpu.as_ref().map(|c| (w.ceiling.name, c.median)),
        }));
    }
    if let (Some(p), Some(d)) = (variant.memory("portcullis"), variant.memory("distribution")) {
        for (figure, pv, dv) in [
            ("RSS idle", p.idle_kib, d.idle_kib),
            ("RSS peak", p.peak_kib, d.peak_kib),
        ] {
            rows.push(row(RowSpec {
                section,
                figure: figure.into(),
                unit: "MiB",
                better: Better::Lower,
                portcullis: pv / 1024.0,
                distribution: Some(dv / 1024.0),
                ceiling: None,
            }));
        }
    }
}

/// Authorized over anonymous manifest GET rate, under the htpasswd configuration.
pub fn authorized_ratio(variants: &[VariantResult]) -> f64 {
    variants
        .iter()
        .find(|v| v.variant == crate::registry::Variant::Htpasswd)
        .and_then(|v| v.workload(Workload::ManifestGet))
        .and_then(|w| {
            Some(ratio(
                medians(w, "portcullis")?.0,
                medians(w, NO_CREDENTIALS)?.0,
            ))
        })
        .unwrap_or(f64::NAN)
}

/// A credential's manifest GET rate over the anonymous rate on the same server (NaN when
/// either was not measured).
pub fn credential_ratio(credentials: &Credentials, kind: &str) -> f64 {
    let rate = |k: &str| {
        credentials
            .kinds
            .iter()
            .find(|c| c.kind == k)
            .map_or(f64::NAN, |c| c.rps.median)
    };
    ratio(rate(kind), rate("anonymous"))
}

fn credential_rows(credentials: &Credentials, rows: &mut Vec<Row>) {
    let section = "credentials (one server with all of them)";
    for kind in &credentials.kinds {
        let mut add = |figure: String, unit: &str, better, value| {
            rows.push(solo(section, figure, unit, better, value));
        };
        add(
            format!("manifest GET, {}", kind.kind),
            "req/s",
            Better::Higher,
            kind.rps.median,
        );
        add(
            format!("manifest GET, {} p99", kind.kind),
            "ms",
            Better::Lower,
            kind.p99_ms.median,
        );
        if let Some(first) = &kind.first_use_ms {
            add(
                format!("manifest GET, {} / anonymous", kind.kind),
                "ratio",
                Better::Higher,
                credential_ratio(credentials, kind.kind),
            );
            add(
                format!("first request with a new {}", kind.kind),
                "ms",
                Better::Lower,
                first.median,
            );
        }
    }
    if !credentials.kinds.is_empty() {
        rows.push(solo(
            section,
            "first workload token after start (discovery and keys fetched)".into(),
            "ms",
            Better::Lower,
            credentials.first_token_ms.median,
        ));
    }
}

fn scale_rows(scale: &Scale, rows: &mut Vec<Row>) {
    let section = "scale (Portcullis only)";
    let mut add = |figure: String, unit: &str, better, value| {
        rows.push(solo(section, figure, unit, better, value));
    };
    for curve in &scale.curves {
        for (size, rate) in curve.sizes.iter().zip(&curve.rates) {
            add(
                format!("{} at {size} {}", curve.figure, curve.unit_of_size),
                "op/s",
                Better::Higher,
                rate.median,
            );
        }
        add(
            format!("{}: cost at the largest / at the smallest", curve.figure),
            "ratio",
            Better::Lower,
            curve.growth(),
        );
        if let Some((size, growth)) = curve.growth_at_full_pages() {
            add(
                format!(
                    "{}: cost at the largest / at {size} {} (the first full page)",
                    curve.figure, curve.unit_of_size
                ),
                "ratio",
                Better::Lower,
                growth,
            );
        }
    }
    if !scale.curves.is_empty() {
        let (repos, tags) = scale.store;
        add(
            format!("start-up with {repos} repositories and {tags} tags"),
            "s",
            Better::Lower,
            scale.startup_s.median,
        );
        add(
            "RSS at rest with that store".into(),
            "MiB",
            Better::Lower,
            scale.rss_kib.median / 1024.0,
        );
    }
}

fn pull_through_rows(pull: &PullThrough, rows: &mut Vec<Row>) {
    if pull.direct_mib_s.samples.is_empty() {
        return;
    }
    let section = "pull-through cache (distribution upstream)";
    let size = pull.size_mib;
    for (figure, value) in [
        (
            format!("{size:.0} MiB image from the upstream directly"),
            &pull.direct_mib_s,
        ),
        (
            format!("{size:.0} MiB image, first pull through the cache"),
            &pull.first_mib_s,
        ),
        (
            format!("{size:.0} MiB image, second pull (local)"),
            &pull.second_mib_s,
        ),
    ] {
        rows.push(solo(section, figure, "MiB/s", Better::Higher, value.median));
    }
    rows.push(solo(
        section,
        "first pull through the cache / direct pull".into(),
        "ratio",
        Better::Higher,
        pull.first_over_direct(),
    ));
}

fn portcullis_rows(
    variants: &[VariantResult],
    startup: &Startup,
    decision: &Decision,
    rows: &mut Vec<Row>,
) {
    let section = "portcullis only";
    rows.push(solo(
        section,
        "authorized / anonymous manifest GET (htpasswd config)".into(),
        "ratio",
        Better::Higher,
        authorized_ratio(variants),
    ));
    for (figure, value) in [
        (
            "start-up to ready, default plugins, no compile cache",
            &startup.portcullis_no_cache_s,
        ),
        (
            "start-up to ready, default plugins, compile cache",
            &startup.portcullis_cached_s,
        ),
    ] {
        rows.push(row(RowSpec {
            section,
            figure: figure.into(),
            unit: "s",
            better: Better::Lower,
            portcullis: value.median,
            distribution: Some(startup.distribution_s.median),
            ceiling: None,
        }));
    }
    for (figure, value) in [
        (
            "RSS idle after start, no compile cache",
            &startup.portcullis_no_cache_rss_kib,
        ),
        (
            "RSS idle after start, compile cache",
            &startup.portcullis_cached_rss_kib,
        ),
    ] {
        rows.push(row(RowSpec {
            section,
            figure: figure.into(),
            unit: "MiB",
            better: Better::Lower,
            portcullis: value.median / 1024.0,
            distribution: Some(startup.distribution_rss_kib.median / 1024.0),
            ceiling: None,
        }));
    }
    for timing in &decision.timings {
        rows.push(solo(
            section,
            format!("wasm decision: {}", timing.name),
            "µs",
            Better::Lower,
            timing.ns / 1e3,
        ));
    }
}

/// Write the results as pretty JSON to `path` (creating its directory).
pub fn write_json(results: &Results, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_vec_pretty(results)?)?;
    Ok(())
}
