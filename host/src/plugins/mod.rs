//! The WebAssembly plugin runtime: one engine, compiled-component cache, locked-down WASI,
//! per-call deadlines and memory caps, pools of warm instances, and the plugin sets the gate
//! swaps atomically.

mod bindings;
mod contract;
mod engine;
mod kv;
mod plugin;
mod roles;
mod state;

pub use bindings::types;
pub use plugin::{Limits, Plugin, PluginFailure};
pub use roles::{Authn, Authz};

use anyhow::Context;
use std::path::{Path, PathBuf};
use wasmtime::component::{HasSelf, Linker};

/// The default plugins, embedded at build time.
pub fn builtin(name: &str) -> Option<&'static [u8]> {
    match name {
        "htpasswd" => Some(include_bytes!(env!("PORTCULLIS_PLUGIN_HTPASSWD"))),
        "accesscontrol" | "access-control" => {
            Some(include_bytes!(env!("PORTCULLIS_PLUGIN_ACCESS_CONTROL")))
        }
        _ => None,
    }
}

/// Where a plugin's component comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Embedded in the binary.
    Builtin(&'static [u8]),
    /// A file.
    File(PathBuf),
}

/// Everything needed to load one plugin.
#[derive(Clone, Debug)]
pub struct PluginSpec {
    /// Name in logs and key-value namespace.
    pub name: String,
    /// The component.
    pub source: Source,
    /// JSON configuration for `configure`.
    pub config: String,
    /// Limits.
    pub limits: Limits,
}

/// The plugins of one configuration generation.
pub struct PluginSet {
    /// Authenticators, asked in order.
    pub authenticators: Vec<Plugin<Authn>>,
    /// The authorizer; none means every request is allowed (no gate configured).
    pub authorizer: Option<Plugin<Authz>>,
}

/// The engine, the linker and the key-value store, shared by every plugin set.
pub struct PluginRuntime {
    engine: engine::PluginEngine,
    linker: Linker<state::PluginState>,
    kv: kv::KvStore,
}

impl PluginRuntime {
    /// Start the runtime: compiled components are cached in `cache_dir`, the key-value store
    /// lives at `kv_path`.
    pub fn new(cache_dir: PathBuf, kv_path: &Path) -> anyhow::Result<PluginRuntime> {
        let engine = engine::PluginEngine::new(cache_dir)?;
        let mut linker = Linker::new(engine.engine());
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        bindings::authenticator::AuthenticatorPlugin::add_to_linker::<_, HasSelf<_>>(
            &mut linker,
            |s| s,
        )?;
        let kv = kv::KvStore::open(kv_path)
            .with_context(|| format!("cannot open plugin store {}", kv_path.display()))?;
        Ok(PluginRuntime { engine, linker, kv })
    }

    /// Load one plugin of role `R`.
    pub fn load<R: plugin::Role>(&self, spec: &PluginSpec) -> anyhow::Result<Plugin<R>> {
        let owned;
        let bytes: &[u8] = match &spec.source {
            Source::Builtin(b) => b,
            Source::File(path) => {
                owned = std::fs::read(path).with_context(|| {
                    format!("plugin {}: cannot read {}", spec.name, path.display())
                })?;
                &owned
            }
        };
        Plugin::load(
            &self.engine,
            &self.linker,
            &spec.name,
            bytes,
            spec.config.clone(),
            spec.limits,
            self.kv.namespace(&spec.name),
        )
    }

    /// Load a whole set; any failure refuses the set.
    pub fn load_set(
        &self,
        authenticators: &[PluginSpec],
        authorizer: Option<&PluginSpec>,
    ) -> anyhow::Result<PluginSet> {
        let set = PluginSet {
            authenticators: authenticators
                .iter()
                .map(|s| self.load::<Authn>(s))
                .collect::<anyhow::Result<_>>()?,
            authorizer: authorizer.map(|s| self.load::<Authz>(s)).transpose()?,
        };
        release_freed_memory();
        Ok(set)
    }
}

/// Compiling a component allocates tens of MiB that the allocator keeps after it is freed;
/// hand it back to the system once a set is loaded.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory glibc's allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}
