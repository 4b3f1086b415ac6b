//! One tracing span per request (method, path, status, latency), request metrics, and an audit
//! line for every request that changes something: who (identity and its source), from where,
//! on what (repository, reference, digest), what the gate decided, and the status.

use super::route::Route;
use super::{AppState, Peer};
use crate::gate::{Caller, Refusal};
use axum::extract::Request;
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use std::future::Future;
use std::time::Instant;
use tracing::Instrument;

/// What a request's audit line says beyond method, path and status (filled by the handler).
#[derive(Clone, Debug, Default)]
pub struct Audit {
    /// The caller's user name, none when anonymous.
    pub identity: Option<String>,
    /// Which authenticator vouched for the caller.
    pub source: Option<String>,
    /// The repository.
    pub repository: Option<String>,
    /// The tag or digest in the path.
    pub reference: Option<String>,
    /// The digest stored, for pushes.
    pub digest: Option<String>,
    /// The gate's decision: allowed, denied, unauthenticated, throttled, unavailable.
    pub decision: Option<&'static str>,
    /// Reads get no audit line: who and what are not copied for them.
    read: bool,
}

impl Audit {
    /// The record of a request with `method`.
    pub fn of(method: &Method) -> Audit {
        Audit {
            read: !mutating(method),
            ..Audit::default()
        }
    }

    /// Whether the request gets an audit line.
    pub fn kept(&self) -> bool {
        !self.read
    }

    /// Record who the caller is.
    pub fn identify(&mut self, caller: &Caller) {
        if self.read {
            return;
        }
        if let Some(identity) = caller.identity() {
            self.identity = Some(identity.username.clone());
            self.source = Some(identity.source.clone());
        }
    }

    /// Record what the route names.
    pub fn route(&mut self, route: &Route) {
        if self.read {
            return;
        }
        let (repository, reference) = match route {
            Route::Base | Route::Catalog => (None, None),
            Route::Tags(n) | Route::UploadStart(n) => (Some(n), None),
            Route::Upload(n, id) => (Some(n), Some(id.clone())),
            Route::Manifest(n, r) => (Some(n), Some(r.to_string())),
            Route::Blob(n, d) | Route::Referrers(n, d) => (Some(n), Some(d.to_string())),
        };
        self.repository = repository.map(|n| n.as_str().to_owned());
        self.reference = reference;
    }

    /// The gate allowed the request.
    pub fn allowed(&mut self) {
        self.decision = Some("allowed");
    }

    /// The gate refused the request.
    pub fn refused(&mut self, refusal: &Refusal) {
        self.decision = Some(match refusal {
            Refusal::Unauthenticated { .. } => "unauthenticated",
            Refusal::Denied { .. } => "denied",
            Refusal::Throttled { .. } => "throttled",
            Refusal::Unavailable { .. } => "unavailable",
        });
    }
}

/// Whether a request with `method` changes something (and gets an audit line).
fn mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Wrap a request with its span, metrics and audit record; `next` answers it.
pub async fn observe<F: Future<Output = Response>>(
    state: &AppState,
    request: Request,
    next: impl FnOnce(Request) -> F,
) -> Response {
    let method = request.method().clone();
    // The path only: query strings may one day carry credentials. (A URI's clone shares its
    // text.)
    let uri = request.uri().clone();
    let path = uri.path();
    let client = request.extensions().get::<Peer>().map(|p| p.addr.ip());
    let span = tracing::info_span!("request", method = %method, path = %path);
    let started = Instant::now();
    let mut response = next(request).instrument(span.clone()).await;
    let latency = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(status, latency_us = latency.as_micros() as u64, "handled");
        if mutating(&method) {
            let audit = response
                .extensions()
                .get::<Audit>()
                .cloned()
                .unwrap_or_default();
            tracing::info!(
                target: "audit",
                method = %method,
                path = %path,
                status,
                client = client.map(|c| c.to_string()),
                identity = audit.identity,
                source = audit.source,
                repository = audit.repository,
                reference = audit.reference,
                digest = audit.digest,
                decision = audit.decision,
                "audit"
            );
        }
    });
    state.metrics.observe(&method, status, latency);
    if path.starts_with("/v2") {
        response.headers_mut().insert(
            super::header_names::DOCKER_API_VERSION,
            HeaderValue::from_static("registry/2.0"),
        );
    }
    match state.write_timeout {
        Some(limit) => super::body::with_deadline(response, limit),
        None => response,
    }
}
