//! zot's token endpoint `/zot/auth/token` (reference §3.11), the realm of the Bearer challenge,
//! so that `docker login -u oauth --password-stdin`, `skopeo login` and `podman login` work
//! with a workload identity token: the credential comes as the Basic password or a form field
//! (`password`, `id_token`, `access_token`, `refresh_token`, `token`); a token a configured
//! issuer owns is verified and echoed back (`{token, access_token, expires_in, issued_at}`, as
//! zot: no new token is minted). Beyond zot, other credentials the gate accepts (a password, an
//! API key) are wrapped into an opaque token, so every method keeps working for clients that
//! follow the Bearer challenge.

use super::error::ApiError;
use super::{presentation, AppState};
use crate::gate::Target;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Value};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Largest form body (zot's limit).
const MAX_FORM: usize = 64 << 10;
/// Form fields that may carry a credential.
const FIELDS: [&str; 5] = [
    "password",
    "id_token",
    "access_token",
    "refresh_token",
    "token",
];

fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    h.insert("pragma", HeaderValue::from_static("no-cache"));
    response
}

/// The credentials of a token request: the Basic password (with its user name) and the form
/// fields, trimmed and without duplicates.
async fn credentials(headers: &HeaderMap, body: Body) -> Result<(String, Vec<String>), ApiError> {
    let mut user = String::new();
    let mut found: Vec<String> = Vec::new();
    if let Some(crate::gate::authorization::Presented::Basic { username, password }) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(crate::gate::authorization::parse)
    {
        user = username;
        found.push(password);
    }
    let form = super::header(headers, "content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        let bytes = axum::body::to_bytes(body, MAX_FORM).await.map_err(|e| {
            if super::body::is_length_limit(&e) {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "UNSUPPORTED",
                    "form too large",
                )
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED", "unreadable form")
                    .with_detail(json!({ "reason": e.to_string() }))
            }
        })?;
        for (key, value) in form_urlencoded::parse(&bytes) {
            if FIELDS.contains(&key.as_ref()) {
                found.push(value.into_owned());
            } else if key == "username" && user.is_empty() {
                user = value.into_owned();
            }
        }
    }
    let mut unique: Vec<String> = Vec::new();
    for c in found.into_iter().map(|c| c.trim().to_owned()) {
        if !c.is_empty() && !unique.contains(&c) {
            unique.push(c);
        }
    }
    Ok((user, unique))
}

fn rfc3339(seconds: Option<f64>) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(seconds? as i64)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

fn claims_of(token: &str) -> Value {
    token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p.trim_end_matches('='))
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// `GET|POST /zot/auth/token`.
pub async fn token(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if request.method() == Method::OPTIONS {
        return super::empty_with_length(StatusCode::NO_CONTENT, 0);
    }
    if request.method() != Method::GET && request.method() != Method::POST {
        return ApiError::method_not_allowed().into_response();
    }
    let (parts, body) = request.into_parts();
    let realm = state
        .gate
        .tokens()
        .and_then(|t| t.realm().map(str::to_owned))
        .unwrap_or_else(|| "zot".to_owned());
    let refused = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
        )
        .with_header(
            "WWW-Authenticate",
            format!("Basic realm=\"{}\"", realm.replace(['"', '\\'], "")),
        )
    };
    let result = async {
        let (user, found) = credentials(&parts.headers, body).await?;
        let tokens = state.gate.tokens();
        for credential in found {
            // Ask the gate as if the credential came as Basic (the user name matters for
            // passwords and keys only; tokens ignore it).
            let owned = tokens.as_ref().is_some_and(|t| t.owns(&credential));
            let username = if user.is_empty() {
                "token"
            } else {
                user.as_str()
            };
            let basic = base64::engine::general_purpose::STANDARD
                .encode(format!("{username}:{credential}"));
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&format!("Basic {basic}")) {
                headers.insert("authorization", v);
            }
            let mut synthetic = axum::http::Request::new(());
            *synthetic.headers_mut() = headers;
            *synthetic.extensions_mut() = parts.extensions.clone();
            let (synthetic, ()) = synthetic.into_parts();
            let caller = match state
                .gate
                .admit(&presentation(&synthetic), Target::Registry)
                .await
            {
                Ok(caller) if caller.identity().is_some() => caller,
                Ok(_) => continue,
                Err(crate::gate::Refusal::Unauthenticated { .. }) => return Err(refused()),
                Err(other) => return Err(other.into()),
            };
            let now = crate::clock::now_ms() / 1000;
            let body = if owned {
                let claims = claims_of(&credential);
                let exp = claims.get("exp").and_then(Value::as_f64).unwrap_or(0.0);
                json!({
                    "token": credential,
                    "access_token": credential,
                    "expires_in": (exp as u64).saturating_sub(now),
                    "issued_at": rfc3339(claims.get("iat").and_then(Value::as_f64)),
                })
            } else {
                let Some((wrapped, lifetime)) = state.gate.wrap(&caller) else {
                    continue;
                };
                json!({
                    "token": wrapped,
                    "access_token": wrapped,
                    "expires_in": lifetime.as_secs(),
                    "issued_at": rfc3339(Some(now as f64)),
                })
            };
            return Ok(axum::Json(body).into_response());
        }
        Err(refused())
    }
    .await;
    no_store(result.unwrap_or_else(IntoResponse::into_response))
}
