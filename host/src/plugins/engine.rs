//! The one wasmtime engine: pooling allocator, epoch interruption with a 10 ms ticker, and an
//! on-disk cache of compiled components keyed by content hash and engine compatibility.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Time between epoch ticks: the granularity of plugin deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Largest memory any plugin instance may be given (per-plugin caps are at most this).
pub const MAX_MEMORY_BYTES: usize = 1 << 30;
/// Instance slots in the pooling allocator.
const POOL_INSTANCES: u32 = 256;

/// The engine plus the compile cache directory.
#[derive(Clone)]
pub struct PluginEngine {
    engine: Engine,
    cache_dir: PathBuf,
}

impl PluginEngine {
    /// Create the engine and start its epoch ticker. Falls back to on-demand allocation when
    /// the pooling allocator cannot reserve its address space.
    pub fn new(cache_dir: PathBuf) -> anyhow::Result<PluginEngine> {
        let engine = match Engine::new(&config(true)) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "pooling allocator unavailable; instances allocate on demand");
                Engine::new(&config(false))?
            }
        };
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => return,
                }
            })?;
        Ok(PluginEngine { engine, cache_dir })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compile `bytes`, or load the compiled form from the cache.
    pub fn load(&self, name: &str, bytes: &[u8]) -> anyhow::Result<Component> {
        let cached = self.cache_path(bytes);
        if cached.exists() {
            // SAFETY: the file was written by `precompile_component` of an engine with the
            // same compatibility hash (it is part of the file name), under a directory only
            // this registry writes.
            match unsafe { Component::deserialize_file(&self.engine, &cached) } {
                Ok(component) => {
                    tracing::debug!(plugin = name, path = %cached.display(), "loaded compiled plugin from cache");
                    super::metrics::loaded(name, "cache");
                    return Ok(component);
                }
                Err(e) => {
                    tracing::warn!(plugin = name, error = %e, "ignoring unusable cached compilation")
                }
            }
        }
        let started = Instant::now();
        let compiled = self.engine.precompile_component(bytes).map_err(|e| {
            anyhow::anyhow!("plugin {name}: not a valid WebAssembly component: {e:#}")
        })?;
        tracing::info!(
            plugin = name,
            ms = started.elapsed().as_millis() as u64,
            "compiled plugin"
        );
        if let Err(e) = crate::fsutil::write_atomic(&cached, &compiled) {
            tracing::warn!(plugin = name, error = %e, "cannot cache compiled plugin");
        }
        super::metrics::loaded(name, "compiled");
        // SAFETY: `compiled` was produced just now by this engine.
        Ok(unsafe { Component::deserialize(&self.engine, &compiled) }?)
    }

    fn cache_path(&self, bytes: &[u8]) -> PathBuf {
        let mut compat = std::hash::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut compat);
        let content = hex::encode(Sha256::digest(bytes));
        self.cache_dir
            .join(format!("{content}-{:016x}.cwasm", compat.finish()))
    }
}

fn config(pooling: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.parallel_compilation(true);
    // Plugins are synchronous request/response functions: without the data structures for
    // concurrent guests a component call is several times cheaper.
    config.concurrency_support(false);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES);
        pool.total_core_instances(POOL_INSTANCES * 4);
        pool.total_memories(POOL_INSTANCES * 2);
        pool.total_tables(POOL_INSTANCES * 4);
        pool.max_memory_size(MAX_MEMORY_BYTES);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}
