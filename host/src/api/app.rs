//! The HTTP application: which handler answers a request, inside the request middleware
//! (telemetry around the body guard).
//!
//! Requests to the registry API — nearly all of a registry's traffic — go straight to their
//! handler, which parses the path itself; only the other paths (sign-in, the UI, metrics) are
//! routed by axum. Both go through the same middleware.

use super::{auth, body, metrics, telemetry, token, ui, v2, AppState};
use crate::api::error::ApiError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use tower::ServiceExt;

/// Answers requests; cloned per connection.
#[derive(Clone)]
pub struct App {
    state: Arc<AppState>,
    router: Router,
}

impl App {
    /// The application over `state`; `metrics_path` mounts the Prometheus endpoint.
    pub fn new(state: Arc<AppState>, metrics_path: Option<&str>) -> App {
        let mut router = Router::new()
            .route("/zot/auth/login", any(auth::login))
            .route("/zot/auth/callback/{provider}", get(auth::callback))
            .route("/zot/auth/logout", any(auth::logout))
            .route("/zot/auth/apikey", any(auth::apikey))
            .route("/zot/auth/token", any(token::token))
            .route("/portcullis/identity", get(auth::identity))
            .route("/", get(ui::page))
            .route("/login", get(ui::page))
            .route("/portcullis/ui/app.js", get(ui::script))
            .route("/portcullis/ui/app.css", get(ui::style));
        if let Some(path) = metrics_path {
            router = router.route(path, get(metrics));
        }
        let router = router
            .fallback(|| async { ApiError::not_found() })
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                |State(state): State<Arc<AppState>>, request: Request, next: Next| async move {
                    around(&state, request, |r| next.run(r)).await
                },
            ))
            .with_state(state.clone());
        App { state, router }
    }

    /// The response to `request`.
    pub async fn answer(&self, request: Request) -> Response {
        if is_registry_path(request.uri().path()) {
            around(&self.state, request, |r| v2(&self.state, r)).await
        } else {
            // Boxed: the router's future is twice the registry's, and every request's future
            // would carry (and move) it.
            match Box::pin(self.router.clone().oneshot(request)).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    }
}

/// `/v2`, `/v2/` and everything under it.
fn is_registry_path(path: &str) -> bool {
    path.strip_prefix("/v2")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The middleware every request passes: its span, metrics and audit line around the guard of
/// its body, around `handler`.
async fn around<F: Future<Output = Response>>(
    state: &AppState,
    request: Request,
    handler: impl FnOnce(Request) -> F,
) -> Response {
    telemetry::observe(state, request, |r| body::guard(state.body, r, handler)).await
}

#[cfg(test)]
mod tests {
    use super::is_registry_path;

    #[test]
    fn registry_paths_are_v2_and_below_only() {
        for path in ["/v2", "/v2/", "/v2/_catalog", "/v2/a/b/manifests/latest"] {
            assert!(is_registry_path(path), "{path}");
        }
        for path in ["/", "/v2x", "/v20/", "/zot/auth/login", "/metrics", "/V2/"] {
            assert!(!is_registry_path(path), "{path}");
        }
    }
}
