//! The pull-through cache's place in a read: a local miss lets the sync extension fetch from
//! its upstream, then the read is answered again from storage.

use super::error::ApiError;
use super::Reply;
use crate::sync::FetchError;
use axum::http::StatusCode;
use std::future::Future;
use std::time::Duration;

/// How long a client is asked to wait when too many upstream fetches run at once.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(5);

/// `first` (a local read), or — when it found nothing and `fetch` brought the content in —
/// `again`. A failed fetch keeps the local answer (the spec's error), and says why in the log;
/// too many fetches at once is a 503 with `Retry-After`.
pub async fn or_fetched<F, A, AF>(first: Reply, fetch: Option<F>, again: A) -> Reply
where
    F: Future<Output = Result<bool, FetchError>>,
    A: FnOnce() -> AF,
    AF: Future<Output = Reply>,
{
    match (first, fetch) {
        (Err(e), Some(fetch)) if e.status == StatusCode::NOT_FOUND => match fetch.await {
            Ok(true) => again().await,
            Ok(false) => Err(e),
            Err(FetchError::Busy) => Err(ApiError::unavailable(
                FetchError::Busy.to_string(),
                BUSY_RETRY_AFTER,
            )),
            Err(FetchError::Failed(why)) => {
                tracing::info!(reason = %why, "sync: nothing fetched from upstream");
                Err(e)
            }
        },
        (first, _) => first,
    }
}
