//! One loaded plugin: its pre-linked component and a pool of warm, configured instances.
//!
//! An instance is configured once and then reused for many calls (about a microsecond each,
//! against tens of microseconds for a fresh one). Every call arms the epoch deadline just
//! before entering the guest. A call that traps, overruns its deadline or memory cap, or
//! returns something malformed fails closed: the instance is discarded and the caller gets a
//! [`PluginFailure`].

use super::contract;
use super::engine::{PluginEngine, EPOCH_TICK};
use super::kv::KvNamespace;
use super::state::PluginState;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{InstancePre, Linker};
use wasmtime::{Engine, Store, Trap};

/// Calls one instance serves before it is replaced (bounds slow leaks inside a guest).
const MAX_USES: u32 = 100_000;
/// Warm instances kept per plugin.
const MAX_IDLE: usize = 64;

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
}

/// A plugin slot's world: how to instantiate and configure components of that world.
pub trait Role: Send + Sync + 'static {
    /// Pre-instantiated component.
    type Pre: Send + Sync;
    /// A live instance's bindings.
    type Instance: Send;
    /// WIT world name, for messages.
    const WORLD: &'static str;
    /// The interface the world exports.
    const INTERFACE: &'static str;
    /// Typecheck a pre-instantiated component against the world.
    fn pre(pre: InstancePre<PluginState>) -> wasmtime::Result<Self::Pre>;
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

/// A plugin call that did not produce an answer; the request it served is denied.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin}: {reason}")]
pub struct PluginFailure {
    /// The plugin's name.
    pub plugin: Arc<str>,
    /// What went wrong (deadline, memory, trap, malformed result).
    pub reason: String,
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
    idle: Mutex<Vec<Warm<R>>>,
}

impl<R: Role> Plugin<R> {
    /// Compile (or load from cache), check the contract, link, and configure one instance,
    /// which validates `config`. Any failure refuses the plugin with a message naming it.
    pub fn load(
        engine: &PluginEngine,
        linker: &Linker<PluginState>,
        name: &str,
        bytes: &[u8],
        config: String,
        limits: Limits,
        kv: KvNamespace,
    ) -> anyhow::Result<Plugin<R>> {
        let component = engine.load(name, bytes)?;
        contract::check(engine.engine(), name, &component, R::WORLD, R::INTERFACE)?;
        let pre = linker.instantiate_pre(&component).map_err(|e| {
            anyhow::anyhow!(
                "plugin {name}: imports something this registry does not provide: {e:#}"
            )
        })?;
        let pre = R::pre(pre).map_err(|e| {
            anyhow::anyhow!("plugin {name}: does not match world {}: {e:#}", R::WORLD)
        })?;
        let plugin = Plugin {
            name: name.into(),
            engine: engine.engine().clone(),
            pre,
            config,
            limits,
            kv,
            idle: Mutex::new(Vec::new()),
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

    /// A new instance, configured.
    fn fresh(&self) -> anyhow::Result<Warm<R>> {
        let state = PluginState::new(self.name.clone(), self.limits.memory, self.kv.clone());
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.deadline_ticks());
        let instance = R::instantiate(&self.pre, &mut store).map_err(|e| {
            anyhow::anyhow!("plugin {}: cannot instantiate: {}", self.name, describe(&e))
        })?;
        let configured = R::configure(&instance, &mut store, &self.config).map_err(|e| {
            anyhow::anyhow!("plugin {}: configure failed: {}", self.name, describe(&e))
        })?;
        store.data_mut().flush_output();
        configured
            .map_err(|msg| anyhow::anyhow!("plugin {}: configuration refused: {msg}", self.name))?;
        Ok(Warm {
            store,
            instance,
            uses: 0,
        })
    }

    /// Run `f` on a warm instance under the deadline; fail closed on any error.
    pub fn call<T>(
        &self,
        f: impl FnOnce(&R::Instance, &mut Store<PluginState>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginFailure> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut warm = match idle {
            Some(w) => w,
            None => self.fresh().map_err(|e| self.failure(format!("{e:#}")))?,
        };
        warm.store.set_epoch_deadline(self.deadline_ticks());
        let result = f(&warm.instance, &mut warm.store);
        let healthy = warm.store.data_mut().flush_output();
        match result {
            Ok(value) => {
                warm.uses += 1;
                if self.limits.reuse && healthy && warm.uses < MAX_USES {
                    let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                    if idle.len() < MAX_IDLE {
                        idle.push(warm);
                    }
                }
                Ok(value)
            }
            Err(e) => Err(self.failure(describe(&e))),
        }
    }

    fn failure(&self, reason: String) -> PluginFailure {
        tracing::error!(plugin = %self.name, reason, "plugin failed; request denied, instance discarded");
        PluginFailure {
            plugin: self.name.clone(),
            reason,
        }
    }
}

/// A readable reason for a call error.
fn describe(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => "deadline exceeded".into(),
        Some(trap) => format!("trapped: {trap}"),
        None if format!("{e:#}").contains("memory") => format!("memory limit: {e:#}"),
        None => format!("{e:#}"),
    }
}
