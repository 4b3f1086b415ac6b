//! zot's sign-in endpoints, so an identity provider needs no change: `/zot/auth/login`,
//! `/zot/auth/callback/<provider>`, `/zot/auth/logout`, `/zot/auth/apikey` (zot's request and
//! response shapes and statuses, reference §3.5–3.7), and Portcullis's `/portcullis/identity`
//! (who the caller is, its source and the groups Portcullis counts it in).

use super::error::ApiError;
use super::query::Query;
use super::{presentation, set, AppState, Audit};
use crate::gate::{cookies, Caller, Identity, Refusal, Target};
use crate::oidc::SignInError;
use crate::plugins::model::{KeyError, KeyInfo, KeyRequest};
use crate::plugins::CallError;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Largest API-key request body (zot's limit).
const MAX_KEY_REQUEST: usize = 8 << 10;
/// How long a browser has to come back from the provider.
const LOGIN_COOKIE_SECONDS: u64 = 600;
/// zot's "never": Go's zero time.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A response carrying `Set-Cookie` values.
fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for cookie in cookies {
        if let Ok(v) = HeaderValue::from_str(cookie) {
            response.headers_mut().append("set-cookie", v);
        }
    }
    response
}

fn preflight(method: &Method) -> Option<Response> {
    (method == Method::OPTIONS).then(|| super::empty_with_length(StatusCode::NO_CONTENT, 0))
}

fn sign_in_error(e: SignInError) -> ApiError {
    match e {
        SignInError::UnknownProvider(p) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED",
            format!("no OpenID provider {p:?} is configured"),
        ),
        SignInError::Unavailable(why) => {
            tracing::error!(
                reason = why,
                "sign-in failed: the identity provider is unavailable"
            );
            ApiError::unavailable(
                "the identity provider is unavailable; retry later",
                Duration::from_secs(5),
            )
        }
        SignInError::Refused(why) => {
            tracing::warn!(reason = why, "sign-in refused");
            ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "sign-in failed")
        }
    }
}

fn no_openid() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "UNSUPPORTED",
        "OpenID sign-in is not configured",
    )
}

/// `/zot/auth/login?provider=…&callback_ui=…` (any method, as zot): redirect to the provider.
pub async fn login(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let query = Query::parse(request.uri().query());
    let result = async {
        let openid = state.gate.openid().ok_or_else(no_openid)?;
        let provider = query.get("provider").unwrap_or_default();
        let (url, login_state) = openid
            .begin(provider, query.get("callback_ui"))
            .await
            .map_err(sign_in_error)?;
        let mut response = (StatusCode::FOUND, Body::empty()).into_response();
        set(response.headers_mut(), LOCATION, &url);
        let cookie = cookies::set(
            cookies::LOGIN,
            &login_state,
            "/zot/auth/callback",
            LOGIN_COOKIE_SECONDS,
            true,
            state.gate.secure_cookies(),
        );
        Ok::<_, ApiError>(with_cookies(response, &[cookie]))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `/zot/auth/callback/<provider>`: finish the sign-in, start a session, go to `callback_ui`
/// (302) or answer 201 (zot's).
pub async fn callback(
    State(state): State<Arc<AppState>>,
    Path(provider): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let query = Query::parse(parts.uri.query());
    let secure = state.gate.secure_cookies();
    let result = async {
        let openid = state.gate.openid().ok_or_else(no_openid)?;
        if let Some(error) = query.get("error") {
            return Err(sign_in_error(SignInError::Refused(format!(
                "the provider refused: {}",
                error.chars().take(200).collect::<String>()
            ))));
        }
        let (Some(code), Some(login_state)) = (query.get("code"), query.get("state")) else {
            return Err(sign_in_error(SignInError::Refused(
                "the callback has no code or state".into(),
            )));
        };
        let signed_in = openid
            .finish(
                &provider,
                login_state,
                cookies::get(&parts.headers, cookies::LOGIN),
                code,
            )
            .await
            .map_err(sign_in_error)?;
        tracing::info!(user = %signed_in.username, source = %signed_in.source,
            groups = ?signed_in.groups, "signed in");
        let identity = Identity::new(signed_in.username, signed_in.groups, signed_in.source);
        let mut set_cookies = state
            .gate
            .open_session(&identity, signed_in.end_session_url)
            .await
            .map_err(ApiError::from)?;
        set_cookies.push(cookies::clear(cookies::LOGIN, "/zot/auth/callback", secure));
        let response = match signed_in.callback_ui {
            Some(target) => {
                let mut r = (StatusCode::FOUND, Body::empty()).into_response();
                set(r.headers_mut(), LOCATION, &target);
                r
            }
            None => super::empty_with_length(StatusCode::CREATED, 0),
        };
        Ok(with_cookies(response, &set_cookies))
    }
    .await;
    result.unwrap_or_else(|e| {
        with_cookies(
            e.into_response(),
            &[cookies::clear(cookies::LOGIN, "/zot/auth/callback", secure)],
        )
    })
}

/// `POST /zot/auth/logout`: end the session here (and say where to end it at the provider).
pub async fn logout(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Some(r) = preflight(request.method()) {
        return r;
    }
    if request.method() != Method::POST {
        return ApiError::method_not_allowed().into_response();
    }
    let secure = state.gate.secure_cookies();
    let token = cookies::get(request.headers(), cookies::SESSION).map(str::to_owned);
    let mut end_session_url = None;
    if let (Some(store), Some(token)) = (state.gate.sessions(), token) {
        match store.delete(&token).await {
            Ok(Some(session)) => {
                tracing::info!(user = %session.username, "signed out");
                end_session_url = session.end_session_url;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot end a session");
                return ApiError::unavailable(
                    "cannot end the session; retry",
                    Duration::from_secs(1),
                )
                .into_response();
            }
        }
    }
    let body = match end_session_url {
        Some(url) => json!({ "endSessionUrl": url }),
        None => json!({}),
    };
    with_cookies(
        axum::Json(body).into_response(),
        &cookies::end_session(secure),
    )
}

/// The authenticated caller of a request, or 401.
async fn authenticated(
    state: &AppState,
    parts: &axum::http::request::Parts,
) -> Result<Caller, ApiError> {
    let caller = state
        .gate
        .admit(&presentation(parts), Target::Registry)
        .await?;
    if caller.identity().is_none() {
        return Err(Refusal::Unauthenticated {
            reason: "sign in first".into(),
            challenge: None,
        }
        .into());
    }
    Ok(caller)
}

/// `GET /portcullis/identity`: the caller, its source, and the groups Portcullis counts it in.
pub async fn identity(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let result = async {
        let caller = authenticated(&state, &parts).await?;
        let identity = caller.identity().expect("authenticated");
        let groups = caller.effective_groups().await?;
        let body = json!({
            "username": identity.username,
            "source": identity.source,
            "groups": groups,
            "scopes": identity.scopes.as_ref().map(|s| s.iter().map(|s| format!(
                "{}:{}", s.repositories,
                s.actions.iter().map(|a| a.name()).collect::<Vec<_>>().join(",")
            )).collect::<Vec<_>>()),
            "apiKeys": state.gate.keys().is_some(),
        });
        Ok::<_, ApiError>(with_cookies(
            axum::Json(body).into_response(),
            caller.cookies(),
        ))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `/zot/auth/apikey`: GET lists, POST creates, DELETE `?id=` revokes the caller's keys.
pub async fn apikey(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Some(r) = preflight(request.method()) {
        return r;
    }
    let (parts, body) = request.into_parts();
    let mut audit = Audit::of(&parts.method);
    let result = async {
        let keys = state.gate.keys().ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "UNSUPPORTED",
                "API keys are not enabled",
            )
        })?;
        let caller = authenticated(&state, &parts).await?;
        audit.identify(&caller);
        let owner = caller.identity().expect("authenticated").clone();
        let response = match parts.method {
            Method::GET => {
                let list = keys.list_keys(&owner.username).await.map_err(call_error)?;
                let now = crate::clock::now_ms();
                let keys: Vec<serde_json::Value> = list.iter().map(|k| key_json(k, now)).collect();
                axum::Json(json!({ "apiKeys": keys })).into_response()
            }
            Method::POST => create_key(&keys, &owner, &parts, body).await?,
            Method::DELETE => {
                let query = Query::parse(parts.uri.query());
                let ids: Vec<&str> = query.all("id").collect();
                let [id] = ids.as_slice() else {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "UNSUPPORTED",
                        "exactly one id query parameter is required",
                    ));
                };
                if keys
                    .revoke_key(&owner.username, id)
                    .await
                    .map_err(call_error)?
                {
                    tracing::info!(user = %owner.username, key = id, "API key revoked");
                }
                // A revoked key stops working at once, whatever was cached.
                state
                    .gate
                    .forget(crate::plugins::API_KEY_SOURCE, &owner.username);
                super::empty_with_length(StatusCode::OK, 0)
            }
            _ => return Err(ApiError::method_not_allowed()),
        };
        audit.allowed();
        Ok::<_, ApiError>(with_cookies(response, caller.cookies()))
    }
    .await;
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    response.extensions_mut().insert(audit);
    response
}

async fn create_key(
    keys: &Arc<crate::plugins::Plugin<crate::plugins::Keys>>,
    owner: &Identity,
    parts: &axum::http::request::Parts,
    body: Body,
) -> Result<Response, ApiError> {
    if owner.scopes.is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "DENIED",
            "a key with scopes cannot create keys",
        ));
    }
    let bytes = axum::body::to_bytes(body, MAX_KEY_REQUEST)
        .await
        .map_err(|e| {
            if super::body::is_length_limit(&e) {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "UNSUPPORTED",
                    "request body too large",
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "UNSUPPORTED",
                    format!("request body: {e}"),
                )
            }
        })?;
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED", m);
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Payload {
        #[serde(default)]
        label: String,
        #[serde(default)]
        scopes: Vec<String>,
        #[serde(default)]
        expiration_date: Option<String>,
    }
    let payload: Payload = if bytes.is_empty() {
        Payload::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("invalid JSON: {e}")))?
    };
    let expires_at_ms = match payload.expiration_date.as_deref().filter(|d| !d.is_empty()) {
        None => None,
        Some(date) => {
            let at = OffsetDateTime::parse(date, &Rfc3339)
                .map_err(|_| bad(format!("expirationDate {date:?} is not an RFC 3339 date")))?;
            Some(u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
        }
    };
    let request = KeyRequest {
        label: payload.label,
        scopes: payload.scopes,
        expires_at_ms,
        creator_ua: super::header(&parts.headers, "user-agent")
            .unwrap_or_default()
            .chars()
            .take(256)
            .collect(),
    };
    let created = match keys.create_key(owner, &request).await.map_err(call_error)? {
        Ok(created) => created,
        Err(KeyError::Invalid(m)) => return Err(bad(m)),
        Err(KeyError::Failed(m)) => {
            tracing::error!(error = m, "cannot store an API key");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNKNOWN",
                "cannot store the API key",
            ));
        }
    };
    tracing::info!(user = %owner.username, key = %created.info.id, "API key created");
    let mut body = key_json(&created.info, crate::clock::now_ms());
    body["apiKey"] = json!(created.secret);
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

fn call_error(e: CallError) -> ApiError {
    match e {
        CallError::Unavailable(_) => ApiError::unavailable(
            "the key manager is busy; retry shortly",
            Duration::from_secs(1),
        ),
        CallError::Failed(f) => {
            tracing::error!(error = %f, "the key manager failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNKNOWN",
                "the key manager failed",
            )
        }
    }
}

/// RFC 3339 of a time in ms, or zot's zero time.
fn rfc3339(ms: Option<u64>) -> String {
    ms.and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ZERO_TIME.to_owned())
}

/// A key as zot describes it (without the secret).
fn key_json(k: &KeyInfo, now: u64) -> serde_json::Value {
    json!({
        "uuid": k.id,
        "label": k.label,
        "scopes": k.scopes,
        "createdAt": rfc3339(Some(k.created_at_ms)),
        "expirationDate": rfc3339(k.expires_at_ms),
        "isExpired": k.expires_at_ms.is_some_and(|at| at <= now),
        "lastUsed": rfc3339(k.last_used_ms),
        "creatorUa": k.creator_ua,
        "generatedBy": "manual",
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn times() {
        assert_eq!(super::rfc3339(None), super::ZERO_TIME);
        assert_eq!(super::rfc3339(Some(0)), "1970-01-01T00:00:00Z");
    }
}
