//! Prometheus metrics for `/metrics`.

use axum::http::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: &'static str,
}

/// The registry's request metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<MethodLabel, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method and status",
            requests.clone(),
        );
        let latency = Family::<MethodLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 4.0, 10))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to response headers",
            latency.clone(),
        );
        registry.register(
            "blob_sendfile_bytes",
            "Blob bytes sent from their files by the kernel (plain HTTP/1 pulls)",
            crate::zero_copy::SENDFILE_BYTES.clone(),
        );
        registry.register(
            "sync_copies",
            "Images and blobs copied from upstream registries, by upstream, mode and outcome",
            crate::sync::COPIES.clone(),
        );
        crate::plugins::metrics::register(&mut registry);
        Metrics {
            registry,
            requests,
            latency,
        }
    }
}

/// The label of a method: the ones the API uses, or `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

impl Metrics {
    /// Count one request. The method label takes a fixed set of values (any other method is
    /// `OTHER`), so clients cannot create series at will.
    pub fn observe(&self, method: &Method, status: u16, latency: Duration) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels { method, status })
            .inc();
        self.latency
            .get_or_create(&MethodLabel { method })
            .observe(latency.as_secs_f64());
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
