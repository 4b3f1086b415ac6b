//! The sign-in page, served by the host at `/` and `/login`: one button per OpenID provider, a
//! user/password form when some authenticator checks passwords, and once signed in, who the
//! user is (source and groups as Portcullis counts them), their API keys (create with label,
//! expiry and scopes, shown once; list; revoke) and sign-out. No external asset, no framework,
//! a strict Content-Security-Policy.

use super::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

const PAGE: &str = include_str!("ui/page.html");
const PASSWORD_FORM: &str = include_str!("ui/password.html");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/app.css");

/// The page's Content-Security-Policy: only this origin's script and style, no frames.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn hardened(content_type: &'static str, body: String) -> Response {
    let mut response = body.into_response();
    let h: &mut HeaderMap = response.headers_mut();
    h.insert("content-type", HeaderValue::from_static(content_type));
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

/// `/` and `/login`.
pub async fn page(State(state): State<Arc<AppState>>) -> Response {
    let providers: String = state
        .gate
        .openid()
        .map(|o| o.providers())
        .unwrap_or_default()
        .iter()
        .map(|(kind, name)| {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("provider", kind)
                .append_pair("callback_ui", "/")
                .finish();
            format!(
                "<li><a href=\"/zot/auth/login?{}\">Sign in with {}</a></li>",
                escape(&query),
                escape(name)
            )
        })
        .collect();
    let password = if state.gate.passwords() {
        PASSWORD_FORM
    } else {
        ""
    };
    let body = PAGE
        .replace("{{PROVIDERS}}", &providers)
        .replace("{{PASSWORD_FORM}}", password);
    hardened("text/html; charset=utf-8", body)
}

/// The page's script.
pub async fn script() -> Response {
    hardened("text/javascript; charset=utf-8", SCRIPT.to_owned())
}

/// The page's style.
pub async fn style() -> Response {
    hardened("text/css; charset=utf-8", STYLE.to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping() {
        assert_eq!(
            super::escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
