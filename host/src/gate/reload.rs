//! Hot swap: when the configuration file, the htpasswd file or a plugin's component changes,
//! load the new plugin set beside the running one and swap it in. A set that fails to load or
//! validate leaves the running one serving, and the log says why.

use super::{gate_config, Gate};
use crate::fsutil::Fingerprint;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How often the watched files are checked.
const POLL: Duration = Duration::from_millis(500);

/// Watch `config_path` and the files its gate was built from; reload on change. Runs forever.
pub async fn watch(gate: Arc<Gate>, config_path: PathBuf, watched: Vec<PathBuf>) {
    let Some(runtime) = gate.runtime().cloned() else {
        return;
    };
    let mut files = files_of(&config_path, watched);
    let mut seen = Fingerprint::of(&files);
    loop {
        tokio::time::sleep(POLL).await;
        let now = Fingerprint::of(&files);
        if now == seen {
            continue;
        }
        seen = now;
        // Let a writer finish (editors write in several steps), then load what is there.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (runtime, path) = (runtime.clone(), config_path.clone());
        let loaded = tokio::task::spawn_blocking(move || {
            let config = crate::config::load_and_validate(&path)?;
            let gate_config = gate_config(&config, super::Reading::Reload)?;
            let generation = Gate::load(&runtime, &gate_config)?;
            Ok::<_, anyhow::Error>((generation, gate_config.watched))
        })
        .await;
        match loaded {
            Ok(Ok((generation, watched))) => {
                gate.swap(generation);
                files = files_of(&config_path, watched);
                seen = Fingerprint::of(&files);
                tracing::info!(config = %config_path.display(), "reloaded the plugin set");
            }
            Ok(Err(e)) => tracing::error!(
                error = format!("{e:#}"),
                "reload failed; the running plugin set keeps serving"
            ),
            Err(e) => tracing::error!(error = %e, "reload task failed"),
        }
    }
}

fn files_of(config_path: &Path, watched: Vec<PathBuf>) -> Vec<PathBuf> {
    std::iter::once(config_path.to_owned())
        .chain(watched)
        .collect()
}
