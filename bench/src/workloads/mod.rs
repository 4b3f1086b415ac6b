//! The workloads, each run against both registries in turn (Portcullis, distribution,
//! Portcullis, …) for every repetition, with the server's CPU time read around each run and
//! its memory read idle and at the end.

pub mod credentials;
pub mod fixture;
mod measure;
pub mod pull_through;
pub mod scale;
pub mod startup;

use crate::bench::Bench;
use crate::ceilings::{sync_disks, CeilingServers};
use crate::client::{basic_auth, Client};
use crate::figure::Figure;
use crate::params::Params;
use crate::procfs;
use crate::registry::{Kind, LaunchSpec, Server, Variant, USER};
use fixture::Fixture;
use http::header::HeaderValue;
use serde::Serialize;
use std::time::Duration;

/// One kind of measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// One big blob, POST then one PUT with the whole body.
    PushMonolithic,
    /// One big blob in PATCHes of `chunk` bytes.
    PushChunked,
    /// GET of a big blob.
    Pull,
    /// GET of a manifest by tag from many connections for a fixed time.
    ManifestGet,
    /// HEAD of a blob from many connections for a fixed time.
    BlobHead,
    /// Small blobs pushed one after another.
    SmallSequential,
    /// Small blobs pushed from several connections.
    SmallConcurrent,
    /// Distinct manifests pushed under distinct tags from several connections.
    ManifestPut,
}

impl Workload {
    /// Every workload, in the order they run.
    pub const ALL: [Workload; 8] = [
        Workload::PushMonolithic,
        Workload::PushChunked,
        Workload::Pull,
        Workload::ManifestGet,
        Workload::BlobHead,
        Workload::SmallSequential,
        Workload::SmallConcurrent,
        Workload::ManifestPut,
    ];

    /// Its name on the command line and in the JSON (`push-monolithic`, …).
    pub fn id(self) -> &'static str {
        match self {
            Workload::PushMonolithic => "push-monolithic",
            Workload::PushChunked => "push-chunked",
            Workload::Pull => "pull",
            Workload::ManifestGet => "manifest-get",
            Workload::BlobHead => "blob-head",
            Workload::SmallSequential => "small-sequential",
            Workload::SmallConcurrent => "small-concurrent",
            Workload::ManifestPut => "manifest-put",
        }
    }

    /// A human title naming its size.
    pub fn title(self, p: &Params) -> String {
        let mib = |b: usize| b / crate::params::MIB;
        match self {
            Workload::PushMonolithic => format!("blob push, monolithic ({} MiB)", mib(p.big_blob)),
            Workload::PushChunked => format!(
                "blob push, chunked ({} MiB, {} MiB PATCHes)",
                mib(p.big_blob),
                mib(p.chunk)
            ),
            Workload::Pull => format!("blob pull ({} MiB)", mib(p.big_blob)),
            Workload::ManifestGet => format!("manifest GET by tag, {} conns", p.connections),
            Workload::BlobHead => format!("blob HEAD, {} conns", p.connections),
            Workload::SmallSequential => format!(
                "{} small ({} KiB) pushes, sequential",
                p.small_count,
                p.small_blob / 1024
            ),
            Workload::SmallConcurrent => format!(
                "{} small ({} KiB) pushes, {}-way",
                p.small_count,
                p.small_blob / 1024,
                p.small_concurrency
            ),
            Workload::ManifestPut => format!(
                "{} manifest PUTs, {}-way",
                p.manifest_count, p.small_concurrency
            ),
        }
    }

    /// The unit of its figure.
    pub fn unit(self) -> &'static str {
        match self {
            Workload::PushMonolithic | Workload::PushChunked | Workload::Pull => "MiB/s",
            Workload::ManifestGet | Workload::BlobHead => "req/s",
            Workload::SmallSequential | Workload::SmallConcurrent => "blobs/s",
            Workload::ManifestPut => "manifests/s",
        }
    }

    /// The unit of its server CPU figure, and the factor from CPU seconds per unit of work.
    pub fn cpu_unit(self) -> (&'static str, f64) {
        match self {
            Workload::PushMonolithic | Workload::PushChunked | Workload::Pull => ("CPU s/GiB", 1.0),
            Workload::ManifestGet | Workload::BlobHead => ("CPU µs/req", 1e6),
            Workload::SmallSequential | Workload::SmallConcurrent => ("CPU ms/blob", 1e3),
            Workload::ManifestPut => ("CPU ms/manifest", 1e3),
        }
    }

    /// Whether it reports a latency percentile.
    pub fn has_latency(self) -> bool {
        matches!(self, Workload::ManifestGet | Workload::BlobHead)
    }
}

/// Who a measurement is of: a registry, with or without credentials.
pub struct Subject<'a> {
    /// `portcullis`, `distribution` or `portcullis-no-credentials`.
    pub name: &'static str,
    /// The registry.
    pub server: &'a Server,
    /// Its `Authorization` header, if any.
    pub auth: Option<HeaderValue>,
    /// What it holds.
    pub fixture: &'a Fixture,
}

/// One measurement's outcome.
pub struct Sample {
    /// The figure, in the workload's unit.
    pub value: f64,
    /// 99th percentile latency, for the request-rate workloads.
    pub p99_ms: Option<f64>,
    /// Work done, in the CPU figure's unit (GiB, requests, blobs, manifests).
    pub work: f64,
}

/// Every repetition of one workload against one subject.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// Whom it measured.
    pub subject: &'static str,
    /// The figure.
    pub value: Figure,
    /// 99th percentile latency, ms, where measured.
    pub p99_ms: Option<Figure>,
    /// Server CPU per unit of work.
    pub cpu: Figure,
}

/// The workload's ceiling, measured after the subjects in every repetition.
#[derive(Debug, Clone, Serialize)]
pub struct CeilingSeries {
    /// Which ceiling.
    pub name: &'static str,
    /// In the workload's unit.
    pub value: Figure,
    /// 99th percentile latency, ms, where measured.
    pub p99_ms: Option<Figure>,
    /// The ceiling server's CPU per unit of work, where a server of its own serves it.
    pub cpu: Option<Figure>,
}

/// One workload in one variant.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadResult {
    /// Which workload.
    pub workload: Workload,
    /// Its title.
    pub title: String,
    /// Unit of `value`.
    pub unit: &'static str,
    /// Unit of `cpu`.
    pub cpu_unit: &'static str,
    /// One series per subject.
    pub series: Vec<Series>,
    /// Its ceiling.
    pub ceiling: CeilingSeries,
}

impl WorkloadResult {
    /// The series of `subject`.
    pub fn series(&self, subject: &str) -> Option<&Series> {
        self.series.iter().find(|s| s.subject == subject)
    }
}

/// A registry's resident memory, KiB.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryResult {
    /// Which registry.
    pub subject: &'static str,
    /// `VmRSS` a moment after start.
    pub idle_kib: f64,
    /// `VmHWM` after every workload.
    pub peak_kib: f64,
}

/// Everything measured in one variant.
#[derive(Debug, Clone, Serialize)]
pub struct VariantResult {
    /// Which variant.
    pub variant: Variant,
    /// The workloads.
    pub workloads: Vec<WorkloadResult>,
    /// Both registries' memory.
    pub memory: Vec<MemoryResult>,
}

impl VariantResult {
    /// The result of `workload`.
    pub fn workload(&self, workload: Workload) -> Option<&WorkloadResult> {
        self.workloads.iter().find(|w| w.workload == workload)
    }

    /// The memory of `subject`.
    pub fn memory(&self, subject: &str) -> Option<&MemoryResult> {
        self.memory.iter().find(|m| m.subject == subject)
    }
}

/// Subject name for Portcullis read anonymously under the htpasswd configuration.
pub const NO_CREDENTIALS: &str = "portcullis-no-credentials";

/// Start both registries in `variant`, run `selected` workloads against them (and their
/// ceilings against `ceilings`), stop them.
pub async fn run_variant(
    bench: &Bench,
    variant: Variant,
    selected: &[Workload],
    ceilings: &CeilingServers,
) -> anyhow::Result<VariantResult> {
    let p = &bench.params;
    let dir = bench.dir.join(variant.name());
    let auth = (variant == Variant::Htpasswd).then(|| basic_auth(USER.0, USER.1));
    let mut servers = Vec::new();
    for kind in [Kind::Portcullis, Kind::Distribution] {
        let spec = LaunchSpec {
            kind,
            variant,
            dir: &dir.join(kind.name()),
            htpasswd: &bench.htpasswd,
            plugin_cache: Some(&bench.plugin_cache),
            extra: None,
        };
        servers.push(Server::launch(&spec, &bench.bins).await?.0);
    }
    tokio::time::sleep(Duration::from_millis(p.idle_settle_ms)).await;
    let mut idle = Vec::new();
    for server in &servers {
        idle.push(procfs::memory(server.pid())?.rss_kib);
    }
    let mut fixtures = Vec::new();
    for server in &servers {
        let mut client = Client::new(server.addr(), auth.clone());
        fixtures.push(fixture::push(bench, &mut client).await?);
    }
    let mut subjects: Vec<Subject> = servers
        .iter()
        .zip(&fixtures)
        .map(|(server, fixture)| Subject {
            name: server.kind.name(),
            server,
            auth: auth.clone(),
            fixture,
        })
        .collect();
    if variant == Variant::Htpasswd {
        subjects.push(Subject {
            name: NO_CREDENTIALS,
            server: &servers[0],
            auth: None,
            fixture: &fixtures[0],
        });
    }
    let mut workloads = Vec::new();
    for &workload in selected {
        workloads.push(run_workload(bench, variant, workload, &subjects, ceilings).await?);
    }
    let mut memory = Vec::new();
    for (server, idle_kib) in servers.iter().zip(idle) {
        memory.push(MemoryResult {
            subject: server.kind.name(),
            idle_kib: idle_kib as f64,
            peak_kib: procfs::memory(server.pid())?.peak_kib as f64,
        });
    }
    drop(subjects);
    for server in servers {
        server.stop();
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(VariantResult {
        variant,
        workloads,
        memory,
    })
}

async fn run_workload(
    bench: &Bench,
    variant: Variant,
    workload: Workload,
    subjects: &[Subject<'_>],
    ceilings: &CeilingServers,
) -> anyhow::Result<WorkloadResult> {
    let p = &bench.params;
    // Reading without credentials is compared for manifest GET only.
    let subjects: Vec<&Subject> = subjects
        .iter()
        .filter(|s| s.name != NO_CREDENTIALS || workload == Workload::ManifestGet)
        .collect();
    let (cpu_unit, cpu_scale) = workload.cpu_unit();
    let mut series: Vec<Series> = subjects
        .iter()
        .map(|s| Series {
            subject: s.name,
            value: Figure::default(),
            p99_ms: workload.has_latency().then(Figure::default),
            cpu: Figure::default(),
        })
        .collect();
    let mut ceiling = CeilingSeries {
        name: crate::ceilings::name_for(workload),
        value: Figure::default(),
        p99_ms: workload.has_latency().then(Figure::default),
        cpu: ceilings.pid_for(workload).map(|_| Figure::default()),
    };
    for rep in 0..p.repetitions {
        // Alternate who goes first (ABBA…), so that neither registry always follows the other.
        let mut order: Vec<(&&Subject, &mut Series)> =
            subjects.iter().zip(series.iter_mut()).collect();
        if rep % 2 == 1 {
            order.reverse();
        }
        for (subject, series) in order {
            tokio::task::spawn_blocking(sync_disks).await?;
            let pid = subject.server.pid();
            let cpu_before = procfs::cpu_seconds(pid)?;
            let sample = measure::run(bench, workload, subject, rep).await?;
            let cpu = (procfs::cpu_seconds(pid)? - cpu_before) / sample.work * cpu_scale;
            series.value.push(sample.value);
            if let (Some(figure), Some(p99)) = (series.p99_ms.as_mut(), sample.p99_ms) {
                figure.push(p99);
            }
            series.cpu.push(cpu);
            let latency = sample
                .p99_ms
                .map(|ms| format!(", p99 {ms:.2} ms"))
                .unwrap_or_default();
            bench.progress(format!(
                "{} {} {}/{} {}: {:.1} {}{latency}, {cpu:.2} {cpu_unit}",
                variant.name(),
                workload.title(p),
                rep + 1,
                p.repetitions,
                subject.name,
                sample.value,
                workload.unit(),
            ));
        }
        tokio::task::spawn_blocking(sync_disks).await?;
        let ceiling_pid = ceilings.pid_for(workload);
        let cpu_before = ceiling_pid.map(procfs::cpu_seconds).transpose()?;
        let sample = crate::ceilings::for_workload(bench, ceilings, workload).await?;
        if let (Some(pid), Some(before), Some(figure)) =
            (ceiling_pid, cpu_before, ceiling.cpu.as_mut())
        {
            figure.push((procfs::cpu_seconds(pid)? - before) / sample.work * cpu_scale);
        }
        ceiling.value.push(sample.value);
        if let (Some(figure), Some(p99)) = (ceiling.p99_ms.as_mut(), sample.p99_ms) {
            figure.push(p99);
        }
        bench.progress(format!(
            "{} {} {}/{} ceiling ({}): {:.1} {}",
            variant.name(),
            workload.title(p),
            rep + 1,
            p.repetitions,
            ceiling.name,
            sample.value,
            workload.unit(),
        ));
    }
    bench.scratch.clear(p.mode == "full").await?;
    Ok(WorkloadResult {
        workload,
        title: workload.title(p),
        unit: workload.unit(),
        cpu_unit,
        series,
        ceiling,
    })
}
