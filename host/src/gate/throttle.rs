//! Failed logins cost the attacker, not the registry: failures are counted per client address
//! and per user name (token buckets, in bounded caches that forget idle keys), and once either
//! budget is spent, further attempts with unverified credentials are refused with 429 before
//! any password is hashed. Credentials verified earlier keep working (they never reach here).

use moka::sync::Cache;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failures allowed at once, per address and per user name.
const BURST: f64 = 10.0;
/// Failures per second regained after the burst is spent.
const REFILL_PER_SECOND: f64 = 1.0;
/// Keys remembered at most, per kind.
const MAX_KEYS: u64 = 100_000;
/// A key with no failure for this long is forgotten (its bucket is full again by then).
const IDLE: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * REFILL_PER_SECOND).min(BURST);
        self.at = now;
    }

    /// Seconds until one more attempt is allowed (zero if one is allowed now).
    fn wait(&mut self, now: Instant) -> Duration {
        self.refill(now);
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / REFILL_PER_SECOND)
        }
    }
}

/// Failed-login budgets.
pub struct Throttle {
    by_address: Cache<IpAddr, Arc<Mutex<Bucket>>>,
    by_user: Cache<String, Arc<Mutex<Bucket>>>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            by_address: Cache::builder()
                .max_capacity(MAX_KEYS)
                .time_to_idle(IDLE)
                .build(),
            by_user: Cache::builder()
                .max_capacity(MAX_KEYS)
                .time_to_idle(IDLE)
                .build(),
        }
    }
}

fn wait_of(bucket: Option<Arc<Mutex<Bucket>>>, now: Instant) -> Duration {
    bucket
        .map(|b| b.lock().unwrap_or_else(|e| e.into_inner()).wait(now))
        .unwrap_or(Duration::ZERO)
}

fn spend(bucket: Arc<Mutex<Bucket>>, now: Instant) {
    let mut b = bucket.lock().unwrap_or_else(|e| e.into_inner());
    b.refill(now);
    b.tokens = (b.tokens - 1.0).max(0.0);
}

impl Throttle {
    /// How long `address` or `user` must wait before its next attempt (zero: go ahead). An
    /// empty user name (a token) counts for the address only.
    pub fn wait(&self, address: IpAddr, user: &str) -> Duration {
        let now = Instant::now();
        let by_user = match user.is_empty() {
            true => Duration::ZERO,
            false => wait_of(self.by_user.get(user), now),
        };
        wait_of(self.by_address.get(&address), now).max(by_user)
    }

    /// Count a failed attempt.
    pub fn failed(&self, address: IpAddr, user: &str) {
        let now = Instant::now();
        let fresh = || {
            Arc::new(Mutex::new(Bucket {
                tokens: BURST,
                at: now,
            }))
        };
        spend(self.by_address.get_with(address, fresh), now);
        if !user.is_empty() {
            spend(self.by_user.get_with(user.to_owned(), fresh), now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let t = Throttle::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..BURST as usize {
            assert_eq!(t.wait(ip, "alice"), Duration::ZERO);
            t.failed(ip, "alice");
        }
        assert!(t.wait(ip, "alice") > Duration::ZERO);
        // The same user from elsewhere is throttled too, another user from elsewhere is not.
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(t.wait(other, "alice") > Duration::ZERO);
        assert_eq!(t.wait(other, "bob"), Duration::ZERO);
    }
}
