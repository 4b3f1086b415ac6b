//! Bounded pools for work that blocks (file I/O, hashing, plugin calls): the async workers only
//! await them. Each pool admits a fixed number of jobs at once; a job that cannot start within
//! the pool's queueing deadline is refused with [`PoolError::Saturated`], which the API answers
//! with 503 and `Retry-After` — never a silent failure, never an unbounded queue.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Why a job did not run to completion.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PoolError {
    /// Every slot stayed busy for the whole queueing deadline.
    #[error("{pool} is saturated; retry shortly")]
    Saturated {
        /// The pool's name.
        pool: &'static str,
    },
    /// The job panicked.
    #[error("a job of {pool} failed unexpectedly")]
    Panicked {
        /// The pool's name.
        pool: &'static str,
    },
}

/// A bounded pool of blocking jobs.
#[derive(Debug, Clone)]
pub struct BlockingPool {
    name: &'static str,
    slots: Arc<Semaphore>,
    size: usize,
    queue_timeout: Duration,
}

impl BlockingPool {
    /// A pool running at most `size` jobs at once, each waiting at most `queue_timeout` for a
    /// slot.
    pub fn new(name: &'static str, size: usize, queue_timeout: Duration) -> BlockingPool {
        let size = size.max(1);
        BlockingPool {
            name,
            slots: Arc::new(Semaphore::new(size)),
            size,
            queue_timeout,
        }
    }

    /// Jobs running now.
    pub fn in_use(&self) -> usize {
        self.size - self.slots.available_permits()
    }

    /// Run `job` on a blocking thread once a slot is free. The slot stays taken until the job
    /// returns, even if the caller stops waiting, so the pool never exceeds its size.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let saturated = PoolError::Saturated { pool: self.name };
        let slot = tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| saturated.clone())?
            .map_err(|_| saturated)?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            job()
        })
        .await
        .map_err(|_| PoolError::Panicked { pool: self.name })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_with_a_queueing_deadline() {
        let pool = BlockingPool::new("test", 2, Duration::from_millis(50));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(std::sync::Mutex::new(wait));
        let mut held = Vec::new();
        for _ in 0..2 {
            let pool = pool.clone();
            let wait = wait.clone();
            held.push(tokio::spawn(async move {
                pool.run(move || wait.lock().unwrap().recv().ok()).await
            }));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(pool.in_use(), 2);
        let refused = pool.run(|| 1).await;
        assert!(matches!(
            refused,
            Err(PoolError::Saturated { pool: "test" })
        ));
        release.send(()).unwrap();
        release.send(()).unwrap();
        for h in held {
            assert!(h.await.unwrap().is_ok());
        }
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
        let panicked = pool.run(|| panic!("on purpose")).await;
        assert!(matches!(panicked, Err(PoolError::Panicked { .. })));
    }
}
