//! The pull-through cache: an image whose one layer is the big blob, pulled (manifest, then
//! layer) from distribution directly, then for the first time through a fresh Portcullis whose
//! sync extension has that distribution as its upstream — the layer streams to the client
//! while it is stored — then once more (a local pull). Each repetition pulls a new image.

use crate::bench::Bench;
use crate::client::Client;
use crate::figure::Figure;
use crate::oci::{self, Descriptor, CONFIG_TYPE, LAYER_TYPE, MANIFEST_TYPE};
use crate::params::MIB;
use crate::registry::{Kind, LaunchSpec, Server, Variant};
use http::header::{HeaderValue, ACCEPT};
use http::{Method, StatusCode};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// The repository on the upstream (and, through the cache, on Portcullis).
const REPO: &str = "cache/app";

/// Pull rates, MiB/s of the layer (the manifest's time included).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PullThrough {
    /// The layer's size, MiB.
    pub size_mib: f64,
    /// From the upstream directly.
    pub direct_mib_s: Figure,
    /// The first pull through Portcullis (fetched from the upstream while served).
    pub first_mib_s: Figure,
    /// The second pull through Portcullis (from its storage).
    pub second_mib_s: Figure,
}

impl PullThrough {
    /// The first pull's rate over the direct pull's.
    pub fn first_over_direct(&self) -> f64 {
        crate::stats::ratio(self.first_mib_s.median, self.direct_mib_s.median)
    }
}

/// Measure `repetitions` times, each with a new image and a new Portcullis.
pub async fn measure(bench: &Bench) -> anyhow::Result<PullThrough> {
    let dir = bench.dir.join("pull-through");
    let upstream = launch(bench, Kind::Distribution, &dir.join("upstream"), None).await?;
    let mut result = PullThrough::default();
    let reps = bench.params.repetitions;
    for rep in 1..=reps {
        let tag = format!("r{rep}");
        let layer = push_image(bench, upstream.addr(), &tag).await?;
        result.size_mib = layer.size as f64 / MIB as f64;
        let mib_s = |seconds: f64| result.size_mib / seconds;
        let direct = mib_s(pull(upstream.addr(), &tag, &layer.digest).await?);
        let sync = serde_json::json!({"extensions": {"sync": {"registries": [
            {"urls": [format!("http://{}", upstream.addr())], "onDemand": true},
        ]}}});
        let cache_dir = dir.join(format!("cache-{rep}"));
        let cache = launch(bench, Kind::Portcullis, &cache_dir, Some(&sync)).await?;
        let first = mib_s(pull(cache.addr(), &tag, &layer.digest).await?);
        let second = mib_s(pull(cache.addr(), &tag, &layer.digest).await?);
        cache.stop();
        std::fs::remove_dir_all(&cache_dir)?;
        bench.progress(format!(
            "pull-through {rep}/{reps}: direct {direct:.0} MiB/s, first through the cache \
             {first:.0} MiB/s, second {second:.0} MiB/s"
        ));
        result.direct_mib_s.push(direct);
        result.first_mib_s.push(first);
        result.second_mib_s.push(second);
    }
    upstream.stop();
    std::fs::remove_dir_all(&dir)?;
    Ok(result)
}

async fn launch(
    bench: &Bench,
    kind: Kind,
    dir: &Path,
    extra: Option<&serde_json::Value>,
) -> anyhow::Result<Server> {
    let spec = LaunchSpec {
        kind,
        variant: Variant::Anonymous,
        dir,
        htpasswd: &bench.htpasswd,
        plugin_cache: Some(&bench.plugin_cache),
        extra,
    };
    Ok(Server::launch(&spec, &bench.bins).await?.0)
}

/// Push an image whose layer is a fresh big blob to `upstream` under `tag`; returns the layer.
async fn push_image(
    bench: &Bench,
    upstream: std::net::SocketAddr,
    tag: &str,
) -> anyhow::Result<Descriptor> {
    let mut client = Client::new(upstream, None);
    let blob = bench.fresh_big_blob();
    let layer = Descriptor {
        media_type: LAYER_TYPE,
        digest: blob.digest.clone(),
        size: blob.len(),
    };
    let config_data = bytes::Bytes::from(format!(
        r#"{{"architecture":"amd64","os":"linux","tag":"{tag}"}}"#
    ));
    let config = Descriptor {
        media_type: CONFIG_TYPE,
        digest: crate::blobdata::digest(&config_data),
        size: config_data.len(),
    };
    oci::push_monolithic(&mut client, REPO, config_data.into(), &config.digest).await?;
    oci::push_monolithic(&mut client, REPO, blob.payload(), &blob.digest).await?;
    oci::put_manifest(
        &mut client,
        REPO,
        tag,
        oci::image_manifest(&config, &layer, tag),
    )
    .await?;
    Ok(layer)
}

/// Pull the manifest `tag` and the layer `digest` from `registry`; returns the seconds taken.
async fn pull(registry: std::net::SocketAddr, tag: &str, digest: &str) -> anyhow::Result<f64> {
    let mut client = Client::new(registry, None);
    let started = Instant::now();
    client
        .send(
            Method::GET,
            &format!("/v2/{REPO}/manifests/{tag}"),
            &[(ACCEPT, HeaderValue::from_static(MANIFEST_TYPE))],
            crate::payload::Payload::empty(),
        )
        .await?
        .expect(StatusCode::OK, "pull-through: manifest GET")?;
    oci::pull(&mut client, REPO, digest).await?;
    Ok(started.elapsed().as_secs_f64())
}
