//! What a plugin instance's store holds, and the host imports every plugin may call: log,
//! clock, key-value, for every supported version of the contract. WASI is linked only because
//! toolchains import it, and is locked down: no preopened directories, no environment, no
//! arguments, no sockets; stdout and stderr are lines in the log (within the plugin's log
//! budget); a sleep or a poll on a timer never outlasts the call's deadline.

use super::bindings::{v0_1, v0_2};
use super::kv::KvNamespace;
use super::output::{LogBudget, PluginOutput};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::clocks::WasiClocksView;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::{DynPollable, Pollable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Key-value writes one call may make (each is a durable commit).
pub const MAX_KV_WRITES_PER_CALL: u32 = 64;

/// The data of one instance's store.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Memory and table caps.
    pub limits: StoreLimits,
    /// The plugin's name, for logs.
    pub name: Arc<str>,
    log: Arc<LogBudget>,
    kv: KvNamespace,
    /// When the current call must end (host waits are cut there).
    deadline: Option<Instant>,
    /// A timer of the current call was cut at the deadline: the call overran.
    overran: bool,
    kv_writes: u32,
}

impl PluginState {
    /// A fresh, locked-down state for plugin `name`.
    pub fn new(
        name: Arc<str>,
        memory_limit: usize,
        log: Arc<LogBudget>,
        kv: KvNamespace,
    ) -> PluginState {
        let wasi = WasiCtx::builder()
            .stdout(PluginOutput::new(log.clone(), "stdout"))
            .stderr(PluginOutput::new(log.clone(), "stderr"))
            .build();
        PluginState {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_limit)
                .trap_on_grow_failure(true)
                .build(),
            name,
            log,
            kv,
            deadline: None,
            overran: false,
            kv_writes: 0,
        }
    }

    /// A call starts now and must end within `budget`.
    pub fn begin_call(&mut self, budget: Duration) {
        self.deadline = Some(Instant::now() + budget);
        self.overran = false;
        self.kv_writes = 0;
    }

    /// Whether the current call waited on a timer past its deadline (the wait was cut).
    pub fn overran(&self) -> bool {
        self.overran
    }

    fn log_line(&self, level: tracing::Level, message: &str) {
        self.log.emit(level, message);
    }

    fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
        self.kv.get(key).unwrap_or_else(|e| {
            tracing::error!(plugin = %self.name, error = %e, "kv get failed");
            None
        })
    }

    fn kv_write_allowed(&mut self) -> Result<(), String> {
        self.kv_writes += 1;
        if self.kv_writes > MAX_KV_WRITES_PER_CALL {
            return Err(format!(
                "more than {MAX_KV_WRITES_PER_CALL} kv writes in one call"
            ));
        }
        Ok(())
    }

    fn kv_set(&mut self, key: &str, value: &[u8]) -> Result<(), String> {
        self.kv_write_allowed()?;
        self.kv.set(key, value)
    }

    fn kv_delete(&mut self, key: &str) -> Result<bool, String> {
        self.kv_write_allowed()?;
        self.kv.delete(key).map_err(|e| e.to_string())
    }

    fn kv_list(&self, prefix: &str) -> Vec<String> {
        self.kv.list(prefix).unwrap_or_else(|e| {
            tracing::error!(plugin = %self.name, error = %e, "kv list failed");
            Vec::new()
        })
    }

    /// A timer that fires at `wanted`, or at the call's deadline if that is sooner.
    fn clamped_timer(&mut self, wanted: Duration) -> wasmtime::Result<Resource<DynPollable>> {
        let now = Instant::now();
        let until = match self.deadline {
            Some(deadline) if now + wanted > deadline => {
                self.overran = true;
                deadline.max(now)
            }
            Some(_) => now + wanted,
            None => now + wanted.min(Duration::from_secs(1)),
        };
        let timer = self
            .table
            .push(Timer(tokio::time::Instant::from_std(until)))?;
        wasmtime_wasi::p2::subscribe(&mut self.table, timer)
    }
}

/// A timer pollable.
struct Timer(tokio::time::Instant);

#[wasmtime_wasi::async_trait]
impl Pollable for Timer {
    async fn ready(&mut self) {
        tokio::time::sleep_until(self.0).await;
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// `wasi:clocks/monotonic-clock`, with timers cut at the call's deadline (linked over
/// wasmtime-wasi's own, so that a plugin sleeping in a host call cannot outlive its deadline).
impl monotonic_clock::Host for PluginState {
    fn now(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        monotonic_clock::Host::now(&mut WasiClocksView::clocks(self))
    }

    fn resolution(&mut self) -> wasmtime::Result<monotonic_clock::Instant> {
        monotonic_clock::Host::resolution(&mut WasiClocksView::clocks(self))
    }

    fn subscribe_instant(
        &mut self,
        when: monotonic_clock::Instant,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let now = monotonic_clock::Host::now(&mut WasiClocksView::clocks(self))?;
        self.clamped_timer(Duration::from_nanos(when.saturating_sub(now)))
    }

    fn subscribe_duration(
        &mut self,
        duration: monotonic_clock::Duration,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        self.clamped_timer(Duration::from_nanos(duration))
    }
}

/// The host-api imports of one contract version, delegating to [`PluginState`].
macro_rules! host_api {
    ($v:ident) => {
        impl $v::types::Host for PluginState {}

        impl $v::log::Host for PluginState {
            fn log(&mut self, level: $v::types::Level, message: String) {
                self.log_line(level.into(), &message);
            }
        }

        impl $v::clock::Host for PluginState {
            fn now_ms(&mut self) -> u64 {
                crate::clock::now_ms()
            }
        }

        impl $v::kv::Host for PluginState {
            fn get(&mut self, key: String) -> Option<Vec<u8>> {
                self.kv_get(&key)
            }

            fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
                self.kv_set(&key, &value)
            }

            fn delete(&mut self, key: String) -> Result<bool, String> {
                self.kv_delete(&key)
            }

            fn list(&mut self, prefix: String) -> Vec<String> {
                self.kv_list(&prefix)
            }
        }
    };
}

host_api!(v0_1);
host_api!(v0_2);
