//! Per-plugin Prometheus metrics: calls by function and outcome, their latency, instances in
//! use, whether a plugin's compilation came from the cache, and reused decisions. Labels take
//! values from the configuration (plugin names) and fixed sets (functions, outcomes) only.

use super::model::{AuthnResult, CreatedKey, Decision, Identity, KeyError, KeyInfo};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::LazyLock;
use std::time::Duration;

/// Labels of [`CALLS`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    plugin: String,
    function: &'static str,
    outcome: &'static str,
}

/// Labels of [`LATENCY`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FunctionLabels {
    plugin: String,
    function: &'static str,
}

/// Labels of [`IN_USE`] and [`COMPILES`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
}

/// Labels of [`COMPILES`].
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CompileLabels {
    plugin: String,
    /// `cache` or `compiled`.
    from: &'static str,
}

static CALLS: LazyLock<Family<CallLabels, Counter>> = LazyLock::new(Family::default);
static LATENCY: LazyLock<Family<FunctionLabels, Histogram>> = LazyLock::new(|| {
    Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_001, 4.0, 12)))
});
static IN_USE: LazyLock<Family<PluginLabels, Gauge>> = LazyLock::new(Family::default);
static COMPILES: LazyLock<Family<CompileLabels, Counter>> = LazyLock::new(Family::default);
static REUSED: LazyLock<Family<PluginLabels, Counter>> = LazyLock::new(Family::default);

/// Register the plugin metrics with `registry`.
pub fn register(registry: &mut Registry) {
    registry.register(
        "plugin_calls",
        "Plugin calls by plugin, function and outcome (a decision, or the kind of failure)",
        CALLS.clone(),
    );
    registry.register(
        "plugin_call_duration_seconds",
        "Plugin call time, from the call slot to the answer",
        LATENCY.clone(),
    );
    registry.register(
        "plugin_instances_in_use",
        "Plugin instances running a call now",
        IN_USE.clone(),
    );
    registry.register(
        "plugin_loads",
        "Plugin components loaded, from the compile cache or compiled",
        COMPILES.clone(),
    );
    registry.register(
        "plugin_decisions_reused",
        "Accesses answered from an authorizer's earlier decision instead of a call",
        REUSED.clone(),
    );
}

/// Count one call of `function` of `plugin` that ended with `outcome` after `took`.
pub fn call(plugin: &str, function: &'static str, outcome: &'static str, took: Duration) {
    CALLS
        .get_or_create(&CallLabels {
            plugin: plugin.to_owned(),
            function,
            outcome,
        })
        .inc();
    LATENCY
        .get_or_create(&FunctionLabels {
            plugin: plugin.to_owned(),
            function,
        })
        .observe(took.as_secs_f64());
}

/// `plugin`'s gauge of instances in use (looked up once, when the plugin loads).
pub fn in_use(plugin: &str) -> Gauge {
    IN_USE
        .get_or_create(&PluginLabels {
            plugin: plugin.to_owned(),
        })
        .clone()
}

/// `plugin`'s counter of reused decisions (looked up once, when the plugin set loads).
pub fn decisions_reused(plugin: &str) -> Counter {
    REUSED
        .get_or_create(&PluginLabels {
            plugin: plugin.to_owned(),
        })
        .clone()
}

/// Counts an instance in use on its plugin's gauge while alive.
pub struct InUse<'a>(&'a Gauge);

impl InUse<'_> {
    /// Count one more instance in use on `gauge` until the guard drops.
    pub fn start(gauge: &Gauge) -> InUse<'_> {
        gauge.inc();
        InUse(gauge)
    }
}

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Count a load of `plugin`'s component, `from` the cache or `compiled`.
pub fn loaded(plugin: &str, from: &'static str) {
    COMPILES
        .get_or_create(&CompileLabels {
            plugin: plugin.to_owned(),
            from,
        })
        .inc();
}

/// What an answer counts as in [`CALLS`].
pub trait Outcome {
    /// The outcome label (`ok` unless the answer is a decision).
    fn outcome(&self) -> &'static str {
        "ok"
    }
}

impl Outcome for Decision {
    fn outcome(&self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny(_) => "deny",
        }
    }
}

impl Outcome for AuthnResult {
    fn outcome(&self) -> &'static str {
        match self {
            AuthnResult::Authenticated(_) => "authenticated",
            AuthnResult::NotMine => "not-mine",
            AuthnResult::Rejected(_) => "rejected",
        }
    }
}

impl Outcome for Result<Identity, String> {
    fn outcome(&self) -> &'static str {
        match self {
            Ok(_) => "authenticated",
            Err(_) => "rejected",
        }
    }
}

impl Outcome for Result<CreatedKey, KeyError> {
    fn outcome(&self) -> &'static str {
        match self {
            Ok(_) => "created",
            Err(_) => "refused",
        }
    }
}

impl Outcome for bool {}
impl Outcome for () {}
impl Outcome for Vec<String> {}
impl Outcome for Vec<KeyInfo> {}
