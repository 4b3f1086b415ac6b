//! Starting the registry: storage, garbage collection, the HTTP(S) listener, shutdown.

use crate::api::{self, AppState};
use crate::config::Config;
use crate::gate::{self, Gate};
use crate::metrics::Metrics;
use crate::plugins::PluginRuntime;
use crate::storage::{Storage, StorageOptions};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Serve until SIGINT or SIGTERM. With a configuration file, its gate is loaded and the file
/// (and everything the gate was built from) is watched for hot swaps.
pub async fn serve(config: Config, config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let storage = Storage::open(StorageOptions {
        root: config.storage.rootdirectory.clone(),
        dedupe: config.storage.dedupe,
    })
    .await
    .with_context(|| {
        format!(
            "cannot open storage at {}",
            config.storage.rootdirectory.display()
        )
    })?;
    let storage = Arc::new(storage);
    if config.storage.gc {
        tokio::spawn(collect_garbage(
            storage.clone(),
            config.storage.gcinterval,
            config.storage.gcdelay,
        ));
    }
    let gate = match config_path {
        None => Arc::new(Gate::open()),
        Some(path) => start_gate(&config, path).await?,
    };
    let state = Arc::new(AppState {
        storage,
        gate,
        metrics: Metrics::default(),
    });
    let app = api::router(state, config.metrics_path().as_deref());
    let addr = resolve(&config.http.address, config.http.port).await?;
    match &config.http.tls {
        None => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            tracing::info!(addr = %listener.local_addr()?, tls = false, "listening");
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
        }
        Some(tls) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let rustls = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                .await
                .context("cannot load http.tls certificate or key")?;
            let handle = axum_server::Handle::new();
            let on_signal = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                on_signal.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
            });
            let announce = handle.clone();
            tokio::spawn(async move {
                if let Some(bound) = announce.listening().await {
                    tracing::info!(addr = %bound, tls = true, "listening");
                }
            });
            axum_server::bind_rustls(addr, rustls)
                .handle(handle)
                .serve(app.into_make_service())
                .await?;
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// What `verify` adds to the configuration checks: load every plugin and let each check its
/// own configuration, in a scratch runtime (the compile cache is used if it already exists;
/// nothing is written under the storage root).
pub fn verify_plugins(config: &Config) -> anyhow::Result<()> {
    let gate_config = gate::gate_config(config)?;
    if gate_config.is_open() {
        return Ok(());
    }
    let scratch = std::env::temp_dir().join(format!("portcullis-verify-{}", uuid::Uuid::new_v4()));
    let cache_dir = plugin_cache_dir(config);
    let cache_dir = if cache_dir.is_dir() {
        cache_dir
    } else {
        scratch.join("cache")
    };
    let result = PluginRuntime::new(cache_dir, &scratch.join("kv.redb"))
        .and_then(|runtime| Gate::load(&runtime, &gate_config).map(drop));
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn plugin_cache_dir(config: &Config) -> PathBuf {
    config
        .plugins
        .as_ref()
        .and_then(|p| p.cachedirectory.clone())
        .unwrap_or_else(|| {
            config
                .storage
                .rootdirectory
                .join("_portcullis")
                .join("plugin-cache")
        })
}

/// Load the configuration's plugins and start watching for changes.
async fn start_gate(config: &Config, config_path: PathBuf) -> anyhow::Result<Arc<Gate>> {
    let private = config.storage.rootdirectory.join("_portcullis");
    let cache_dir = plugin_cache_dir(config);
    let gate_config = gate::gate_config(config)?;
    let (runtime, generation, watched) = tokio::task::spawn_blocking(move || {
        let runtime = PluginRuntime::new(cache_dir, &private.join("plugins.redb"))?;
        let generation = Gate::load(&runtime, &gate_config)?;
        Ok::<_, anyhow::Error>((Arc::new(runtime), generation, gate_config.watched))
    })
    .await??;
    let gate = Arc::new(Gate::new(runtime, generation));
    tokio::spawn(gate::watch(gate.clone(), config_path, watched));
    Ok(gate)
}

async fn resolve(address: &str, port: u16) -> anyhow::Result<SocketAddr> {
    tokio::net::lookup_host((address, port))
        .await
        .with_context(|| format!("cannot resolve http.address {address:?}"))?
        .next()
        .with_context(|| format!("http.address {address:?} has no address"))
}

async fn collect_garbage(
    storage: Arc<Storage>,
    interval: std::time::Duration,
    delay: std::time::Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate; start one interval after boot
    loop {
        ticker.tick().await;
        match storage.collect_garbage(delay).await {
            Ok(report) => tracing::info!(
                blobs = report.blobs_removed,
                uploads = report.uploads_removed,
                "garbage collected"
            ),
            Err(e) => tracing::error!(error = %e, "garbage collection failed"),
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
