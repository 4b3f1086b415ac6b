//! Where a browser may be sent after sign-in: zot's `callback_ui` rules. A relative path on
//! this registry, or an absolute http(s) URL whose origin is allowed
//! (`openid.callbackAllowOrigins` and `http.externalUrl`); anything else becomes `/`, so the
//! registry is never an open redirect.

/// `scheme://host:port` of an absolute http(s) URL, lowercased, with the default port made
/// explicit.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains(['@', '\\', ' ']) {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => match p.parse::<u16>() {
            Ok(p) => (h.to_owned(), p),
            Err(_) if authority.starts_with('[') && authority.ends_with(']') => {
                (authority.clone(), default_port)
            }
            Err(_) => return None,
        },
        _ => (authority.clone(), default_port),
    };
    if host.is_empty() {
        return None;
    }
    Some(format!("{scheme}://{host}:{port}"))
}

/// The target a `callback_ui` may send the browser to: none for an empty value, the value
/// when it is a plain path here or an allowed absolute URL, else `/`.
pub fn safe_callback(callback_ui: &str, allowed_origins: &[String]) -> Option<String> {
    if callback_ui.is_empty() {
        return None;
    }
    let fallback = Some("/".to_owned());
    if callback_ui.contains(['\r', '\n', '\\']) || callback_ui.chars().any(char::is_control) {
        return fallback;
    }
    if callback_ui.starts_with("//") {
        return fallback;
    }
    if callback_ui.starts_with('/') {
        return Some(callback_ui.to_owned());
    }
    match origin_of(callback_ui) {
        Some(origin) if allowed_origins.contains(&origin) => Some(callback_ui.to_owned()),
        _ => fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_open_redirect() {
        let allowed = vec![origin_of("https://ui.example.test").unwrap()];
        assert_eq!(safe_callback("", &allowed), None);
        assert_eq!(
            safe_callback("/home?x=1", &allowed).as_deref(),
            Some("/home?x=1")
        );
        assert_eq!(
            safe_callback("https://UI.example.test:443/p", &allowed).as_deref(),
            Some("https://UI.example.test:443/p")
        );
        for evil in [
            "//evil.test/x",
            "https://evil.test/",
            "https://ui.example.test.evil.test/",
            "https://ui.example.test@evil.test/",
            "javascript:alert(1)",
            "/\\evil.test",
            "/x\r\nSet-Cookie: a=b",
            "relative/path",
            "http://ui.example.test/",
        ] {
            assert_eq!(
                safe_callback(evil, &allowed).as_deref(),
                Some("/"),
                "{evil}"
            );
        }
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("HTTPS://A.test/x").as_deref(),
            Some("https://a.test:443")
        );
        assert_eq!(
            origin_of("http://a.test:8080").as_deref(),
            Some("http://a.test:8080")
        );
        assert_eq!(origin_of("ftp://a.test"), None);
        assert_eq!(origin_of("http://"), None);
    }
}
