//! Pushing and pulling a plugin artifact, over the pull-through cache's upstream client (its
//! authentication, TLS options, retries, deadlines and bounded reads).

use super::artifact::{self, MANIFEST_MEDIA_TYPE, MAX_PLUGIN_BYTES};
use super::reference::PluginReference;
use crate::config::sync::RegistryConfig;
use crate::oci::digest::{Algorithm, Digest};
use crate::sync::upstream::{
    read_bounded, read_small, Credentials, CredentialsFile, Patience, Session, Upstream,
    UpstreamError,
};
use anyhow::Context;
use bytes::Bytes;
use reqwest::{Method, StatusCode};
use std::time::Duration;

/// Deadline of one call to the registry (a 64 MiB component fits in it on a slow link).
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Retries of a call that found no registry.
const RETRIES: u32 = 2;
/// Pause between those retries.
const RETRY_DELAY: Duration = Duration::from_millis(500);

/// How to reach a registry.
#[derive(Clone, Default)]
pub struct Access {
    /// Do not check the registry's TLS certificate, and try plain HTTP after HTTPS (a local
    /// registry), as skopeo's `--tls-verify=false` does.
    pub insecure: bool,
    /// User name and password; none: anonymous.
    pub credentials: Option<Credentials>,
}

/// A pulled plugin.
pub struct Pulled {
    /// The manifest's digest.
    pub manifest_digest: Digest,
    /// The manifest.
    pub manifest: Bytes,
    /// The component.
    pub component: Bytes,
    /// The contract annotation, when the manifest has one.
    pub contract: Option<String>,
}

/// The client of the registry `reference` names.
fn upstream(reference: &PluginReference, access: &Access) -> anyhow::Result<Upstream> {
    let mut urls = vec![format!("https://{}", reference.host)];
    if access.insecure {
        urls.push(format!("http://{}", reference.host));
    }
    let config = RegistryConfig::client(urls, !access.insecure, CALL_TIMEOUT, RETRIES, RETRY_DELAY);
    let credentials: CredentialsFile = access
        .credentials
        .iter()
        .map(|c| (reference.host.clone(), c.clone()))
        .collect();
    Upstream::new(&config, &credentials)
}

/// Push `component` to `reference` (its tag, or by digest) with the contract annotation
/// `contract`; the manifest's digest.
pub async fn push(
    reference: &PluginReference,
    access: &Access,
    component: Bytes,
    contract: &str,
    title: &str,
) -> anyhow::Result<Digest> {
    anyhow::ensure!(
        component.len() <= MAX_PLUGIN_BYTES,
        "the component is {} bytes, more than the {MAX_PLUGIN_BYTES} a plugin may be",
        component.len()
    );
    let manifest = Bytes::from(artifact::manifest(&component, contract, title));
    let digest = Digest::of(Algorithm::Sha256, &manifest);
    if let Some(wanted) = &reference.digest {
        anyhow::ensure!(
            *wanted == digest,
            "{reference}: the manifest of this component has digest {digest}; push to a tag"
        );
    }
    let target = reference.tag.clone().unwrap_or_else(|| digest.to_string());
    let upstream = upstream(reference, access)?;
    let repo = reference.repository.as_str();
    upstream
        .with_retries(Patience::Waiting, |i| {
            let (manifest, component, target) = (manifest.clone(), component.clone(), &target);
            let upstream = &upstream;
            async move {
                let session = upstream.session(i, repo, "pull,push")?;
                upload_blob(&session, Bytes::from_static(artifact::EMPTY_CONFIG)).await?;
                upload_blob(&session, component).await?;
                let url = session.url(&format!("manifests/{target}"))?;
                session
                    .send(
                        Method::PUT,
                        &url,
                        None,
                        Some((MANIFEST_MEDIA_TYPE, manifest)),
                    )
                    .await?;
                Ok(())
            }
        })
        .await
        .with_context(|| format!("cannot push to {reference}"))?;
    Ok(digest)
}

/// Upload one blob unless the repository has it: a POST opens an upload, a PUT to where its
/// answer points closes it with the whole content.
async fn upload_blob(session: &Session<'_>, blob: Bytes) -> Result<(), UpstreamError> {
    let digest = Digest::of(Algorithm::Sha256, &blob);
    let existing = session.url(&format!("blobs/{digest}"))?;
    match session.send(Method::HEAD, &existing, None, None).await {
        Ok(_) => return Ok(()),
        Err(UpstreamError::NotFound) => {}
        Err(e) => return Err(e),
    }
    let start = session.url("blobs/uploads/")?;
    let opened = session.send(Method::POST, &start, None, None).await?;
    if opened.status() != StatusCode::ACCEPTED {
        return Err(UpstreamError::Invalid(format!(
            "opening an upload answered {}",
            opened.status()
        )));
    }
    let location = opened
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| UpstreamError::Invalid("an upload without Location".into()))?;
    let mut url = session.url(location)?;
    url.query_pairs_mut()
        .append_pair("digest", &digest.to_string());
    session
        .send(
            Method::PUT,
            &url,
            None,
            Some(("application/octet-stream", blob)),
        )
        .await?;
    Ok(())
}

/// Pull the plugin `reference` names: the manifest (checked against the reference's digest
/// when it has one), then its component (checked against the layer's digest and size).
pub async fn pull(reference: &PluginReference, access: &Access) -> anyhow::Result<Pulled> {
    let upstream = upstream(reference, access)?;
    let repo = reference.repository.as_str();
    let fail = || format!("cannot pull {reference}");
    let response = upstream
        .get(
            repo,
            &format!("manifests/{}", reference.manifest_reference()),
            Some(MANIFEST_MEDIA_TYPE),
            true,
            Patience::Waiting,
        )
        .await
        .with_context(fail)?;
    let manifest = read_small(response).await.with_context(fail)?;
    let (manifest_digest, layer) = artifact::check_manifest(&manifest, reference.digest.as_ref())
        .map_err(|e| anyhow::anyhow!("{reference}: {e}"))?;
    let response = upstream
        .get(
            repo,
            &format!("blobs/{}", layer.digest),
            None,
            true,
            Patience::Waiting,
        )
        .await
        .with_context(fail)?;
    let component = read_bounded(response, MAX_PLUGIN_BYTES)
        .await
        .with_context(fail)?;
    artifact::check_component(&layer, &component)
        .map_err(|e| anyhow::anyhow!("{reference}: {e}"))?;
    let contract = serde_json::from_slice::<serde_json::Value>(&manifest)
        .ok()
        .and_then(|m| {
            m["annotations"][artifact::CONTRACT_ANNOTATION]
                .as_str()
                .map(str::to_owned)
        });
    Ok(Pulled {
        manifest_digest,
        manifest,
        component,
        contract,
    })
}

/// Run `work` to completion on a thread of its own with its own async runtime, from any
/// caller (a command, or the registry loading a configuration inside its runtime).
pub fn blocking<T: Send>(
    work: impl std::future::Future<Output = anyhow::Result<T>> + Send,
) -> anyhow::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start an async runtime")?
                .block_on(work)
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the registry client panicked"))?
    })
}
