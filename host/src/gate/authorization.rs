//! Parsing an `Authorization` header value. Pure: no I/O, no state (fuzzed on its own).

use base64::Engine as _;

/// What a header value presents.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented {
    /// No credentials (or zot's "empty" `Basic Og==`).
    Nothing,
    /// HTTP Basic.
    Basic {
        /// The user name (never empty).
        username: String,
        /// The password.
        password: String,
    },
    /// A bearer token (not checked here).
    Bearer(String),
    /// Something that cannot be accepted (malformed Basic, another scheme).
    Unusable(&'static str),
}

/// Classify one `Authorization` header value.
pub fn parse(value: &str) -> Presented {
    let value = value.trim();
    if value.is_empty() {
        return Presented::Nothing;
    }
    let Some((scheme, token)) = value.split_once(' ') else {
        return Presented::Unusable("malformed Authorization header");
    };
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return match token.is_empty() {
            true => Presented::Unusable("empty bearer token"),
            false => Presented::Bearer(token.to_owned()),
        };
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Presented::Unusable("unsupported authorization scheme");
    }
    if token == "Og==" {
        return Presented::Nothing;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token) else {
        return Presented::Unusable("malformed Basic credentials");
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return Presented::Unusable("malformed Basic credentials");
    };
    match decoded.split_once(':') {
        Some((username, password)) if !username.is_empty() => Presented::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        },
        _ => Presented::Unusable("malformed Basic credentials"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        assert_eq!(parse(""), Presented::Nothing);
        assert_eq!(parse("Basic Og=="), Presented::Nothing);
        assert_eq!(
            parse("basic YWxpY2U6cDpx"),
            Presented::Basic {
                username: "alice".into(),
                password: "p:q".into()
            }
        );
        assert!(matches!(parse("Basic !!"), Presented::Unusable(_)));
        assert!(matches!(parse("Digest x"), Presented::Unusable(_)));
        assert_eq!(parse("bearer abc"), Presented::Bearer("abc".into()));
        assert!(matches!(
            parse("Bearer  "),
            Presented::Unusable(_) | Presented::Nothing
        ));
        assert!(matches!(parse("Basic OnB3"), Presented::Unusable(_)));
    }
}
