//! What each registry holds before the measurements: an image tagged `latest` (manifest GET,
//! blob HEAD, manifest pushes reuse its config and layer) and a big blob to pull.

use crate::bench::Bench;
use crate::blobdata::random_bytes;
use crate::client::Client;
use crate::oci::{self, Descriptor, CONFIG_TYPE, LAYER_TYPE};
use bytes::Bytes;

/// Repository of the image.
pub const APP_REPO: &str = "bench/app";
/// Repository the manifest pushes go to (holding the image's config and layer too).
pub const MANIFEST_REPO: &str = "bench/manifests";
/// Repository of the blob to pull.
pub const PULL_REPO: &str = "bench/pull";
/// The image's tag.
pub const TAG: &str = "latest";

/// What a registry was given to serve.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The image's config.
    pub config: Descriptor,
    /// Its one layer.
    pub layer: Descriptor,
    /// The big blob in [`PULL_REPO`].
    pub pull_digest: String,
}

/// The image config and layer every registry gets.
fn image_blobs() -> [(Descriptor, Bytes); 2] {
    let config = Bytes::from_static(
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    let layer = Bytes::from(random_bytes(4096, 11));
    [(CONFIG_TYPE, config), (LAYER_TYPE, layer)].map(|(media_type, data)| {
        let descriptor = Descriptor {
            media_type,
            digest: crate::blobdata::digest(&data),
            size: data.len(),
        };
        (descriptor, data)
    })
}

/// The image manifest's size, for the HTTP ceiling's equivalent body.
pub fn manifest_size() -> usize {
    let [(config, _), (layer, _)] = image_blobs();
    oci::image_manifest(&config, &layer, TAG).len()
}

/// Push the image (tagged [`TAG`] in [`APP_REPO`]; its blobs also in `more_repos`) through
/// `client` (authorized to write); returns its config and layer.
pub async fn push_image(
    client: &mut Client,
    more_repos: &[&str],
) -> anyhow::Result<(Descriptor, Descriptor)> {
    let [(config, config_data), (layer, layer_data)] = image_blobs();
    for repo in std::iter::once(&APP_REPO).chain(more_repos) {
        oci::push_monolithic(client, repo, config_data.clone().into(), &config.digest).await?;
        oci::push_monolithic(client, repo, layer_data.clone().into(), &layer.digest).await?;
    }
    oci::put_manifest(
        client,
        APP_REPO,
        TAG,
        oci::image_manifest(&config, &layer, TAG),
    )
    .await?;
    Ok((config, layer))
}

/// Push the fixture through `client` (authorized to write).
pub async fn push(bench: &Bench, client: &mut Client) -> anyhow::Result<Fixture> {
    let (config, layer) = push_image(client, &[MANIFEST_REPO]).await?;
    let pull = bench.fresh_big_blob();
    oci::push_monolithic(client, PULL_REPO, pull.payload(), &pull.digest).await?;
    Ok(Fixture {
        config,
        layer,
        pull_digest: pull.digest,
    })
}
