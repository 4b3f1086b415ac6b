//! One HTTP/1.1 keep-alive connection to a server on loopback, reconnected when it closes.
//! Every request the benchmark makes, from pushes to the load generator's, goes through it.

use crate::payload::Payload;
use anyhow::Context as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, HOST};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;

/// What a request got back, its body read in full.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Reply {
    /// A header as text, if present and textual.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Fail unless the status is `expected`.
    pub fn expect(self, expected: StatusCode, what: &str) -> anyhow::Result<Reply> {
        anyhow::ensure!(
            self.status == expected,
            "{what}: expected {expected}, got {} {}",
            self.status,
            String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
        );
        Ok(self)
    }
}

/// An HTTP/1.1 client bound to one server address, holding at most one connection.
pub struct Client {
    addr: SocketAddr,
    host: HeaderValue,
    auth: Option<HeaderValue>,
    sender: Option<SendRequest<Payload>>,
}

impl Client {
    /// A client for `addr` that sends `auth` as its `Authorization` header, if given.
    pub fn new(addr: SocketAddr, auth: Option<HeaderValue>) -> Client {
        Client {
            addr,
            host: HeaderValue::from_str(&addr.to_string()).expect("socket address is a header"),
            auth,
            sender: None,
        }
    }

    async fn connection(&mut self) -> anyhow::Result<&mut SendRequest<Payload>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = tokio::net::TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("connect to {}", self.addr))?;
            stream.set_nodelay(true)?;
            let (sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().expect("connected above");
        sender.ready().await?;
        Ok(sender)
    }

    /// Send a request; the response body is left unread.
    pub async fn start(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Payload,
    ) -> anyhow::Result<http::Response<hyper::body::Incoming>> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request.body(body)?;
        let sender = self.connection().await?;
        match sender.send_request(request).await {
            Ok(response) => Ok(response),
            Err(e) => {
                self.sender = None;
                Err(e.into())
            }
        }
    }

    /// Send a request and read the whole response.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Payload,
    ) -> anyhow::Result<Reply> {
        let response = self.start(method, path, headers, body).await?;
        let (parts, body) = response.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                self.sender = None;
                return Err(e.into());
            }
        };
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Send a request and count the response body's bytes without keeping them.
    pub async fn send_counting(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
    ) -> anyhow::Result<(StatusCode, u64)> {
        let response = self.start(method, path, headers, Payload::empty()).await?;
        let status = response.status();
        let mut body = response.into_body();
        let mut bytes = 0u64;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => bytes += frame.data_ref().map_or(0, |d| d.len() as u64),
                Err(e) => {
                    self.sender = None;
                    return Err(e.into());
                }
            }
        }
        Ok((status, bytes))
    }
}

/// The path (and query) of a `Location` header, which may be an absolute URL.
pub fn location_path(location: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = location.strip_prefix(scheme) {
            return rest.find('/').map_or("/", |i| &rest[i..]);
        }
    }
    location
}

/// `path` with `key=value` added to its query.
pub fn with_query(path: &str, key: &str, value: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}{key}={value}")
}

/// The `Authorization` value for HTTP Basic.
pub fn basic_auth(user: &str, password: &str) -> HeaderValue {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    HeaderValue::from_str(&format!("Basic {token}")).expect("base64 is a header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            location_path("http://127.0.0.1:5000/v2/a/blobs/uploads/x?_state=y"),
            "/v2/a/blobs/uploads/x?_state=y"
        );
        assert_eq!(
            location_path("/v2/a/blobs/uploads/x"),
            "/v2/a/blobs/uploads/x"
        );
        assert_eq!(with_query("/u?s=1", "digest", "d"), "/u?s=1&digest=d");
        assert_eq!(with_query("/u", "digest", "d"), "/u?digest=d");
    }
}
