//! The cookies of sessions: zot's `session` (HttpOnly: the token) and `user` (readable by the
//! page: the user name), `SameSite=Lax`, `Secure` with TLS or `secureSession`.

use axum::http::header::COOKIE;
use axum::http::HeaderMap;

/// The session cookie's name (zot's).
pub const SESSION: &str = "session";
/// The cookie naming the user for the page (zot's).
pub const USER: &str = "user";
/// The cookie binding a browser to the sign-in it started.
pub const LOGIN: &str = "portcullis-login";

/// A cookie's value from the request.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// A `Set-Cookie` value.
pub fn set(
    name: &str,
    value: &str,
    path: &str,
    max_age: u64,
    http_only: bool,
    secure: bool,
) -> String {
    let mut cookie = format!("{name}={value}; Path={path}; Max-Age={max_age}; SameSite=Lax");
    if http_only {
        cookie.push_str("; HttpOnly");
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// A `Set-Cookie` value that removes a cookie.
pub fn clear(name: &str, path: &str, secure: bool) -> String {
    set(name, "", path, 0, true, secure)
}

/// The cookies of a new session.
pub fn session(token: &str, username: &str, secure: bool) -> Vec<String> {
    let max_age = crate::sessions::ABSOLUTE.as_secs();
    let user: String = form_urlencoded::byte_serialize(username.as_bytes()).collect();
    vec![
        set(SESSION, token, "/", max_age, true, secure),
        set(USER, &user, "/", max_age, false, secure),
    ]
}

/// The cookies that end a session in the browser.
pub fn end_session(secure: bool) -> Vec<String> {
    vec![clear(SESSION, "/", secure), clear(USER, "/", secure)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reading_and_writing() {
        let mut h = HeaderMap::new();
        h.append(
            "cookie",
            HeaderValue::from_static("a=1; session=tok; user=x"),
        );
        assert_eq!(get(&h, "session"), Some("tok"));
        assert_eq!(get(&h, "nope"), None);
        let c = session("tok", "a b@x", true);
        assert!(
            c[0].contains("HttpOnly") && c[0].contains("Secure") && c[0].contains("SameSite=Lax")
        );
        assert!(c[1].starts_with("user=a+b%40x") && !c[1].contains("HttpOnly"));
    }
}
