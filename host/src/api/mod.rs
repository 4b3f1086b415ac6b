//! The HTTP API: the distribution routes under `/v2`, and `/metrics`.

pub mod access;
mod blobs;
pub mod error;
pub mod headers;
mod listing;
mod manifests;
pub mod query;
pub mod route;
mod telemetry;
mod uploads;

use crate::gate::{Access, Action, Gate};
use crate::metrics::Metrics;
use crate::storage::Storage;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use error::ApiError;
use query::Query;
use route::Route;
use std::sync::Arc;

/// What every handler can reach.
pub struct AppState {
    /// Content storage.
    pub storage: Arc<Storage>,
    /// The gate deciding every request.
    pub gate: Arc<Gate>,
    /// Request metrics.
    pub metrics: Metrics,
}

/// Result of a handler.
pub type Reply = Result<Response, ApiError>;

/// Build the router. `metrics_path` mounts the Prometheus endpoint.
pub fn router(state: Arc<AppState>, metrics_path: Option<&str>) -> Router {
    let mut router = Router::new()
        .route("/v2", any(v2))
        .route("/v2/", any(v2))
        .route("/v2/{*rest}", any(v2));
    if let Some(path) = metrics_path {
        router = router.route(path, get(metrics));
    }
    router
        .fallback(|| async { ApiError::not_found() })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::observe,
        ))
        .with_state(state)
}

async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let admitted = match state.gate.admit(&headers).await {
        Ok(caller) => caller.authorize_metrics().await,
        Err(e) => Err(e),
    };
    if let Err(e) = admitted {
        return e.into_response();
    }
    let mut response = state.metrics.render().into_response();
    set(
        response.headers_mut(),
        "Content-Type",
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
    );
    response
}

async fn v2(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    match dispatch(&state, &parts.method, &parts.uri, &parts.headers, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

async fn dispatch(
    state: &AppState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Body,
) -> Reply {
    let rest = uri.path().strip_prefix("/v2").unwrap_or("");
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let caller = state.gate.admit(headers).await?;
    let route = Route::parse(rest, !is_read(method))?;
    let query = Query::parse(uri.query());
    if route == Route::Base {
        caller.authorize_base(headers).await?;
    }
    let accesses = access::required(&state.storage, &route, method, &query).await?;
    caller.authorize(&accesses).await?;
    let storage = &state.storage;
    match route {
        Route::Base if is_read(method) => {
            let mut response = axum::Json(serde_json::json!({})).into_response();
            if let Some(challenge) = caller.base_challenge() {
                set(response.headers_mut(), "WWW-Authenticate", &challenge);
            }
            Ok(response)
        }
        Route::Catalog if is_read(method) => listing::catalog(storage, &query, &caller).await,
        Route::Tags(name) if is_read(method) => listing::tags(storage, &name, &query).await,
        Route::Referrers(name, subject) if is_read(method) => {
            listing::referrers(storage, &name, &subject, &query).await
        }
        Route::Manifest(name, reference) => match *method {
            Method::GET | Method::HEAD => manifests::get(storage, &name, &reference, method).await,
            Method::PUT => {
                let tags = access::push_tags(&query)?;
                manifests::put(storage, &name, &reference, &tags, headers, body).await
            }
            Method::DELETE => {
                let detect = !caller.is_open()
                    && matches!(reference, crate::oci::Reference::Digest(_))
                    && caller.allows(&Access {
                        repository: name.clone(),
                        action: Action::DetectManifestCollision,
                        reference: Some(reference.to_string()),
                    });
                manifests::delete(storage, &name, &reference, detect).await
            }
            _ => Err(ApiError::method_not_allowed()),
        },
        Route::Blob(name, digest) => match *method {
            Method::GET | Method::HEAD => {
                blobs::get(storage, &name, &digest, method, headers).await
            }
            Method::DELETE => blobs::delete(storage, &name, &digest).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        Route::UploadStart(name) if method == Method::POST => {
            let mount = uploads::mount_request(&query)?;
            // A mount needs read access to its source; without `from` the source is unknown,
            // so mounts are automatic only when no gate is configured.
            let mount = mount.filter(|(_, from)| match from {
                Some(from) => caller.allows(&Access {
                    repository: from.clone(),
                    action: Action::Read,
                    reference: None,
                }),
                None => caller.is_open(),
            });
            uploads::start(storage, &name, &query, mount, body).await
        }
        Route::Upload(name, id) => match *method {
            Method::PATCH => uploads::patch(storage, &name, &id, headers, body).await,
            Method::PUT => uploads::finish(storage, &name, &id, &query, headers, body).await,
            Method::GET => uploads::status(storage, &name, &id).await,
            Method::DELETE => uploads::cancel(storage, &name, &id).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// A header's value as text, if present and printable.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Set a header, skipping values that are not valid header text.
pub fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// An empty response that still declares `len` as its length (for HEAD and 201/202/204).
pub fn empty_with_length(status: StatusCode, len: u64) -> Response {
    let mut response = (status, Body::empty()).into_response();
    set(response.headers_mut(), "Content-Length", &len.to_string());
    response
}
