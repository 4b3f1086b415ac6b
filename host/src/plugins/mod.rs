//! The WebAssembly plugin runtime: one engine, compiled-component cache, locked-down WASI,
//! per-call deadlines and memory caps, pools of warm instances on bounded thread pools, every
//! supported contract version side by side, and the plugin sets the gate swaps atomically.

mod bindings;
mod contract;
pub mod decisions;
mod engine;
pub mod kv;
pub mod metrics;
pub mod model;
pub mod oci;
mod output;
mod plugin;
mod roles;
mod state;

pub use bindings::{ContractVersion, CONTRACT_PACKAGE};
pub use plugin::{
    CallError, FailureKind, Limits, Plugin, PluginFailure, Role, CONCURRENCY, QUEUE_TIMEOUT,
};
pub use roles::{Authn, Authz, Claims, Keys};

use anyhow::Context;
use model::AnonymousAccess;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};

pub use output::{LINES_PER_SECOND, LOG_TARGET};

/// The default plugins, embedded at build time.
pub fn builtin(name: &str) -> Option<&'static [u8]> {
    match name {
        "htpasswd" => Some(include_bytes!(env!("PORTCULLIS_PLUGIN_HTPASSWD"))),
        "accesscontrol" | "access-control" => {
            Some(include_bytes!(env!("PORTCULLIS_PLUGIN_ACCESS_CONTROL")))
        }
        "api-keys" | "apikeys" => Some(include_bytes!(env!("PORTCULLIS_PLUGIN_API_KEYS"))),
        "workload-identity" => Some(include_bytes!(env!("PORTCULLIS_PLUGIN_WORKLOAD_IDENTITY"))),
        _ => None,
    }
}

/// The `source` of identities the built-in api-keys plugin proves.
pub const API_KEY_SOURCE: &str = "api-key";

/// Where a plugin's component comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Embedded in the binary.
    Builtin(&'static [u8]),
    /// A file.
    File(PathBuf),
    /// An OCI artifact pinned by digest, pulled into the cache directory on first use.
    Oci {
        /// Where it is published (with a digest).
        reference: oci::PluginReference,
        /// Skip TLS certificate checks and allow plain HTTP (a local registry).
        insecure: bool,
        /// Credentials for its registry; none: anonymous.
        credentials: Option<crate::sync::upstream::Credentials>,
    },
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
    /// Bounds of the plugin's key-value namespace.
    pub kv: kv::KvLimits,
    /// Lines per second the plugin may log.
    pub log_per_second: u32,
}

/// The plugins one configuration asks for.
#[derive(Clone, Debug, Default)]
pub struct SetSpec {
    /// Authenticators, in order.
    pub authenticators: Vec<PluginSpec>,
    /// The plugin managing API keys (also listed among the authenticators).
    pub keys: Option<PluginSpec>,
    /// The plugin mapping verified token claims to identities.
    pub claims: Option<PluginSpec>,
    /// The authorizer.
    pub authorizer: Option<PluginSpec>,
}

/// The plugins of one configuration generation.
pub struct PluginSet {
    /// Authenticators, asked in order.
    pub authenticators: Vec<Arc<Plugin<Authn>>>,
    /// The API-key manager, if API keys are on.
    pub keys: Option<Arc<Plugin<Keys>>>,
    /// The claim mapper, if workload identity tokens are configured.
    pub claims: Option<Arc<Plugin<Claims>>>,
    /// The authorizer; none means every request is allowed (no gate configured).
    pub authorizer: Option<Arc<Plugin<Authz>>>,
    /// What the authorizer may grant anonymously.
    pub anonymous: AnonymousAccess,
    /// The authorizer's decisions the host may reuse (none: ask it about every access).
    pub decisions: Option<decisions::DecisionMemory>,
}

impl PluginSet {
    /// No plugins at all.
    pub fn empty() -> PluginSet {
        PluginSet {
            authenticators: Vec::new(),
            keys: None,
            claims: None,
            authorizer: None,
            anonymous: AnonymousAccess::UNKNOWN,
            decisions: None,
        }
    }
}

/// Where components pulled from registries are kept, under the compile cache `cache_dir`.
pub fn pulled_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("oci")
}

/// The engine, the linker and the key-value store, shared by every plugin set.
pub struct PluginRuntime {
    engine: engine::PluginEngine,
    linker: Linker<state::PluginState>,
    kv: kv::KvStore,
    /// Where components pulled from registries are kept.
    pulled: PathBuf,
}

impl PluginRuntime {
    /// Start the runtime: compiled components are cached in `cache_dir`, the key-value store
    /// lives at `kv_path`.
    pub fn new(cache_dir: PathBuf, kv_path: &Path) -> anyhow::Result<PluginRuntime> {
        let pulled = pulled_dir(&cache_dir);
        let engine = engine::PluginEngine::new(cache_dir)?;
        let mut linker = Linker::new(engine.engine());
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        // Timers cut at the call's deadline, over wasmtime-wasi's own clock.
        linker.allow_shadowing(true);
        wasmtime_wasi::p2::bindings::clocks::monotonic_clock::add_to_linker::<
            _,
            HasSelf<state::PluginState>,
        >(&mut linker, |s| s)?;
        linker.allow_shadowing(false);
        bindings::v0_1::authenticator::AuthenticatorPlugin::add_to_linker::<_, HasSelf<_>>(
            &mut linker,
            |s| s,
        )?;
        bindings::v0_2::authenticator::AuthenticatorPlugin::add_to_linker::<_, HasSelf<_>>(
            &mut linker,
            |s| s,
        )?;
        let kv = kv::KvStore::open(kv_path)
            .with_context(|| format!("cannot open plugin store {}", kv_path.display()))?;
        Ok(PluginRuntime {
            engine,
            linker,
            kv,
            pulled,
        })
    }

    /// The wasmtime engine every plugin runs on.
    pub fn engine(&self) -> &wasmtime::Engine {
        self.engine.engine()
    }

    /// Compile `bytes` (or load the compiled form from the cache), as loading a plugin does,
    /// without checking the contract or instantiating: for looking at its exports and imports.
    pub fn compile(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> anyhow::Result<wasmtime::component::Component> {
        self.engine.load(name, bytes)
    }

    /// Load one plugin of role `R`.
    pub fn load<R: plugin::Role>(&self, spec: &PluginSpec) -> anyhow::Result<Arc<Plugin<R>>> {
        let owned;
        let bytes: &[u8] = match &spec.source {
            Source::Builtin(b) => b,
            Source::File(path) => {
                owned = std::fs::read(path).with_context(|| {
                    format!("plugin {}: cannot read {}", spec.name, path.display())
                })?;
                &owned
            }
            Source::Oci {
                reference,
                insecure,
                credentials,
            } => {
                let access = oci::Access {
                    insecure: *insecure,
                    credentials: credentials.clone(),
                };
                owned = oci::fetch(&self.pulled, reference, &access)
                    .with_context(|| format!("plugin {}", spec.name))?;
                &owned
            }
        };
        let cx = plugin::LoadContext {
            engine: &self.engine,
            linker: &self.linker,
            kv: self.kv.namespace(&spec.name, spec.kv),
            log: output::LogBudget::new(spec.name.as_str().into(), spec.log_per_second),
        };
        Plugin::load(cx, &spec.name, bytes, spec.config.clone(), spec.limits).map(Arc::new)
    }

    /// Load a whole set; any failure refuses the set.
    pub fn load_set(&self, spec: &SetSpec) -> anyhow::Result<PluginSet> {
        let authorizer = spec
            .authorizer
            .as_ref()
            .map(|s| self.load::<Authz>(s))
            .transpose()?;
        let (anonymous, decisions) = match &authorizer {
            Some(a) => {
                let anonymous = a.anonymous_access()?;
                let reuse = a.decision_reuse()?;
                if !reuse.is_zero() {
                    tracing::info!(
                        plugin = a.name(),
                        reuse_ms = reuse.as_millis() as u64,
                        "the authorizer's decisions are reused"
                    );
                }
                (anonymous, decisions::DecisionMemory::new(a.name(), reuse))
            }
            None => (AnonymousAccess::UNKNOWN, None),
        };
        let set = PluginSet {
            authenticators: spec
                .authenticators
                .iter()
                .map(|s| self.load::<Authn>(s))
                .collect::<anyhow::Result<_>>()?,
            keys: spec
                .keys
                .as_ref()
                .map(|s| self.load::<Keys>(s))
                .transpose()?,
            claims: spec
                .claims
                .as_ref()
                .map(|s| self.load::<Claims>(s))
                .transpose()?,
            authorizer,
            anonymous,
            decisions,
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
