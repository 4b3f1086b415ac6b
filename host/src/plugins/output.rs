//! What plugins say: their `log` calls and whatever they print to stdout or stderr, as lines
//! in the registry's log tagged with the plugin's name. A per-plugin budget (lines per second,
//! with a burst) keeps a chatty or hostile plugin from flooding the log; lines over budget are
//! counted and reported in one line when the budget allows again. Printing never blocks and
//! never fails the plugin.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// The `tracing` target of every line a plugin says (its `log` calls, stdout and stderr, and
/// the count of lines suppressed over its budget).
pub const LOG_TARGET: &str = module_path!();
/// Default `plugins.logLinesPerSecond`.
pub const LINES_PER_SECOND: u32 = 20;
/// Lines a plugin may log at once before the rate applies.
const BURST: f64 = 100.0;
/// Longest line taken from a plugin; longer lines are cut.
pub const MAX_LINE: usize = 2048;

/// One plugin's log budget, shared by all its instances.
pub struct LogBudget {
    plugin: Arc<str>,
    rate: f64,
    state: Mutex<Bucket>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
    suppressed: u64,
}

impl LogBudget {
    /// A budget of `per_second` lines for `plugin`.
    pub fn new(plugin: Arc<str>, per_second: u32) -> Arc<LogBudget> {
        Arc::new(LogBudget {
            plugin,
            rate: f64::from(per_second.max(1)),
            state: Mutex::new(Bucket {
                tokens: BURST,
                refilled: Instant::now(),
                suppressed: 0,
            }),
        })
    }

    /// Log one line at `level`, if the budget allows.
    pub fn emit(&self, level: tracing::Level, line: &str) {
        let suppressed = {
            let mut b = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let elapsed = now.duration_since(b.refilled).as_secs_f64();
            b.tokens = (b.tokens + elapsed * self.rate).min(BURST);
            b.refilled = now;
            if b.tokens < 1.0 {
                b.suppressed += 1;
                return;
            }
            b.tokens -= 1.0;
            std::mem::take(&mut b.suppressed)
        };
        let plugin = &*self.plugin;
        if suppressed > 0 {
            tracing::warn!(
                target: LOG_TARGET,
                plugin,
                suppressed,
                "plugin log lines suppressed (over its budget)"
            );
        }
        let line = cut(line);
        match level {
            tracing::Level::TRACE => tracing::trace!(target: LOG_TARGET, plugin, "{line}"),
            tracing::Level::DEBUG => tracing::debug!(target: LOG_TARGET, plugin, "{line}"),
            tracing::Level::INFO => tracing::info!(target: LOG_TARGET, plugin, "{line}"),
            tracing::Level::WARN => tracing::warn!(target: LOG_TARGET, plugin, "{line}"),
            _ => tracing::error!(target: LOG_TARGET, plugin, "{line}"),
        }
    }
}

fn cut(s: &str) -> &str {
    if s.len() <= MAX_LINE {
        return s;
    }
    let mut end = MAX_LINE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Splits bytes into lines and emits them.
struct LineWriter {
    budget: Arc<LogBudget>,
    stream: &'static str,
    partial: Vec<u8>,
}

impl LineWriter {
    fn write(&mut self, bytes: &[u8]) {
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            let complete = piece.ends_with(b"\n");
            let room = MAX_LINE.saturating_sub(self.partial.len());
            self.partial
                .extend_from_slice(&piece[..piece.len().min(room)]);
            if complete || self.partial.len() >= MAX_LINE {
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        if self.partial.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.partial);
        let line = text.trim_end_matches(['\n', '\r']);
        if !line.is_empty() {
            self.budget
                .emit(tracing::Level::INFO, &format!("{}: {line}", self.stream));
        }
        self.partial.clear();
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A plugin's stdout or stderr.
#[derive(Clone)]
pub struct PluginOutput {
    budget: Arc<LogBudget>,
    stream: &'static str,
}

impl PluginOutput {
    /// The stream named `stream` ("stdout", "stderr") of the plugin with `budget`.
    pub fn new(budget: Arc<LogBudget>, stream: &'static str) -> PluginOutput {
        PluginOutput { budget, stream }
    }

    fn writer(&self) -> LineWriter {
        LineWriter {
            budget: self.budget.clone(),
            stream: self.stream,
            partial: Vec::new(),
        }
    }
}

impl IsTerminal for PluginOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

/// Bytes accepted per write (writes never wait).
const PERMIT: usize = 64 * 1024;

struct P2Stream(LineWriter);

#[wasmtime_wasi::async_trait]
impl Pollable for P2Stream {
    async fn ready(&mut self) {}
}

impl OutputStream for P2Stream {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.0.write(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(PERMIT)
    }
}

struct AsyncStream(Mutex<LineWriter>);

impl tokio::io::AsyncWrite for AsyncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl StdoutStream for PluginOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(AsyncStream(Mutex::new(self.writer())))
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(P2Stream(self.writer()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_suppresses_a_flood() {
        let budget = LogBudget::new("t".into(), 1);
        for _ in 0..1000 {
            budget.emit(tracing::Level::INFO, "flood");
        }
        let b = budget.state.lock().unwrap();
        assert!(b.suppressed >= 1000 - BURST as u64 - 1, "{}", b.suppressed);
    }

    #[test]
    fn long_lines_are_cut() {
        let s = "é".repeat(MAX_LINE);
        assert!(cut(&s).len() <= MAX_LINE);
    }
}
