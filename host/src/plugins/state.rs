//! What a plugin instance's store holds, and the host imports every plugin may call: log,
//! clock, key-value. WASI is linked only because toolchains import it, and is locked down: no
//! preopened directories, no environment, no arguments, no sockets; stdout and stderr go to a
//! small in-memory pipe that is copied into the log after each call.

use super::bindings::authenticator::portcullis::plugin::{clock, kv, log, types};
use super::kv::KvNamespace;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bytes of stdout+stderr an instance may write before it is retired.
pub const OUTPUT_CAPACITY: usize = 64 * 1024;
/// Longest log line taken from a plugin.
const MAX_LOG_LINE: usize = 4096;

/// The data of one instance's store.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Memory and table caps.
    pub limits: StoreLimits,
    /// The plugin's name, for logs.
    pub name: Arc<str>,
    kv: KvNamespace,
    output: MemoryOutputPipe,
    output_logged: usize,
}

impl PluginState {
    /// A fresh, locked-down state for plugin `name`.
    pub fn new(name: Arc<str>, memory_limit: usize, kv: KvNamespace) -> PluginState {
        let output = MemoryOutputPipe::new(OUTPUT_CAPACITY);
        let wasi = WasiCtx::builder()
            .stdout(output.clone())
            .stderr(output.clone())
            .build();
        PluginState {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_limit)
                .trap_on_grow_failure(true)
                .build(),
            name,
            kv,
            output,
            output_logged: 0,
        }
    }

    /// Copy what the plugin printed since the last call into the log. Returns false once the
    /// output pipe is more than half full, so the instance can be retired before it overflows.
    pub fn flush_output(&mut self) -> bool {
        let contents = self.output.contents();
        if contents.len() > self.output_logged {
            let text = String::from_utf8_lossy(&contents[self.output_logged..]);
            for line in text.lines().filter(|l| !l.is_empty()) {
                tracing::info!(plugin = %self.name, "{}", truncate(line));
            }
            self.output_logged = contents.len();
        }
        contents.len() < OUTPUT_CAPACITY / 2
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(MAX_LOG_LINE) {
        Some((i, _)) => &s[..i],
        None => s,
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

impl types::Host for PluginState {}

impl log::Host for PluginState {
    fn log(&mut self, level: types::Level, message: String) {
        let (plugin, message) = (&*self.name, truncate(&message));
        match level {
            types::Level::Trace => tracing::trace!(plugin, "{message}"),
            types::Level::Debug => tracing::debug!(plugin, "{message}"),
            types::Level::Info => tracing::info!(plugin, "{message}"),
            types::Level::Warn => tracing::warn!(plugin, "{message}"),
            types::Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

impl clock::Host for PluginState {
    fn now_ms(&mut self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

impl kv::Host for PluginState {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.kv.get(&key).unwrap_or_else(|e| {
            tracing::error!(plugin = %self.name, error = %e, "kv get failed");
            None
        })
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        self.kv.set(&key, &value).map_err(|e| e.to_string())
    }

    fn delete(&mut self, key: String) -> Result<bool, String> {
        self.kv.delete(&key).map_err(|e| e.to_string())
    }

    fn list(&mut self, prefix: String) -> Vec<String> {
        self.kv.list(&prefix).unwrap_or_else(|e| {
            tracing::error!(plugin = %self.name, error = %e, "kv list failed");
            Vec::new()
        })
    }
}
