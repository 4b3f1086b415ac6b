//! The runtime of one `portcullis plugin` command: the registry's own plugin runtime over a
//! compile cache and a key-value store that are temporary unless named, the registry's default
//! limits, and an async runtime for the calls.

use super::source::PluginFile;
use super::world::{Shape, World};
use crate::plugins::kv::KvLimits;
use crate::plugins::{PluginRuntime, PluginSet, PluginSpec, SetSpec, Source, LINES_PER_SECOND};
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

/// Where the tool keeps its state, and limits other than the registry's defaults.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RuntimeOptions {
    /// Directory for compiled components (default: a temporary directory, removed at exit);
    /// keeping one skips recompiling an unchanged component.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The plugins' key-value store file (default: a new one in a temporary directory, so
    /// every command starts with an empty store).
    #[arg(long, value_name = "PATH")]
    pub kv: Option<PathBuf>,
    /// Deadline of a call, in milliseconds (default: the registry's, 2000 for authenticators
    /// and key managers, 250 for authorizers and claim mappers).
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Memory cap of an instance, in MiB (default: the registry's, 128).
    #[arg(long, value_name = "MIB")]
    pub memory_limit_mb: Option<u64>,
}

/// A plugin runtime for the tool.
pub struct Workbench {
    runtime: PluginRuntime,
    options: RuntimeOptions,
    tokio: tokio::runtime::Runtime,
    _scratch: Scratch,
}

impl Workbench {
    /// A runtime with `options`.
    pub fn new(options: &RuntimeOptions) -> anyhow::Result<Workbench> {
        let scratch = Scratch::new()?;
        let cache = options
            .cache_dir
            .clone()
            .unwrap_or_else(|| scratch.0.join("plugin-cache"));
        let kv = options
            .kv
            .clone()
            .unwrap_or_else(|| scratch.0.join("plugins.redb"));
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start an async runtime")?;
        // Start the thread plugin calls run on, so that a call's time is not a thread's start.
        let started = tokio.spawn_blocking(|| ());
        tokio.block_on(started)?;
        Ok(Workbench {
            runtime: PluginRuntime::new(cache, &kv)?,
            options: options.clone(),
            tokio,
            _scratch: scratch,
        })
    }

    /// Compile `file` (through the cache) and list what it exports and imports.
    pub fn shape(&self, file: &PluginFile) -> anyhow::Result<Shape> {
        let bytes = file.read()?;
        let component = self.runtime.compile(&file.name, &bytes)?;
        Ok(Shape::of(self.runtime.engine(), &component))
    }

    /// Load `file` into the slot of `world` with `config` (JSON), as the registry loads a
    /// configuration's plugin set: compile, contract check, link, `configure`, and for an
    /// authorizer the `anonymous-access` and `decision-reuse` questions. Errors are the registry's messages.
    pub fn load(&self, file: &PluginFile, world: World, config: &str) -> anyhow::Result<PluginSet> {
        let mut limits = crate::gate::default_limits(world.default_deadline());
        if let Some(ms) = self.options.timeout_ms {
            limits.deadline = Duration::from_millis(ms);
        }
        if let Some(mb) = self.options.memory_limit_mb {
            limits.memory = (mb as usize) << 20;
        }
        let spec = PluginSpec {
            name: file.name.clone(),
            source: Source::File(file.path.clone()),
            config: config.to_owned(),
            limits,
            kv: KvLimits::default(),
            log_per_second: LINES_PER_SECOND,
        };
        let set = match world {
            World::Authenticator => SetSpec {
                authenticators: vec![spec],
                ..SetSpec::default()
            },
            // The registry also puts the key manager in the authenticator chain.
            World::ApiKeys => SetSpec {
                authenticators: vec![spec.clone()],
                keys: Some(spec),
                ..SetSpec::default()
            },
            World::ClaimMapper => SetSpec {
                claims: Some(spec),
                ..SetSpec::default()
            },
            World::Authorizer => SetSpec {
                authorizer: Some(spec),
                ..SetSpec::default()
            },
        };
        self.runtime.load_set(&set)
    }

    /// Run a future (a plugin call) to completion.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.tokio.block_on(future)
    }
}

/// A temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> anyhow::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("portcullis-plugin-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
