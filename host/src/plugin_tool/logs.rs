//! What a plugin says while the tool runs it — its `log` calls and its stdout and stderr —
//! captured from the runtime's `tracing` events of target [`LOG_TARGET`] instead of being
//! written to a log.

use crate::plugins::LOG_TARGET;
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One line a plugin said.
#[derive(Clone, Debug, Serialize)]
pub struct LogLine {
    /// `trace`, `debug`, `info`, `warn` or `error` (stdout and stderr lines are `info`, their
    /// message starts with `stdout: ` or `stderr: `).
    pub level: String,
    /// The line.
    pub message: String,
}

impl std::fmt::Display for LogLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.level, self.message)
    }
}

/// Lines captured and not yet taken (calls run on the plugin's pool threads).
static LINES: Mutex<Vec<LogLine>> = Mutex::new(Vec::new());

/// Start capturing plugin lines for the rest of the process (the runtime's own events are
/// dropped: the tool reports failures itself).
pub fn capture() {
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture));
}

/// The lines captured since the last call.
pub fn take() -> Vec<LogLine> {
    std::mem::take(&mut *LINES.lock().unwrap_or_else(|e| e.into_inner()))
}

struct Capture;

impl<S: Subscriber> Layer<S> for Capture {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.target() == LOG_TARGET {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target() == LOG_TARGET
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut line = Line::default();
        event.record(&mut line);
        if !line.fields.is_empty() {
            line.message.push_str(&line.fields);
        }
        LINES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(LogLine {
                level: event.metadata().level().as_str().to_ascii_lowercase(),
                message: line.message,
            });
    }
}

/// The message of an event and its fields other than the plugin's name.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            "plugin" => {}
            name => {
                let _ = write!(self.fields, " {name}={value:?}");
            }
        }
    }
}
