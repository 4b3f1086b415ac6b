//! The load generator: a fixed number of keep-alive connections, each sending one request
//! after another (closed loop) for a fixed time, with every latency recorded for percentiles.
//! Unlike wrk it can send HEAD, and it uses the same client code as the rest of the benchmark.

use crate::client::Client;
use crate::stats::percentile;
use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The one request every connection repeats.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// Method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// Extra headers (the client adds `Host` and `Authorization`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The status that counts as success.
    pub expect: StatusCode,
}

/// How much load, for how long.
#[derive(Debug, Clone, Copy)]
pub struct LoadShape {
    /// Concurrent connections.
    pub connections: usize,
    /// Unmeasured time at the start.
    pub warmup: Duration,
    /// Measured time after it.
    pub duration: Duration,
}

/// What a load run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    /// Successful requests in the measured window.
    pub requests: u64,
    /// Requests of any outcome over the whole run, warm-up included (for CPU per request).
    pub requests_total: u64,
    /// Failed requests (wrong status or connection error) over the whole run.
    pub errors: u64,
    /// Successful requests per second in the measured window.
    pub rps: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    total: u64,
    errors: u64,
}

/// Give up on a connection after this many failures in a row (the server is gone or broken).
const MAX_CONSECUTIVE_ERRORS: u32 = 1000;

/// Run `request` from `shape.connections` connections to `addr`, authenticated with `auth`.
pub async fn run(
    addr: SocketAddr,
    auth: Option<HeaderValue>,
    request: RequestSpec,
    shape: LoadShape,
) -> anyhow::Result<LoadResult> {
    let request = Arc::new(request);
    let start = Instant::now();
    let measure_from = start + shape.warmup;
    let deadline = measure_from + shape.duration;
    let workers: Vec<_> = (0..shape.connections)
        .map(|_| {
            let request = request.clone();
            let auth = auth.clone();
            tokio::spawn(worker(addr, auth, request, measure_from, deadline))
        })
        .collect();
    let mut tally = Tally::default();
    for worker in workers {
        let t = worker.await?;
        tally.latencies_us.extend(t.latencies_us);
        tally.total += t.total;
        tally.errors += t.errors;
    }
    anyhow::ensure!(
        tally.errors * 100 <= tally.total.max(1),
        "{} {}: {} of {} requests failed",
        request.method,
        request.path,
        tally.errors,
        tally.total
    );
    tally.latencies_us.sort_unstable();
    let requests = tally.latencies_us.len() as u64;
    Ok(LoadResult {
        requests,
        requests_total: tally.total,
        errors: tally.errors,
        rps: requests as f64 / shape.duration.as_secs_f64(),
        p50_ms: f64::from(percentile(&tally.latencies_us, 50.0)) / 1000.0,
        p99_ms: f64::from(percentile(&tally.latencies_us, 99.0)) / 1000.0,
    })
}

async fn worker(
    addr: SocketAddr,
    auth: Option<HeaderValue>,
    request: Arc<RequestSpec>,
    measure_from: Instant,
    deadline: Instant,
) -> Tally {
    let mut client = Client::new(addr, auth);
    let mut tally = Tally::default();
    let mut consecutive_errors = 0;
    loop {
        let sent = Instant::now();
        if sent >= deadline || consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
            return tally;
        }
        let outcome = client
            .send_counting(request.method.clone(), &request.path, &request.headers)
            .await;
        let done = Instant::now();
        tally.total += 1;
        match outcome {
            Ok((status, _)) if status == request.expect => {
                consecutive_errors = 0;
                // Only requests that both started and finished inside the window count.
                if sent >= measure_from && done <= deadline {
                    let micros = (done - sent).as_micros().min(u128::from(u32::MAX)) as u32;
                    tally.latencies_us.push(micros);
                }
            }
            _ => {
                tally.errors += 1;
                consecutive_errors += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

/// Run `jobs` (numbered `0..count`) on `concurrency` connections to `addr`, each connection
/// taking the next number until none is left; returns the elapsed time.
pub async fn run_jobs<F, Fut>(
    addr: SocketAddr,
    auth: Option<HeaderValue>,
    count: usize,
    concurrency: usize,
    job: F,
) -> anyhow::Result<Duration>
where
    F: Fn(Client, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<Client>> + Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (job, next, auth) = (job.clone(), next.clone(), auth.clone());
            tokio::spawn(async move {
                let mut client = Client::new(addr, auth);
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= count {
                        return Ok::<_, anyhow::Error>(());
                    }
                    client = job(client, n).await?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(start.elapsed())
}

/// A `GET` or `HEAD` with the given headers expecting 200.
pub fn request(method: Method, path: String, headers: &[(&str, &str)]) -> RequestSpec {
    RequestSpec {
        method,
        path,
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    HeaderName::from_bytes(n.as_bytes()).expect("valid header name"),
                    HeaderValue::from_str(v).expect("valid header value"),
                )
            })
            .collect(),
        expect: StatusCode::OK,
    }
}
