//! One tracing span per request (method, path, status, latency), request metrics, and an audit
//! line for every request that changes something.

use super::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// Wrap a request with its span, metrics and audit record.
pub async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    // The path only: query strings may one day carry credentials.
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", method = %method, path = %path);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let latency = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(status, latency_us = latency.as_micros() as u64, "handled");
        let mutating = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        if mutating {
            tracing::info!(target: "audit", method = %method, path = %path, status, "audit");
        }
    });
    state.metrics.observe(&method, status, latency);
    if path.starts_with("/v2") {
        response.headers_mut().insert(
            "Docker-Distribution-API-Version",
            HeaderValue::from_static("registry/2.0"),
        );
    }
    response
}
