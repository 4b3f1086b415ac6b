//! HTTPS: the certificate and key of `http.tls`, reloaded when either file changes (a renewed
//! certificate is served to new connections without a restart; a pair that does not load
//! leaves the current one serving, and the log says why).

use crate::fsutil::Fingerprint;
use anyhow::Context;
use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How often the certificate files are checked for changes.
const POLL: Duration = Duration::from_secs(2);

/// The certificate currently served, swappable.
#[derive(Debug)]
struct Current(ArcSwap<CertifiedKey>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// Read a PEM certificate chain and private key.
fn load(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("cannot read certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("{} holds no certificate", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("cannot read private key {}: {e}", key.display()))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .context("unsupported private key type")?;
    let certified = CertifiedKey::new(chain, signer);
    certified
        .keys_match()
        .context("the private key does not belong to the certificate")?;
    Ok(certified)
}

/// A TLS acceptor for `cert`/`key` that follows changes to both files.
pub fn acceptor(cert: PathBuf, key: PathBuf) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let current = Arc::new(Current(ArcSwap::from_pointee(load(&cert, &key)?)));
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_cert_resolver(current.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio::spawn(follow(current, cert, key));
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Reload the pair whenever either file changes. Runs for the life of the server.
async fn follow(current: Arc<Current>, cert: PathBuf, key: PathBuf) {
    let files = [cert.clone(), key.clone()];
    let mut seen = Fingerprint::of(&files);
    loop {
        tokio::time::sleep(POLL).await;
        let now = Fingerprint::of(&files);
        if now == seen {
            continue;
        }
        // Let a writer replacing both files finish before reading them.
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen = Fingerprint::of(&files);
        let (c, k) = (cert.clone(), key.clone());
        match tokio::task::spawn_blocking(move || load(&c, &k)).await {
            Ok(Ok(pair)) => {
                current.0.store(Arc::new(pair));
                tracing::info!(cert = %cert.display(), "reloaded the TLS certificate");
            }
            Ok(Err(e)) => tracing::error!(
                error = format!("{e:#}"),
                "TLS certificate reload failed; the current certificate keeps serving"
            ),
            Err(e) => tracing::error!(error = %e, "TLS certificate reload task failed"),
        }
    }
}
