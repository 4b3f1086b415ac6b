//! The HTTP API: the distribution routes under `/v2`, and `/metrics`.

pub mod access;
mod app;
mod auth;
mod blobs;
pub mod body;
pub mod error;
mod header_names;
pub mod headers;
mod listing;
mod manifests;
mod pull_through;
pub mod query;
pub mod route;
mod telemetry;
mod token;
mod ui;
mod uploads;

use crate::gate::{Access, Action, ChallengeScope, Gate, Presentation, RequestFacts, Target};
use crate::metrics::Metrics;
use crate::storage::Storage;
use crate::zero_copy::SendfileRegions;
pub use app::App;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use error::ApiError;
use header_names::X_FORWARDED_FOR;
use query::Query;
use route::Route;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
pub use telemetry::Audit;

/// What every handler can reach.
pub struct AppState {
    /// Content storage.
    pub storage: Arc<Storage>,
    /// The pull-through cache, when `extensions.sync` is on.
    pub sync: Option<Arc<crate::sync::Sync>>,
    /// The gate deciding every request.
    pub gate: Arc<Gate>,
    /// Request metrics.
    pub metrics: Metrics,
    /// Bounds on reading request bodies.
    pub body: body::BodyLimits,
    /// Deadline for sending a whole response (zot's `http.writeTimeout`).
    pub write_timeout: Option<Duration>,
}

/// Facts about the connection a request came on, in its extensions (set by the listener; one
/// value, so a request's extensions cost one allocation, not one per fact).
#[derive(Clone)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// The TLS protocol version, none for plain HTTP.
    pub tls: Option<&'static str>,
    /// Where blob windows are registered for sendfile, on plain connections.
    pub sendfile: Option<SendfileRegions>,
}

/// Result of a handler.
pub type Reply = Result<Response, ApiError>;

/// What the gate needs of a request.
pub(crate) fn presentation<'a>(parts: &'a Parts) -> Presentation<'a> {
    let peer = parts.extensions.get::<Peer>();
    let client = peer
        .map(|p| p.addr.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    Presentation {
        scope: ChallengeScope::new(parts, token_scope),
        headers: &parts.headers,
        facts: RequestFacts {
            method: parts.method.clone(),
            user_agent: parts.headers.get(USER_AGENT).cloned(),
            forwarded_for: parts.headers.get(X_FORWARDED_FOR).cloned(),
            client,
            tls_version: peer.and_then(|p| p.tls),
            time_ms: crate::clock::now_ms(),
        },
    }
}

/// The Docker token scope a request needs, as zot computes it for its Bearer challenge:
/// `repository:<name>:<pull|push|delete>`, `repository::pull` for the catalog, empty for `/v2/`
/// and anything else.
fn token_scope(parts: &Parts) -> String {
    let Some(rest) = parts.uri.path().strip_prefix("/v2/") else {
        return String::new();
    };
    let verb = match parts.method {
        Method::GET | Method::HEAD => "pull",
        Method::DELETE => "delete",
        _ => "push",
    };
    match Route::parse(rest, !is_read(&parts.method)) {
        Ok(Route::Catalog) => "repository::pull".to_owned(),
        Ok(
            Route::Tags(name)
            | Route::Manifest(name, _)
            | Route::Blob(name, _)
            | Route::UploadStart(name)
            | Route::Upload(name, _)
            | Route::Referrers(name, _),
        ) => format!("repository:{name}:{verb}"),
        _ => String::new(),
    }
}

async fn metrics(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let admitted = match state
        .gate
        .admit(&presentation(&parts), Target::Metrics)
        .await
    {
        Ok(caller) => caller.authorize_metrics().await,
        Err(e) => Err(e),
    };
    if let Err(e) = admitted {
        return ApiError::from(e).into_response();
    }
    let mut response = state.metrics.render().into_response();
    set(
        response.headers_mut(),
        CONTENT_TYPE,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
    );
    response
}

/// A request to the registry API (`/v2` and below).
async fn v2(state: &AppState, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.method == Method::OPTIONS {
        // zot answers OPTIONS without authentication (CORS preflights carry no credentials).
        return empty_with_length(StatusCode::NO_CONTENT, 0);
    }
    let mut audit = Audit::of(&parts.method);
    let mut cookies = Vec::new();
    // Boxed: the layers around it (telemetry, the body guard, this one) each hold the future
    // they await, so an unboxed handler's state would be carried, and moved, several times over.
    let mut response = match Box::pin(dispatch(state, &parts, body, &mut audit, &mut cookies)).await
    {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    for cookie in cookies {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append("set-cookie", v);
        }
    }
    if audit.kept() {
        response.extensions_mut().insert(audit);
    }
    response
}

fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

async fn dispatch(
    state: &AppState,
    parts: &Parts,
    body: Body,
    audit: &mut Audit,
    cookies: &mut Vec<String>,
) -> Reply {
    let (method, uri, headers) = (&parts.method, &parts.uri, &parts.headers);
    let rest = uri.path().strip_prefix("/v2").unwrap_or("");
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let caller = state
        .gate
        .admit(&presentation(parts), Target::Registry)
        .await
        .inspect_err(|e| audit.refused(e))?;
    audit.identify(&caller);
    cookies.extend_from_slice(caller.cookies());
    let route = Route::parse(rest, !is_read(method))?;
    audit.route(&route);
    let query = Query::parse(uri.query());
    if route == Route::Base {
        caller
            .authorize_base(header(headers, USER_AGENT))
            .await
            .inspect_err(|e| audit.refused(e))?;
    }
    let storage = &state.storage;
    // Writes are boxed: their state is several times a read's, and every request's future
    // would carry (and move) it.
    if let (Route::Manifest(name, reference), &Method::PUT) = (&route, method) {
        return Box::pin(manifests::put(
            storage, &caller, name, reference, &query, headers, body, audit,
        ))
        .await;
    }
    let access = access::required(&route, method)?;
    caller
        .authorize(access.as_slice())
        .await
        .inspect_err(|e| audit.refused(e))?;
    audit.allowed();
    match route {
        Route::Base if is_read(method) => {
            let mut response = axum::Json(serde_json::json!({})).into_response();
            if let Some(challenge) = caller.base_challenge() {
                set(response.headers_mut(), WWW_AUTHENTICATE, &challenge);
            }
            Ok(response)
        }
        Route::Catalog if is_read(method) => listing::catalog(storage, &query, &caller).await,
        Route::Tags(name) if is_read(method) => listing::tags(storage, &name, &query).await,
        Route::Referrers(name, subject) if is_read(method) => {
            listing::referrers(storage, &name, &subject, &query).await
        }
        Route::Manifest(name, reference) => match *method {
            Method::GET | Method::HEAD => {
                let sync = state.sync.as_ref();
                pull_through::or_fetched(
                    manifests::get(storage, &name, &reference, method).await,
                    sync.map(|s| || s.fetch_manifest(&name, &reference)),
                    || manifests::get(storage, &name, &reference, method),
                    |arriving| async { manifests::respond(arriving, method) },
                )
                .await
            }
            Method::DELETE => {
                let detect = !caller.is_open()
                    && matches!(reference, crate::oci::Reference::Digest(_))
                    && caller
                        .allows(&Access {
                            repository: name.clone(),
                            action: Action::DetectManifestCollision,
                            reference: Some(reference.as_str().into()),
                        })
                        .await?;
                Box::pin(manifests::delete(storage, &name, &reference, detect)).await
            }
            _ => Err(ApiError::method_not_allowed()),
        },
        Route::Blob(name, digest) => match *method {
            Method::GET | Method::HEAD => {
                // Blobs go out by sendfile on plain HTTP/1 connections (see `zero_copy`).
                let zero_copy = (parts.version < axum::http::Version::HTTP_2)
                    .then(|| parts.extensions.get::<Peer>()?.sendfile.clone())
                    .flatten();
                let sync = state.sync.as_ref();
                pull_through::or_fetched(
                    blobs::get(storage, &name, &digest, method, headers, zero_copy.clone()).await,
                    sync.map(|s| || std::future::ready(s.fetch_blob(&name, &digest))),
                    || blobs::get(storage, &name, &digest, method, headers, zero_copy),
                    |arriving| blobs::arriving(storage, &digest, method, arriving),
                )
                .await
            }
            Method::DELETE => blobs::delete(storage, &name, &digest).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        Route::UploadStart(name) if method == Method::POST => {
            let mount = match uploads::mount_request(&query)? {
                // A mount needs read access to its source; without `from` the source is
                // unknown, so mounts are automatic only when no gate is configured.
                Some((digest, Some(from))) => {
                    let readable = caller
                        .allows(&Access {
                            repository: from.clone(),
                            action: Action::Read,
                            reference: None,
                        })
                        .await?;
                    readable.then_some((digest, Some(from)))
                }
                Some((digest, None)) => caller.is_open().then_some((digest, None)),
                None => None,
            };
            Box::pin(uploads::start(storage, &name, &query, mount, headers, body)).await
        }
        Route::Upload(name, id) => match *method {
            Method::PATCH => Box::pin(uploads::patch(storage, &name, &id, headers, body)).await,
            Method::PUT => {
                Box::pin(uploads::finish(storage, &name, &id, &query, headers, body)).await
            }
            Method::GET => uploads::status(storage, &name, &id).await,
            Method::DELETE => uploads::cancel(storage, &name, &id).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// A header's value as text, if present and printable.
pub fn header(headers: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Set a header, skipping values that are not valid header text.
pub fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// An empty response that still declares `len` as its length (for HEAD and 201/202/204).
pub fn empty_with_length(status: StatusCode, len: u64) -> Response {
    let mut response = (status, Body::empty()).into_response();
    set_length(response.headers_mut(), len);
    response
}

/// Declare a body of `len` bytes.
pub fn set_length(headers: &mut HeaderMap, len: u64) {
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
}
