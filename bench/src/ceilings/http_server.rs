//! The loopback HTTP ceiling: a trivial hyper server, run as a process of its own (the hidden
//! `ceiling-server` subcommand), that discards what is PUT and answers GET and HEAD from
//! memory. Nothing a registry does per request could be cheaper, so its rates bound theirs.

use crate::blobdata::random_bytes;
use crate::payload::Payload;
use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};

/// What the server holds.
#[derive(Clone)]
struct Content {
    /// Served at `GET /big`.
    big: Bytes,
    /// Served for any other GET or HEAD: a body the size of the benchmark's manifest.
    small: Bytes,
}

/// Serve on 127.0.0.1:`port` until killed; `GET /big` returns `big` random bytes.
pub async fn serve(port: u16, big: usize, small: usize) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    let content = Content {
        big: Bytes::from(random_bytes(big, 7)),
        small: Bytes::from(vec![b'x'; small]),
    };
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let content = content.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(request, content.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    content: Content,
) -> Result<Response<Payload>, Infallible> {
    let mut response = Response::new(Payload::empty());
    match *request.method() {
        Method::PUT | Method::POST | Method::PATCH => {
            let mut body = request.into_body();
            while let Some(Ok(_)) = body.frame().await {}
            *response.status_mut() = StatusCode::CREATED;
        }
        Method::GET if request.uri().path() == "/big" => {
            *response.body_mut() = content.big.into();
        }
        Method::GET | Method::HEAD => {
            // hyper sends the length but no body for HEAD.
            *response.body_mut() = content.small.into();
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(crate::oci::MANIFEST_TYPE),
            );
        }
        _ => *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED,
    }
    Ok(response)
}
