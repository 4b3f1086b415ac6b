//! One loaded plugin: its pre-linked component, a pool of warm configured instances, and the
//! bounded pool of threads its calls run on.
//!
//! An instance is configured once and then reused for many calls (about a microsecond each,
//! against tens of microseconds for a fresh one). Every call runs off the async workers, on the
//! plugin's own bounded pool: a slow or hostile plugin costs its callers, not everyone's, and a
//! saturated plugin is answered 503 rather than queued without end. Each call arms the epoch
//! deadline just before entering the guest. A call that traps, overruns its deadline or memory
//! cap, or returns something malformed fails closed: the instance is discarded and the caller
//! gets a [`PluginFailure`].

use super::bindings::ContractVersion;
use super::contract;
use super::engine::{PluginEngine, EPOCH_TICK};
use super::kv::KvNamespace;
use super::metrics::{self, Outcome};
use super::output::LogBudget;
use super::state::PluginState;
use crate::pool::{BlockingPool, PoolError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{InstancePre, Linker};
use wasmtime::{Engine, Store, Trap};

/// Calls one instance serves before it is replaced (bounds slow leaks inside a guest).
const MAX_USES: u32 = 100_000;
/// Default `plugins.maxConcurrency`: calls of one plugin running at once.
pub const CONCURRENCY: usize = 8;
/// Default `plugins.queueTimeoutMs`: longest wait for a call slot.
pub const QUEUE_TIMEOUT: Duration = Duration::from_secs(1);

/// Per-plugin resource limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Wall-clock budget of one call.
    pub deadline: Duration,
    /// Linear memory cap of one instance, in bytes.
    pub memory: usize,
    /// Keep configured instances warm between calls (false: a fresh instance per call, so
    /// that nothing a plugin keeps in memory survives from one request to the next).
    pub reuse: bool,
    /// Calls running at once (and warm instances kept).
    pub concurrency: usize,
    /// Longest wait for a call slot before the request is answered 503.
    pub queue_timeout: Duration,
}

/// A plugin slot's world: how to instantiate and configure components of that world, for
/// every contract version the slot accepts.
pub trait Role: Send + Sync + 'static {
    /// Pre-instantiated component.
    type Pre: Send + Sync;
    /// A live instance's bindings.
    type Instance: Send;
    /// WIT world name, for messages.
    const WORLD: &'static str;
    /// The interface the world exports (checked before linking).
    const INTERFACE: &'static str;
    /// The contract versions this slot loads.
    const VERSIONS: &'static [ContractVersion];
    /// Typecheck a pre-instantiated component against the world at `version`.
    fn pre(version: ContractVersion, pre: InstancePre<PluginState>) -> wasmtime::Result<Self::Pre>;
    /// Instantiate.
    fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<PluginState>,
    ) -> wasmtime::Result<Self::Instance>;
    /// Call the world's `configure`.
    fn configure(
        instance: &Self::Instance,
        store: &mut Store<PluginState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), String>>;
}

/// How a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The guest trapped (a panic, an unreachable, a bad access).
    Trap,
    /// The deadline passed.
    Deadline,
    /// The memory cap was hit.
    Memory,
    /// The answer broke the contract (e.g. a catalog filter inventing names).
    Contract,
    /// A fresh instance could not be made or configured.
    Instantiate,
}

impl FailureKind {
    /// A short label (logs, metrics).
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Trap => "trap",
            FailureKind::Deadline => "deadline",
            FailureKind::Memory => "memory",
            FailureKind::Contract => "contract",
            FailureKind::Instantiate => "instantiate",
        }
    }
}

/// A plugin call that did not produce an answer; the request it served is denied.
#[derive(Debug, Clone, thiserror::Error)]
#[error("plugin {plugin}: {reason}")]
pub struct PluginFailure {
    /// The plugin's name.
    pub plugin: Arc<str>,
    /// What kind of failure.
    pub kind: FailureKind,
    /// What went wrong.
    pub reason: String,
}

/// Why a plugin call gave no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The plugin's pool stayed full: the registry is overloaded, answer 503.
    #[error(transparent)]
    Unavailable(#[from] PoolError),
    /// The plugin failed: deny.
    #[error(transparent)]
    Failed(#[from] PluginFailure),
}

struct Warm<R: Role> {
    store: Store<PluginState>,
    instance: R::Instance,
    uses: u32,
}

/// A loaded plugin.
pub struct Plugin<R: Role> {
    name: Arc<str>,
    engine: Engine,
    pre: R::Pre,
    config: String,
    limits: Limits,
    kv: KvNamespace,
    log: Arc<LogBudget>,
    idle: Mutex<Vec<Warm<R>>>,
    pool: BlockingPool,
    /// The plugin's gauge of instances in use.
    in_use: prometheus_client::metrics::gauge::Gauge,
}

/// What a plugin needs from the runtime to load.
pub struct LoadContext<'a> {
    /// The engine.
    pub engine: &'a PluginEngine,
    /// The linker with every host import.
    pub linker: &'a Linker<PluginState>,
    /// The plugin's key-value namespace.
    pub kv: KvNamespace,
    /// The plugin's log budget.
    pub log: Arc<LogBudget>,
}

impl<R: Role> Plugin<R> {
    /// Compile (or load from cache), check the contract, link, and configure one instance,
    /// which validates `config`. Any failure refuses the plugin with a message naming it.
    pub fn load(
        cx: LoadContext<'_>,
        name: &str,
        bytes: &[u8],
        config: String,
        limits: Limits,
    ) -> anyhow::Result<Plugin<R>> {
        let component = cx.engine.load(name, bytes)?;
        let version = contract::check(
            cx.engine.engine(),
            name,
            &component,
            R::WORLD,
            R::INTERFACE,
            R::VERSIONS,
        )?;
        let pre = cx.linker.instantiate_pre(&component).map_err(|e| {
            anyhow::anyhow!(
                "plugin {name}: imports something this registry does not provide: {e:#}"
            )
        })?;
        let pre = R::pre(version, pre).map_err(|e| {
            anyhow::anyhow!("plugin {name}: does not match world {}: {e:#}", R::WORLD)
        })?;
        let concurrency = limits.concurrency.max(1);
        let plugin = Plugin {
            name: name.into(),
            engine: cx.engine.engine().clone(),
            pre,
            config,
            limits,
            kv: cx.kv,
            log: cx.log,
            idle: Mutex::new(Vec::new()),
            pool: BlockingPool::new("a plugin's call pool", concurrency, limits.queue_timeout),
            in_use: metrics::in_use(name),
        };
        let warm = plugin.fresh()?;
        plugin
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(warm);
        Ok(plugin)
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn deadline_ticks(&self) -> u64 {
        (self.limits.deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64 + 1
    }

    /// A store for one instance, under the plugin's limits, armed for one call.
    fn store(&self) -> Store<PluginState> {
        let state = PluginState::new(
            self.name.clone(),
            self.limits.memory,
            self.log.clone(),
            self.kv.clone(),
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.data_mut().begin_call(self.limits.deadline);
        store.set_epoch_deadline(self.deadline_ticks());
        store
    }

    /// The pre-instantiated component.
    pub(super) fn pre(&self) -> &R::Pre {
        &self.pre
    }

    /// The plugin's JSON configuration.
    pub(super) fn config(&self) -> &str {
        &self.config
    }

    /// Run `f` once in a store of its own, on the calling thread (which must not be an async
    /// worker), under the plugin's limits: for questions asked while loading through another
    /// world of the same component.
    pub(super) fn call_once<T>(
        &self,
        f: impl FnOnce(&mut Store<PluginState>) -> wasmtime::Result<T>,
    ) -> anyhow::Result<T> {
        f(&mut self.store())
            .map_err(|e| anyhow::anyhow!("plugin {}: {}", self.name, describe(&e).1))
    }

    /// A new instance, configured.
    fn fresh(&self) -> anyhow::Result<Warm<R>> {
        let mut store = self.store();
        let instance = R::instantiate(&self.pre, &mut store).map_err(|e| {
            anyhow::anyhow!(
                "plugin {}: cannot instantiate: {}",
                self.name,
                describe(&e).1
            )
        })?;
        let configured = R::configure(&instance, &mut store, &self.config).map_err(|e| {
            anyhow::anyhow!("plugin {}: configure failed: {}", self.name, describe(&e).1)
        })?;
        configured
            .map_err(|msg| anyhow::anyhow!("plugin {}: configuration refused: {msg}", self.name))?;
        Ok(Warm {
            store,
            instance,
            uses: 0,
        })
    }

    /// Run `f` on a warm instance, on the calling thread (which must not be an async worker),
    /// under the deadline; fail closed on any error.
    pub fn call_here<T>(
        &self,
        f: impl FnOnce(&R::Instance, &mut Store<PluginState>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginFailure> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut warm = match idle {
            Some(w) => w,
            None => self
                .fresh()
                .map_err(|e| self.failure(FailureKind::Instantiate, format!("{e:#}")))?,
        };
        warm.store.data_mut().begin_call(self.limits.deadline);
        warm.store.set_epoch_deadline(self.deadline_ticks());
        let started = std::time::Instant::now();
        let busy = metrics::InUse::start(&self.in_use);
        let result = f(&warm.instance, &mut warm.store);
        drop(busy);
        // A call that outlived its deadline in a host call (a cut sleep) answered too late.
        let overran =
            warm.store.data().overran() || started.elapsed() > self.limits.deadline + EPOCH_TICK;
        let result = match result {
            Ok(_) if overran => Err(wasmtime::Error::from(Trap::Interrupt)),
            other => other,
        };
        match result {
            Ok(value) => {
                warm.uses += 1;
                if self.limits.reuse && warm.uses < MAX_USES {
                    let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                    if idle.len() < self.limits.concurrency.max(1) {
                        idle.push(warm);
                    }
                }
                Ok(value)
            }
            Err(e) => {
                let (kind, reason) = describe(&e);
                Err(self.failure(kind, reason))
            }
        }
    }

    /// Run `f` (the world's `function`) on a warm instance, on the plugin's bounded pool;
    /// counted in the plugin's metrics with its outcome and time.
    pub async fn call<T: Outcome + Send + 'static>(
        self: &Arc<Self>,
        function: &'static str,
        f: impl FnOnce(&R::Instance, &mut Store<PluginState>) -> wasmtime::Result<T> + Send + 'static,
    ) -> Result<T, CallError> {
        let started = std::time::Instant::now();
        let result = self.call_on_pool(f).await;
        let outcome = match &result {
            Ok(answer) => answer.outcome(),
            Err(CallError::Failed(failure)) => failure.kind.label(),
            Err(CallError::Unavailable(_)) => "busy",
        };
        metrics::call(&self.name, function, outcome, started.elapsed());
        result
    }

    async fn call_on_pool<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&R::Instance, &mut Store<PluginState>) -> wasmtime::Result<T> + Send + 'static,
    ) -> Result<T, CallError> {
        let plugin = self.clone();
        let result = self.pool.run(move || plugin.call_here(f)).await;
        match result {
            Ok(answer) => Ok(answer?),
            Err(e @ PoolError::Saturated { .. }) => {
                tracing::warn!(plugin = %self.name, "plugin call pool saturated; answering 503");
                Err(CallError::Unavailable(e))
            }
            Err(PoolError::Panicked { .. }) => Err(CallError::Failed(self.failure(
                FailureKind::Trap,
                "the host side of the call panicked".into(),
            ))),
        }
    }

    /// A contract violation found in an answer.
    pub fn contract_failure(&self, reason: &str) -> PluginFailure {
        self.failure(FailureKind::Contract, reason.to_owned())
    }

    fn failure(&self, kind: FailureKind, reason: String) -> PluginFailure {
        tracing::error!(plugin = %self.name, kind = kind.label(), reason, "plugin failed; request denied, instance discarded");
        PluginFailure {
            plugin: self.name.clone(),
            kind,
            reason,
        }
    }
}

/// The kind of a call error, and a readable reason.
fn describe(e: &wasmtime::Error) -> (FailureKind, String) {
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => (FailureKind::Deadline, "deadline exceeded".into()),
        Some(trap) => (FailureKind::Trap, format!("trapped: {trap}")),
        None if format!("{e:#}").contains("memory") => {
            (FailureKind::Memory, format!("memory limit: {e:#}"))
        }
        None => (FailureKind::Trap, format!("{e:#}")),
    }
}
