//! The pull-through cache's place in a read: a local miss lets the sync extension fetch from
//! its upstream; the read is answered from what is arriving, or again from storage.

use super::error::ApiError;
use super::Reply;
use crate::sync::{FetchError, Fetched};
use axum::http::StatusCode;
use std::future::Future;
use std::time::Duration;

/// How long a client is asked to wait when too many upstream fetches run at once.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(5);

/// `first` (a local read), or — when it found nothing and `fetch` brings the content — an
/// answer from what is `arriving`, or `again` once it is stored. A failed fetch keeps the
/// local answer (the spec's error), and says why in the log; too many fetches at once is a 503
/// with `Retry-After`. The fetch is made (and boxed) only on a miss: an upstream request holds
/// far more state than a local read, and every read's future would carry it.
pub async fn or_fetched<T, G, F, A, AF, S, SF>(
    first: Reply,
    fetch: Option<G>,
    again: A,
    arriving: S,
) -> Reply
where
    G: FnOnce() -> F,
    F: Future<Output = Result<Fetched<T>, FetchError>>,
    A: FnOnce() -> AF,
    AF: Future<Output = Reply>,
    S: FnOnce(T) -> SF,
    SF: Future<Output = Reply>,
{
    match (first, fetch) {
        (Err(e), Some(fetch)) if e.status == StatusCode::NOT_FOUND => match Box::pin(fetch()).await
        {
            Ok(Fetched::Stored) => again().await,
            Ok(Fetched::Arriving(content)) => arriving(content).await.map_err(|why| {
                tracing::info!(reason = %why.message, "sync: nothing fetched from upstream");
                e
            }),
            Ok(Fetched::NotMapped) => Err(e),
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
