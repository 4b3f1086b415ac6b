//! The pull-through cache's place in a read: a local miss lets the sync extension fetch from
//! its upstream, then the read is answered again from storage.

use super::Reply;
use axum::http::StatusCode;
use std::future::Future;
use std::sync::Arc;

/// `first` (a local read), or — when it found nothing and `fetch` brought the content in —
/// `again`. A failed fetch keeps the local answer (the spec's error), and says why in the log.
pub async fn or_fetched<F, A, AF>(first: Reply, fetch: Option<F>, again: A) -> Reply
where
    F: Future<Output = Result<bool, Arc<str>>>,
    A: FnOnce() -> AF,
    AF: Future<Output = Reply>,
{
    match (first, fetch) {
        (Err(e), Some(fetch)) if e.status == StatusCode::NOT_FOUND => match fetch.await {
            Ok(true) => again().await,
            Ok(false) => Err(e),
            Err(why) => {
                tracing::info!(reason = %why, "sync: nothing fetched from upstream");
                Err(e)
            }
        },
        (first, _) => first,
    }
}
