//! Starting the registry: storage, background housekeeping, the HTTP(S) listener, shutdown.

mod body;
mod connection;
mod limits;
mod listener;
mod own_plugins;
mod tls;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::gate::{self, Gate};
use crate::metrics::Metrics;
use crate::plugins::PluginRuntime;
use crate::sessions::SessionStore;
use crate::storage::{Storage, StorageOptions};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often expired browser sessions are removed.
const SESSION_SWEEP: Duration = Duration::from_secs(600);
/// How often abandoned upload sessions are looked for.
const UPLOAD_SWEEP: Duration = Duration::from_secs(60);

/// The storage settings of `config`.
pub fn storage_options(config: &Config) -> StorageOptions {
    let s = &config.storage;
    let defaults = StorageOptions::new(s.rootdirectory.clone());
    StorageOptions {
        dedupe: s.dedupe,
        max_blob_size: s.maxblobsize.unwrap_or(defaults.max_blob_size),
        max_uploads: s.maxuploads.unwrap_or(defaults.max_uploads),
        max_uploads_per_repository: s
            .maxuploadsperrepository
            .unwrap_or(defaults.max_uploads_per_repository),
        upload_timeout: s.uploadtimeout.unwrap_or(defaults.upload_timeout),
        max_repos: s.maxrepos.unwrap_or(defaults.max_repos),
        ..defaults
    }
}

/// Serve until SIGINT or SIGTERM. With a configuration file, its gate is loaded and the file
/// (and everything the gate was built from) is watched for hot swaps. `on_ready` runs once,
/// when start-up is over and the listener is about to accept connections.
pub async fn serve(
    config: Config,
    config_path: Option<PathBuf>,
    on_ready: impl FnOnce(),
) -> anyhow::Result<()> {
    let fd_limit = limits::raise_fd_limit();
    let storage = Storage::open(storage_options(&config))
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
    tokio::spawn(expire_uploads(storage.clone()));
    let gate = match config_path {
        None => Arc::new(Gate::open()),
        Some(path) => start_gate(&config, path, &storage).await?,
    };
    let sync = match config.sync() {
        Some(sync) => {
            let sync = crate::sync::Sync::new(sync, storage.clone())?;
            sync.start_polling();
            Some(sync)
        }
        None => None,
    };
    let state = Arc::new(AppState {
        storage: storage.clone(),
        sync,
        gate,
        metrics: Metrics::default(),
        body: api::body::BodyLimits {
            min_rate: config.http.minbodyrate.unwrap_or(api::body::MIN_BODY_RATE),
            window: config
                .http
                .bodyratewindow
                .unwrap_or(api::body::BODY_RATE_WINDOW),
            read_timeout: config.http.readtimeout.filter(|t| !t.is_zero()),
        },
        write_timeout: config.http.writetimeout.filter(|t| !t.is_zero()),
    });
    let app = api::App::new(state, config.metrics_path().as_deref());
    let addr = resolve(&config.http.address, config.http.port).await?;
    let tls = match &config.http.tls {
        Some(t) => Some(tls::acceptor(t.cert.clone(), t.key.clone())?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let limits = limits::ListenerLimits::new(&config.http, fd_limit);
    tracing::info!(
        addr = %listener.local_addr()?,
        tls = tls.is_some(),
        max_connections = limits.max_connections,
        "listening"
    );
    on_ready();
    listener::run(listener, tls, app, limits, shutdown_signal()).await;
    // Every index is written whole, so that the layout on disk is complete without the
    // journals (for zot and other tools reading the same root).
    if let Err(e) = storage.flush().await {
        tracing::error!(error = %e, "cannot write out the indexes; their journals are kept");
    }
    tracing::info!("stopped");
    Ok(())
}

/// What `verify` adds to the configuration checks: load every plugin and let each check its
/// own configuration, in a scratch runtime (the compile cache is used if it already exists;
/// nothing is written under the storage root).
pub fn verify_plugins(config: &Config) -> anyhow::Result<()> {
    let gate_config = gate::gate_config(config, gate::Reading::Start)?;
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

/// Load the configuration's plugins (those published to this registry from its storage) and
/// start watching for changes.
async fn start_gate(
    config: &Config,
    config_path: PathBuf,
    storage: &Storage,
) -> anyhow::Result<Arc<Gate>> {
    let private = config.storage.rootdirectory.join("_portcullis");
    let cache_dir = plugin_cache_dir(config);
    let gate_config = gate::gate_config(config, gate::Reading::Start)?;
    let port = config.http.port;
    let own: Vec<String> = [config.http.address.as_str(), "localhost", "127.0.0.1"]
        .iter()
        .map(|host| format!("{host}:{port}"))
        .collect();
    let pulled = crate::plugins::pulled_dir(&cache_dir);
    own_plugins::seed(storage, &gate_config.set, &own, &pulled).await;
    let hash_key = match config
        .http
        .auth
        .as_ref()
        .and_then(|a| a.sessionkeysfile.as_ref())
    {
        Some(path) => {
            crate::config::secrets::session_keys(path)
                .map_err(anyhow::Error::msg)?
                .hashkey
        }
        None => None,
    };
    let (runtime, generation, watched, sessions) = tokio::task::spawn_blocking(move || {
        let runtime = PluginRuntime::new(cache_dir, &private.join("plugins.redb"))?;
        let generation = Gate::load(&runtime, &gate_config)?;
        let sessions = SessionStore::open(
            &private.join("sessions.redb"),
            hash_key.as_deref(),
            &private.join("session.key"),
        )?;
        Ok::<_, anyhow::Error>((Arc::new(runtime), generation, gate_config.watched, sessions))
    })
    .await??;
    let sessions = Arc::new(sessions);
    tokio::spawn(sweep_sessions(sessions.clone()));
    let gate = Arc::new(Gate::new(runtime, generation, sessions));
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

async fn collect_garbage(storage: Arc<Storage>, interval: Duration, delay: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate; start one interval after boot
    loop {
        ticker.tick().await;
        match storage.collect_garbage(delay).await {
            Ok(report) => tracing::info!(
                blobs = report.blobs_removed,
                uploads = report.uploads_removed,
                skipped = report.repositories_skipped,
                "garbage collected"
            ),
            Err(e) => tracing::error!(error = %e, "garbage collection failed"),
        }
    }
}

async fn expire_uploads(storage: Arc<Storage>) {
    let mut ticker = tokio::time::interval(UPLOAD_SWEEP);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let expired = storage.expire_uploads().await;
        if expired > 0 {
            tracing::info!(expired, "abandoned upload sessions removed");
        }
    }
}

async fn sweep_sessions(sessions: Arc<SessionStore>) {
    let mut ticker = tokio::time::interval(SESSION_SWEEP);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match sessions.sweep().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired sessions removed"),
            Err(e) => tracing::error!(error = %e, "session sweep failed"),
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
