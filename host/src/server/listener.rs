//! Accepting connections: a cap on how many are served at once (the one over the cap is told
//! 503 and closed, never left hanging), socket timeouts, TLS, HTTP/1.1 and HTTP/2, the client's
//! address on every request, and a graceful shutdown.

use super::body::Attached;
use super::connection::{Activity, GuardedIo, InFlight};
use super::limits::ListenerLimits;
use crate::api::{App, Peer};
use crate::zero_copy::{SendfileRegions, ZeroCopyStream};
use axum::body::Body;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// How long connections get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);
/// The body of the answer to a connection over the cap (plain HTTP only).
const OVER_CAPACITY: &str =
    r#"{"errors":[{"code":"UNAVAILABLE","message":"too many connections; retry in a second"}]}"#;

/// Serve `app` on `listener` until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: App,
    limits: ListenerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Socket timeouts are GuardedIo's; hyper's own header timer would also cut idle keep-alive.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_headers(128);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .keep_alive_interval(Some(limits.timeouts.idle / 2))
        .keep_alive_timeout(Duration::from_secs(20));
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors or memory: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream, tls.is_none()));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::default());
        let app = app.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        let handshake = limits.timeouts.header;
        tokio::spawn(async move {
            let _permit = permit;
            let timeouts = limits.timeouts;
            let service = |tls, sendfile| {
                hyper::service::service_fn(serve_request(
                    app,
                    activity.clone(),
                    Peer {
                        addr,
                        tls,
                        sendfile,
                    },
                ))
            };
            let result = match tls {
                None => {
                    let regions = SendfileRegions::default();
                    let stream = ZeroCopyStream::new(stream, regions.clone());
                    let io = GuardedIo::new(stream, activity.clone(), timeouts);
                    let conn =
                        builder.serve_connection(TokioIo::new(io), service(None, Some(regions)));
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => {
                    let io = GuardedIo::new(stream, activity.clone(), timeouts);
                    match tokio::time::timeout(handshake, acceptor.accept(io)).await {
                        Ok(Ok(stream)) => {
                            let version = tls_version(stream.get_ref().1.protocol_version());
                            let conn = builder.serve_connection(
                                TokioIo::new(stream),
                                service(Some(version), None),
                            );
                            watcher.watch(conn.into_owned()).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(client = %addr, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(client = %addr, "TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(client = %addr, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    tracing::info!(connections = graceful.count(), "draining connections");
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN:?}; closing them");
    }
}

/// The answer to one request, as the per-connection service returns it: the application's
/// body, carrying the mark that the request is in flight until it has been sent.
type Answer = std::pin::Pin<
    Box<dyn Future<Output = Result<hyper::Response<Attached<InFlight>>, Infallible>> + Send>,
>;

/// The per-connection request handler: marks the request in flight until its response body is
/// done, and records the peer and, on plain connections, where blob windows are registered for
/// sendfile.
fn serve_request(
    app: App,
    activity: Arc<Activity>,
    peer: Peer,
) -> impl Fn(hyper::Request<hyper::body::Incoming>) -> Answer + Clone {
    move |request| {
        let app = app.clone();
        let in_flight = activity.begin();
        let peer = peer.clone();
        Box::pin(async move {
            let mut request: Request = request.map(Body::new);
            request.extensions_mut().insert(peer);
            let response = app.answer(request).await;
            Ok(response.map(|body| Attached::new(body, in_flight)))
        })
    }
}

/// The negotiated TLS version, as zot's policy conditions name it.
fn tls_version(version: Option<rustls::ProtocolVersion>) -> &'static str {
    match version {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        _ => "TLS",
    }
}

/// Answer a connection over the cap and close it.
async fn refuse(mut stream: TcpStream, plain: bool) {
    tracing::warn!("connection refused: http.maxConnections reached");
    if plain {
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{OVER_CAPACITY}",
            OVER_CAPACITY.len()
        );
        let _ =
            tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
    }
    let _ = stream.shutdown().await;
}
