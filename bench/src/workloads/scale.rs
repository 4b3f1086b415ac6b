//! Flat costs at scale (Portcullis only): a tag push, a tag GET, `tags/list?n=100` and
//! `_catalog?n=100` in a registry holding few and many tags and repositories, reported as
//! rates at each size and the ratio between the smallest and the largest; then start-up with
//! the large store on disk and its RSS at rest. The store is built through the API (one image,
//! tagged many times; repositories made by mounting its blobs), anonymous, 32 connections.

use crate::bench::Bench;
use crate::client::Client;
use crate::figure::Figure;
use crate::load::{self, LoadShape, RequestSpec};
use crate::oci::{self, MANIFEST_TYPE};
use crate::procfs;
use crate::registry::{Kind, LaunchSpec, Server, Variant};
use crate::workloads::fixture;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, StatusCode};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Connections building the store.
const BUILDERS: usize = 32;
/// Tag pushes measured at each size.
const PUSHES: usize = 200;
/// Entries asked for by each listing (`n`).
const PAGE: usize = 100;

/// One figure measured at each size.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Curve {
    /// What was measured.
    pub figure: &'static str,
    /// Tags or repositories.
    pub unit_of_size: &'static str,
    /// The sizes, smallest first.
    pub sizes: Vec<usize>,
    /// Operations per second at each size.
    pub rates: Vec<Figure>,
    /// A listing of [`PAGE`] entries after the middle: at a small size its page holds fewer.
    pub paged: bool,
}

impl Curve {
    /// The smallest size's rate over the largest's: how much dearer the operation got.
    pub fn growth(&self) -> f64 {
        match (self.rates.first(), self.rates.last()) {
            (Some(small), Some(large)) => small.median / large.median,
            _ => f64::NAN,
        }
    }

    /// For a listing, the smallest size whose page is full (when it is not the smallest size)
    /// and how much dearer the largest size is than it: growth with the store's size apart
    /// from the page's length.
    pub fn growth_at_full_pages(&self) -> Option<(usize, f64)> {
        let first_full = self.sizes.iter().position(|&s| s / 2 >= PAGE)?;
        let large = self.rates.last()?;
        (self.paged && first_full > 0 && first_full + 1 < self.sizes.len()).then(|| {
            (
                self.sizes[first_full],
                self.rates[first_full].median / large.median,
            )
        })
    }
}

/// Everything the scale part measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scale {
    /// Tag push, tag GET and tag list by tags in the repository; catalog by repositories.
    pub curves: Vec<Curve>,
    /// Start-up to ready with the largest store on disk, seconds.
    pub startup_s: Figure,
    /// RSS at rest after that start, KiB.
    pub rss_kib: Figure,
    /// Repositories and tags in that store.
    pub store: (usize, usize),
}

/// Measure at several numbers of tags in one repository and of repositories.
pub async fn measure(bench: &Bench) -> anyhow::Result<Scale> {
    let (tag_sizes, repo_sizes): (&[usize], &[usize]) = if bench.params.mode == "smoke" {
        (&[10, 100, 300], &[10, 200, 300])
    } else {
        // 1,000 repositories: the first size at which a catalog page from the middle is full.
        (&[10, 10_000, 100_000], &[10, 1_000, 50_000])
    };
    // Each figure is a 5 s load at several sizes: three repetitions at most keep this part short.
    let reps = bench.params.repetitions.min(3);
    let dir = bench.dir.join("scale");
    let spec = LaunchSpec {
        kind: Kind::Portcullis,
        variant: Variant::Anonymous,
        dir: &dir,
        htpasswd: &bench.htpasswd,
        plugin_cache: Some(&bench.plugin_cache),
        extra: None,
    };
    let server = Server::launch(&spec, &bench.bins).await?.0;
    let mut client = Client::new(server.addr(), None);
    let tag_repos: Vec<String> = (0..tag_sizes.len())
        .map(|i| format!("scale/tags-{i}"))
        .collect();
    let names: Vec<&str> = tag_repos.iter().map(String::as_str).collect();
    let (config, layer) = fixture::push_image(&mut client, &names).await?;
    let manifest = oci::image_manifest(&config, &layer, "scale");
    let mut result = Scale::default();
    let mut curves = [
        curve("tag push (16 connections)", "tags", tag_sizes, false),
        curve("tag GET", "tags", tag_sizes, false),
        curve("tags/list?n=100 from the middle", "tags", tag_sizes, true),
    ];
    let mut tags = 0;
    for (i, (&size, repo)) in tag_sizes.iter().zip(&tag_repos).enumerate() {
        tag_range(&server, repo, &manifest, 0, size, BUILDERS).await?;
        tags += size + reps * PUSHES;
        bench.progress(format!("scale: {repo} holds {size} tags"));
        for rep in 0..reps {
            let first = size + rep * PUSHES;
            let elapsed = tag_range(&server, repo, &manifest, first, first + PUSHES, 16).await?;
            curves[0].rates[i].push(PUSHES as f64 / elapsed.as_secs_f64());
            let middle = format!("t{:07}", size / 2);
            let get = rate(
                bench,
                &server,
                format!("/v2/{repo}/manifests/{middle}"),
                Some(MANIFEST_TYPE),
            )
            .await?;
            curves[1].rates[i].push(get);
            let list = rate(
                bench,
                &server,
                format!("/v2/{repo}/tags/list?n={PAGE}&last={middle}"),
                None,
            )
            .await?;
            curves[2].rates[i].push(list);
        }
    }
    let mut catalog = curve(
        "_catalog?n=100 from the middle",
        "repositories",
        repo_sizes,
        true,
    );
    let mut repos = tag_sizes.len();
    for (i, &size) in repo_sizes.iter().enumerate() {
        if size > repos {
            make_repos(&server, &manifest, &config, &layer, repos, size).await?;
            repos = size;
        }
        bench.progress(format!("scale: {repos} repositories"));
        let middle = format!("scale/r{:07}", size / 2);
        for _ in 0..reps {
            let r = rate(
                bench,
                &server,
                format!("/v2/_catalog?n={PAGE}&last={middle}"),
                None,
            )
            .await?;
            catalog.rates[i].push(r);
        }
    }
    result.curves = curves.into_iter().chain([catalog]).collect();
    result.store = (repos, tags + repos - tag_sizes.len());
    server.stop();
    for _ in 0..reps {
        let (server, elapsed) = Server::launch(&spec, &bench.bins).await?;
        tokio::time::sleep(Duration::from_millis(bench.params.idle_settle_ms)).await;
        result.startup_s.push(elapsed.as_secs_f64());
        result
            .rss_kib
            .push(procfs::memory(server.pid())?.rss_kib as f64);
        server.stop();
    }
    bench.progress(format!(
        "scale: start-up with {} repositories and {} tags: {:.3} s",
        result.store.0, result.store.1, result.startup_s.median
    ));
    std::fs::remove_dir_all(&dir)?;
    Ok(result)
}

fn curve(figure: &'static str, unit_of_size: &'static str, sizes: &[usize], paged: bool) -> Curve {
    Curve {
        figure,
        unit_of_size,
        sizes: sizes.to_vec(),
        rates: vec![Figure::default(); sizes.len()],
        paged,
    }
}

/// Tag `manifest` as tags `from..to` of `repo` on `connections` connections.
async fn tag_range(
    server: &Server,
    repo: &str,
    manifest: &bytes::Bytes,
    from: usize,
    to: usize,
    connections: usize,
) -> anyhow::Result<Duration> {
    let (repo, manifest) = (Arc::new(repo.to_owned()), manifest.clone());
    load::run_jobs(
        server.addr(),
        None,
        to - from,
        connections,
        move |mut client, n| {
            let (repo, manifest) = (repo.clone(), manifest.clone());
            async move {
                let tag = format!("t{:07}", from + n);
                oci::put_manifest(&mut client, &repo, &tag, manifest).await?;
                Ok(client)
            }
        },
    )
    .await
}

/// Make repositories `scale/r<from>`…`scale/r<to - 1>`, each with the image (blobs mounted
/// from the first tag repository).
async fn make_repos(
    server: &Server,
    manifest: &bytes::Bytes,
    config: &oci::Descriptor,
    layer: &oci::Descriptor,
    from: usize,
    to: usize,
) -> anyhow::Result<()> {
    let digests = Arc::new([config.digest.clone(), layer.digest.clone()]);
    let manifest = manifest.clone();
    load::run_jobs(
        server.addr(),
        None,
        to - from,
        BUILDERS,
        move |mut client, n| {
            let (digests, manifest) = (digests.clone(), manifest.clone());
            async move {
                let repo = format!("scale/r{:07}", from + n);
                for digest in digests.iter() {
                    let path = format!(
                        "/v2/{repo}/blobs/uploads/?mount={digest}&from={}",
                        fixture::APP_REPO
                    );
                    client
                        .send(Method::POST, &path, &[], crate::payload::Payload::empty())
                        .await?
                        .expect(StatusCode::CREATED, "blob mount")?;
                }
                client
                    .send(
                        Method::PUT,
                        &format!("/v2/{repo}/manifests/latest"),
                        &[(CONTENT_TYPE, HeaderValue::from_static(MANIFEST_TYPE))],
                        manifest.into(),
                    )
                    .await?
                    .expect(StatusCode::CREATED, "manifest push")?;
                Ok(client)
            }
        },
    )
    .await?;
    Ok(())
}

/// Requests per second of GET `path` under the usual load.
async fn rate(
    bench: &Bench,
    server: &Server,
    path: String,
    accept: Option<&str>,
) -> anyhow::Result<f64> {
    let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
    let request: RequestSpec = load::request(Method::GET, path, &headers);
    let shape = LoadShape {
        connections: bench.params.connections,
        warmup: bench.params.warmup(),
        duration: bench.params.duration(),
    };
    let result = load::run(server.addr(), None, request, shape).await?;
    anyhow::ensure!(result.requests > 0, "scale: no request succeeded");
    Ok(result.rps)
}
