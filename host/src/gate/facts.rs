//! What policies may know of a request, captured at arrival for a few reference counts and
//! turned into the contract's [`RequestContext`] only when an authorizer is actually asked (a
//! decision answered from memory, or no authorizer at all, never builds it).

use crate::plugins::model::RequestContext;
use axum::http::{HeaderValue, Method};
use std::net::IpAddr;

/// Longest `User-Agent` a policy sees, in characters.
const USER_AGENT_CHARS: usize = 512;
/// Most `X-Forwarded-For` addresses a policy sees.
const FORWARDED_ADDRESSES: usize = 16;
/// Longest `X-Forwarded-For` address a policy sees, in characters.
const FORWARDED_CHARS: usize = 64;

/// The request's facts, as they arrived.
#[derive(Clone, Debug)]
pub struct RequestFacts {
    /// The HTTP method.
    pub method: Method,
    /// The `User-Agent` header, if any.
    pub user_agent: Option<HeaderValue>,
    /// The `X-Forwarded-For` header, if any (not trusted).
    pub forwarded_for: Option<HeaderValue>,
    /// The client's address (of the connection).
    pub client: IpAddr,
    /// The TLS version, none for plain HTTP.
    pub tls_version: Option<&'static str>,
    /// When the request arrived, ms since the Unix epoch.
    pub time_ms: u64,
}

impl RequestFacts {
    /// The context an authorizer receives, with untrusted headers cut to size.
    pub fn context(&self) -> RequestContext {
        let text = |v: &HeaderValue| v.to_str().ok().map(str::to_owned);
        RequestContext {
            method: self.method.as_str().to_owned(),
            user_agent: self
                .user_agent
                .as_ref()
                .and_then(text)
                .map(|ua| ua.chars().take(USER_AGENT_CHARS).collect()),
            client_ip: self.client.to_string(),
            forwarded_for: self
                .forwarded_for
                .as_ref()
                .and_then(text)
                .map(|h| {
                    h.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .take(FORWARDED_ADDRESSES)
                        .map(|s| s.chars().take(FORWARDED_CHARS).collect())
                        .collect()
                })
                .unwrap_or_default(),
            tls_version: self.tls_version.map(str::to_owned),
            time_ms: self.time_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_headers_are_cut_to_size() {
        let long = "x".repeat(2000);
        let many = (0..40)
            .map(|i| format!("10.0.0.{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let facts = RequestFacts {
            method: Method::GET,
            user_agent: Some(HeaderValue::from_str(&long).unwrap()),
            forwarded_for: Some(HeaderValue::from_str(&format!(" , {many}")).unwrap()),
            client: "127.0.0.1".parse().unwrap(),
            tls_version: Some("TLS 1.3"),
            time_ms: 7,
        };
        let context = facts.context();
        assert_eq!(context.method, "GET");
        assert_eq!(context.user_agent.unwrap().len(), USER_AGENT_CHARS);
        assert_eq!(context.forwarded_for.len(), FORWARDED_ADDRESSES);
        assert_eq!(context.forwarded_for[0], "10.0.0.0");
        assert_eq!(context.client_ip, "127.0.0.1");
        assert_eq!(context.tls_version.as_deref(), Some("TLS 1.3"));
        assert_eq!(context.time_ms, 7);
    }
}
