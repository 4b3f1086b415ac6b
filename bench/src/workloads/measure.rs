//! One measurement of one workload against one subject.

use super::fixture::{APP_REPO, MANIFEST_REPO, PULL_REPO, TAG};
use super::{Sample, Subject, Workload};
use crate::affinity;
use crate::bench::Bench;
use crate::blobdata::small_blobs;
use crate::client::Client;
use crate::load::{self, LoadShape};
use crate::oci::{self, MANIFEST_TYPE};
use crate::params::{GIB, MIB};
use http::Method;
use std::sync::Arc;
use std::time::Instant;

/// Repository of the big pushes.
const PUSH_REPO: &str = "bench/push";
/// Repository of the small pushes.
const SMALL_REPO: &str = "bench/small";

/// Measure `workload` once against `subject`; `rep` numbers the repetition.
pub async fn run(
    bench: &Bench,
    workload: Workload,
    subject: &Subject<'_>,
    rep: usize,
) -> anyhow::Result<Sample> {
    let p = &bench.params;
    match workload {
        Workload::PushMonolithic => push(bench, subject, false).await,
        Workload::PushChunked => push(bench, subject, true).await,
        Workload::Pull => pull(bench, subject).await,
        Workload::ManifestGet => {
            let path = format!("/v2/{APP_REPO}/manifests/{TAG}");
            let request = load::request(Method::GET, path, &[("accept", MANIFEST_TYPE)]);
            rate(bench, subject, request).await
        }
        Workload::BlobHead => {
            let path = format!("/v2/{APP_REPO}/blobs/{}", subject.fixture.layer.digest);
            rate(bench, subject, load::request(Method::HEAD, path, &[])).await
        }
        Workload::SmallSequential => small(bench, subject, rep, 1).await,
        Workload::SmallConcurrent => small(bench, subject, rep, p.small_concurrency).await,
        Workload::ManifestPut => manifest_put(bench, subject, rep).await,
    }
}

async fn push(bench: &Bench, subject: &Subject<'_>, chunked: bool) -> anyhow::Result<Sample> {
    let blob = bench.fresh_big_blob();
    let mut client = Client::new(subject.server.addr(), subject.auth.clone());
    let started = Instant::now();
    if chunked {
        oci::push_chunked(&mut client, PUSH_REPO, &blob, bench.params.chunk).await?;
    } else {
        oci::push_monolithic(&mut client, PUSH_REPO, blob.payload(), &blob.digest).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Sample {
        value: blob.len() as f64 / MIB as f64 / seconds,
        p99_ms: None,
        work: blob.len() as f64 / GIB,
    })
}

/// One pull of the big blob, the client on another core than the server (as the ceiling's).
async fn pull(bench: &Bench, subject: &Subject<'_>) -> anyhow::Result<Sample> {
    let (addr, auth) = (subject.server.addr(), subject.auth.clone());
    let digest = subject.fixture.pull_digest.clone();
    let (bytes, seconds) = affinity::apart(subject.server.pid(), move || async move {
        let mut client = Client::new(addr, auth);
        let started = Instant::now();
        let bytes = oci::pull(&mut client, PULL_REPO, &digest).await?;
        Ok((bytes, started.elapsed().as_secs_f64()))
    })
    .await?;
    anyhow::ensure!(
        bytes == bench.params.big_blob as u64,
        "pull returned {bytes} bytes"
    );
    Ok(Sample {
        value: bytes as f64 / MIB as f64 / seconds,
        p99_ms: None,
        work: bytes as f64 / GIB,
    })
}

async fn rate(
    bench: &Bench,
    subject: &Subject<'_>,
    request: load::RequestSpec,
) -> anyhow::Result<Sample> {
    let p = &bench.params;
    let shape = LoadShape {
        connections: p.connections,
        warmup: p.warmup(),
        duration: p.duration(),
    };
    let result = load::run(subject.server.addr(), subject.auth.clone(), request, shape).await?;
    Ok(Sample {
        value: result.rps,
        p99_ms: Some(result.p99_ms),
        work: result.requests_total as f64,
    })
}

async fn small(
    bench: &Bench,
    subject: &Subject<'_>,
    rep: usize,
    concurrency: usize,
) -> anyhow::Result<Sample> {
    let p = &bench.params;
    let label = format!("{}/{}/{rep}/{concurrency}", bench.run_label, subject.name);
    let blobs = Arc::new(small_blobs(p.small_count, p.small_blob, &label));
    let elapsed = load::run_jobs(
        subject.server.addr(),
        subject.auth.clone(),
        p.small_count,
        concurrency,
        move |mut client, n| {
            let blobs = blobs.clone();
            async move {
                let (data, digest) = &blobs[n];
                oci::push_monolithic(&mut client, SMALL_REPO, data.clone().into(), digest).await?;
                Ok(client)
            }
        },
    )
    .await?;
    Ok(Sample {
        value: p.small_count as f64 / elapsed.as_secs_f64(),
        p99_ms: None,
        work: p.small_count as f64,
    })
}

async fn manifest_put(bench: &Bench, subject: &Subject<'_>, rep: usize) -> anyhow::Result<Sample> {
    let p = &bench.params;
    let fixture = subject.fixture;
    let manifests: Arc<Vec<(String, bytes::Bytes)>> = Arc::new(
        (0..p.manifest_count)
            .map(|n| {
                let stamp = format!("{}/{rep}/{n}", bench.run_label);
                let manifest = oci::image_manifest(&fixture.config, &fixture.layer, &stamp);
                (format!("r{rep}-{n}"), manifest)
            })
            .collect(),
    );
    let elapsed = load::run_jobs(
        subject.server.addr(),
        subject.auth.clone(),
        p.manifest_count,
        p.small_concurrency,
        move |mut client, n| {
            let manifests = manifests.clone();
            async move {
                let (tag, manifest) = &manifests[n];
                oci::put_manifest(&mut client, MANIFEST_REPO, tag, manifest.clone()).await?;
                Ok(client)
            }
        },
    )
    .await?;
    Ok(Sample {
        value: p.manifest_count as f64 / elapsed.as_secs_f64(),
        p99_ms: None,
        work: p.manifest_count as f64,
    })
}
