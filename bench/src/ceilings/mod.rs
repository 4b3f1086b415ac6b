//! The machine's ceilings, measured in the same run as the registries: hashing, durable
//! writes, both together, durable small-file commits, and loopback HTTP (PUT, GET, HEAD and a
//! `sendfile` pull) against trivial servers driven by the same client as the registries.
//!
//! Each workload's own ceiling is measured again beside it, after the registries in every
//! repetition ([`for_workload`]), so that a shared machine's disk and CPU weather hits the
//! ceiling and the registries alike; [`measure`] takes the overview once at the start.

pub mod http_server;
mod local;
pub mod sendfile;

use crate::affinity;
use crate::bench::Bench;
use crate::blobdata::random_bytes;
use crate::client::Client;
use crate::figure::Figure;
use crate::load::{self, LoadShape};
use crate::process::{free_addr, Process};
use crate::workloads::{Sample, Workload};
use http::{Method, StatusCode};
use serde::Serialize;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The overview of every ceiling: samples and median.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ceilings {
    /// SHA-256 in memory, MiB/s.
    pub sha256_mib_s: Figure,
    /// 1 MiB writes then fsync, MiB/s.
    pub write_fsync_mib_s: Figure,
    /// Hash each 1 MiB chunk, write it, fsync at the end (one thread), MiB/s.
    pub hash_write_fsync_mib_s: Figure,
    /// Small files written, fsynced and renamed, one after another, per second.
    pub small_files_sequential_per_s: Figure,
    /// The same from `small_concurrency` threads, per second.
    pub small_files_concurrent_per_s: Figure,
    /// PUT of the big blob to a server that discards it, MiB/s.
    pub http_put_mib_s: Figure,
    /// GET of the big blob from a server's memory, MiB/s.
    pub http_get_mib_s: Figure,
    /// GET of a file sent with `sendfile(2)`, MiB/s.
    pub sendfile_get_mib_s: Figure,
    /// GET of a manifest-sized body from memory at the load's connections, requests/s.
    pub http_get_small_rps: Figure,
    /// Its 99th percentile latency, ms.
    pub http_get_small_p99_ms: Figure,
    /// HEAD of the same, requests/s.
    pub http_head_small_rps: Figure,
    /// Its 99th percentile latency, ms.
    pub http_head_small_p99_ms: Figure,
}

/// Where the ceilings' files go. They stay until [`Scratch::clear`], as a registry keeps its
/// blobs: deleting a big file right away would free its page cache, and on a VM whose free
/// memory goes back to the host (virtio-balloon free page reporting, as on this project's
/// machines) the next writer would get warm pages where the registries got cold ones —
/// writes into the page cache run several times slower on cold pages.
pub struct Scratch {
    dir: PathBuf,
    next: AtomicU64,
}

/// How long freed memory takes to go back to the host (the kernel's page reporting delay is
/// 2 s), so that what one measurement freed does not speed up the next.
const SETTLE: Duration = Duration::from_secs(3);

impl Scratch {
    /// Scratch space in `dir` (created on first use).
    pub fn new(dir: PathBuf) -> Scratch {
        Scratch {
            dir,
            next: AtomicU64::new(0),
        }
    }

    /// A path nothing uses yet.
    pub fn path(&self) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        Ok(self
            .dir
            .join(self.next.fetch_add(1, Ordering::Relaxed).to_string()))
    }

    /// Delete everything, then wait until the freed memory has settled (when `settle`).
    pub async fn clear(&self, settle: bool) -> anyhow::Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        if settle {
            tokio::time::sleep(SETTLE).await;
        }
        Ok(())
    }
}

/// The two ceiling servers, running for the whole benchmark (idle between measurements).
pub struct CeilingServers {
    http: Process,
    sendfile: Process,
    file: PathBuf,
}

impl CeilingServers {
    /// Start the loopback HTTP server and the sendfile server (with a big-blob-sized file in
    /// the work directory, so in the page cache as a freshly pushed blob is).
    pub async fn start(bench: &Bench, manifest_size: usize) -> anyhow::Result<CeilingServers> {
        let p = &bench.params;
        let file = bench.dir.join("sendfile-ceiling.bin");
        std::fs::write(&file, random_bytes(p.big_blob, 97))?;
        let big = p.big_blob.to_string();
        let small = manifest_size.to_string();
        let http_args = ["--big", &big, "--small", &small];
        let http = spawn_helper(bench, "ceiling-server", &http_args).await?;
        let path = file.display().to_string();
        let sendfile = spawn_helper(bench, "sendfile-server", &["--file", &path]).await?;
        Ok(CeilingServers {
            http,
            sendfile,
            file,
        })
    }

    /// The process of the ceiling server that serves `workload`'s ceiling, if one does (its
    /// CPU is measured as a registry's is).
    pub fn pid_for(&self, workload: Workload) -> Option<u32> {
        match workload {
            Workload::Pull => Some(self.sendfile.pid()),
            Workload::ManifestGet | Workload::BlobHead => Some(self.http.pid()),
            _ => None,
        }
    }

    /// Stop both and remove the file.
    pub fn stop(self) -> anyhow::Result<()> {
        self.http.stop();
        self.sendfile.stop();
        std::fs::remove_file(&self.file)?;
        Ok(())
    }
}

/// Name of the ceiling `workload` is compared with.
pub fn name_for(workload: Workload) -> &'static str {
    match workload {
        Workload::PushMonolithic | Workload::PushChunked => "hash+write+fsync",
        Workload::Pull => "sendfile GET",
        Workload::ManifestGet => "loopback HTTP GET",
        Workload::BlobHead => "loopback HTTP HEAD",
        Workload::SmallSequential => "small-file fsync, sequential",
        Workload::SmallConcurrent | Workload::ManifestPut => "small-file fsync, concurrent",
    }
}

/// Measure once the ceiling of `workload`, in its unit (for the rate loads, with p99); the
/// sample's work is what the ceiling server did, where one did (GiB sent, requests answered).
pub async fn for_workload(
    bench: &Bench,
    servers: &CeilingServers,
    workload: Workload,
) -> anyhow::Result<Sample> {
    let p = &bench.params;
    let sample = |value| Sample {
        value,
        p99_ms: None,
        work: 1.0,
    };
    Ok(match workload {
        Workload::PushMonolithic | Workload::PushChunked => {
            let (data, path) = (bench.big_body(), bench.scratch.path()?);
            sample(
                tokio::task::spawn_blocking(move || local::write_fsync(&path, &data, true))
                    .await??,
            )
        }
        Workload::Pull => Sample {
            value: sendfile_pull(servers).await?,
            p99_ms: None,
            work: p.big_blob as f64 / crate::params::GIB,
        },
        Workload::ManifestGet | Workload::BlobHead => {
            let method = if workload == Workload::BlobHead {
                Method::HEAD
            } else {
                Method::GET
            };
            let result = load::run(
                servers.http.addr,
                None,
                load::request(method, "/small".into(), &[]),
                load_shape(bench),
            )
            .await?;
            Sample {
                value: result.rps,
                p99_ms: Some(result.p99_ms),
                work: result.requests_total as f64,
            }
        }
        Workload::SmallSequential | Workload::SmallConcurrent | Workload::ManifestPut => {
            let (count, threads) = match workload {
                Workload::SmallSequential => (p.small_count, 1),
                Workload::SmallConcurrent => (p.small_count, p.small_concurrency),
                _ => (p.manifest_count, p.small_concurrency),
            };
            let (dir, size) = (bench.scratch.path()?, p.small_blob);
            sample(
                tokio::task::spawn_blocking(move || {
                    local::small_files(&dir, &random_bytes(size, 98), count, threads)
                })
                .await??,
            )
        }
    })
}

fn load_shape(bench: &Bench) -> LoadShape {
    let p = &bench.params;
    LoadShape {
        connections: p.connections,
        warmup: p.warmup(),
        duration: p.duration(),
    }
}

/// Measure every ceiling, `repetitions` times each.
pub async fn measure(bench: &Bench, servers: &CeilingServers) -> anyhow::Result<Ceilings> {
    let mut ceilings = Ceilings::default();
    measure_local(bench, &mut ceilings).await?;
    measure_http(bench, servers, &mut ceilings).await?;
    Ok(ceilings)
}

async fn measure_local(bench: &Bench, c: &mut Ceilings) -> anyhow::Result<()> {
    let p = &bench.params;
    let small = Arc::new(random_bytes(p.small_blob, 98));
    for rep in 1..=p.repetitions {
        let (data, small) = (bench.big_body(), small.clone());
        let paths: [PathBuf; 4] = [
            bench.scratch.path()?,
            bench.scratch.path()?,
            bench.scratch.path()?,
            bench.scratch.path()?,
        ];
        let (count, threads) = (p.small_count, p.small_concurrency);
        let rates = tokio::task::spawn_blocking(move || -> anyhow::Result<[f64; 5]> {
            let sha = local::sha256(&data);
            sync_disks();
            let write = local::write_fsync(&paths[0], &data, false)?;
            sync_disks();
            let both = local::write_fsync(&paths[1], &data, true)?;
            sync_disks();
            let sequential = local::small_files(&paths[2], &small, count, 1)?;
            sync_disks();
            let concurrent = local::small_files(&paths[3], &small, count, threads)?;
            Ok([sha, write, both, sequential, concurrent])
        })
        .await??;
        bench.progress(format!(
            "ceilings {rep}/{}: sha256 {:.0} MiB/s, write+fsync {:.0} MiB/s, hash+write+fsync \
             {:.0} MiB/s, small files {:.0}/s sequential, {:.0}/s {threads}-way",
            p.repetitions, rates[0], rates[1], rates[2], rates[3], rates[4]
        ));
        c.sha256_mib_s.push(rates[0]);
        c.write_fsync_mib_s.push(rates[1]);
        c.hash_write_fsync_mib_s.push(rates[2]);
        c.small_files_sequential_per_s.push(rates[3]);
        c.small_files_concurrent_per_s.push(rates[4]);
    }
    bench.scratch.clear(bench.params.mode == "full").await
}

async fn measure_http(
    bench: &Bench,
    servers: &CeilingServers,
    c: &mut Ceilings,
) -> anyhow::Result<()> {
    let p = &bench.params;
    let shape = load_shape(bench);
    let small = |method| load::request(method, "/small".into(), &[]);
    for rep in 1..=p.repetitions {
        let mut client = Client::new(servers.http.addr, None);
        let blob = bench.fresh_big_blob();
        let started = Instant::now();
        client
            .send(Method::PUT, "/upload", &[], blob.payload())
            .await?
            .expect(StatusCode::CREATED, "ceiling PUT")?;
        let put = mib_per_s(blob.len() as u64, started);
        let get = timed_get(&mut client, "/big").await?;
        let pull = sendfile_pull(servers).await?;
        let get_small = load::run(servers.http.addr, None, small(Method::GET), shape).await?;
        let head_small = load::run(servers.http.addr, None, small(Method::HEAD), shape).await?;
        bench.progress(format!(
            "ceilings {rep}/{}: HTTP PUT {put:.0} MiB/s, GET {get:.0} MiB/s, sendfile {pull:.0} \
             MiB/s, small GET {:.0} req/s (p99 {:.2} ms), HEAD {:.0} req/s (p99 {:.2} ms)",
            p.repetitions, get_small.rps, get_small.p99_ms, head_small.rps, head_small.p99_ms
        ));
        c.http_put_mib_s.push(put);
        c.http_get_mib_s.push(get);
        c.sendfile_get_mib_s.push(pull);
        c.http_get_small_rps.push(get_small.rps);
        c.http_get_small_p99_ms.push(get_small.p99_ms);
        c.http_head_small_rps.push(head_small.rps);
        c.http_head_small_p99_ms.push(head_small.p99_ms);
    }
    Ok(())
}

/// One GET of the sendfile server's file, the client on another core than the server (as a
/// registry's pull is measured), MiB/s.
async fn sendfile_pull(servers: &CeilingServers) -> anyhow::Result<f64> {
    let addr = servers.sendfile.addr;
    affinity::apart(servers.sendfile.pid(), move || async move {
        timed_get(&mut Client::new(addr, None), "/blob").await
    })
    .await
}

/// GET `path` and return the body's rate, MiB/s.
async fn timed_get(client: &mut Client, path: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let (status, bytes) = client.send_counting(Method::GET, path, &[]).await?;
    anyhow::ensure!(status == StatusCode::OK, "ceiling GET {path}: {status}");
    Ok(mib_per_s(bytes, started))
}

fn mib_per_s(bytes: u64, since: Instant) -> f64 {
    bytes as f64 / crate::params::MIB as f64 / since.elapsed().as_secs_f64()
}

/// Start this program's hidden server subcommand `name` on a free port.
async fn spawn_helper(bench: &Bench, name: &str, args: &[&str]) -> anyhow::Result<Process> {
    let addr = free_addr()?;
    let mut command = Command::new(&bench.exe);
    command
        .arg(name)
        .arg("--port")
        .arg(addr.port().to_string())
        .args(args);
    let log = bench.dir.join(format!("{name}.log"));
    Ok(Process::spawn(name, command, addr, &log).await?.0)
}

/// Flush dirty pages, so that one measurement's writeback does not land in the next one.
pub fn sync_disks() {
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
}
