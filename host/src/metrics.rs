//! Prometheus metrics for `/metrics`.

use axum::http::Method;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::OnceLock;
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

/// The method labels: the methods the API uses, then `OTHER` for any other.
const METHODS: [&str; 8] = [
    "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS", "OTHER",
];

/// Statuses whose counters are kept at hand (sorted), so that counting one hashes nothing.
const COMMON_STATUSES: [u16; 16] = [
    200, 201, 202, 204, 206, 307, 400, 401, 403, 404, 405, 409, 416, 429, 500, 503,
];

/// The registry's request metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<MethodLabel, Histogram>,
    /// Series of `latency` by method, taken from the family on first use.
    latency_of: [OnceLock<Histogram>; METHODS.len()],
    /// Series of `requests` by method and common status, taken from the family on first use.
    requests_of: [[OnceLock<Counter>; COMMON_STATUSES.len()]; METHODS.len()],
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
            latency_of: Default::default(),
            requests_of: Default::default(),
        }
    }
}

/// The index in [`METHODS`] of a method's label.
fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::PUT => 2,
        Method::POST => 3,
        Method::PATCH => 4,
        Method::DELETE => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}

impl Metrics {
    /// Count one request. The method label takes a fixed set of values (any other method is
    /// `OTHER`), so clients cannot create series at will.
    pub fn observe(&self, method: &Method, status: u16, latency: Duration) {
        let m = method_index(method);
        let labels = || RequestLabels {
            method: METHODS[m],
            status,
        };
        match COMMON_STATUSES.binary_search(&status) {
            Ok(s) => self.requests_of[m][s]
                .get_or_init(|| self.requests.get_or_create(&labels()).clone())
                .inc(),
            Err(_) => self.requests.get_or_create(&labels()).inc(),
        };
        self.latency_of[m]
            .get_or_init(|| {
                let label = MethodLabel { method: METHODS[m] };
                self.latency.get_or_create(&label).clone()
            })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_and_looked_up_series_count_alike() {
        let metrics = Metrics::default();
        let tick = Duration::from_micros(50);
        metrics.observe(&Method::GET, 200, tick);
        metrics.observe(&Method::GET, 200, tick);
        metrics.observe(&Method::GET, 418, tick);
        metrics.observe(&Method::from_bytes(b"BREW").unwrap(), 200, tick);
        let text = metrics.render();
        for line in [
            r#"portcullis_http_requests_total{method="GET",status="200"} 2"#,
            r#"portcullis_http_requests_total{method="GET",status="418"} 1"#,
            r#"portcullis_http_requests_total{method="OTHER",status="200"} 1"#,
            r#"portcullis_http_request_duration_seconds_count{method="GET"} 3"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(COMMON_STATUSES.windows(2).all(|w| w[0] < w[1]), "sorted");
    }
}
