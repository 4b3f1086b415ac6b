//! The listener's bounds, from `http.*` keys with documented defaults, and the process's file
//! descriptor limit they depend on.

use super::connection::SocketTimeouts;
use crate::config::model::HttpConfig;
use std::time::Duration;

/// Default `http.readHeaderTimeout` (zot's fixed value).
pub const READ_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `http.idleTimeout` (zot's fixed value).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Default `http.maxConnections`.
pub const MAX_CONNECTIONS: usize = 4096;
/// File descriptors kept for everything but client connections (blobs, logs, databases).
const RESERVED_FDS: u64 = 256;

/// Bounds on connections.
#[derive(Debug, Clone, Copy)]
pub struct ListenerLimits {
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Socket-level timeouts.
    pub timeouts: SocketTimeouts,
}

impl ListenerLimits {
    /// The limits of `http`, capped so that connections can never exhaust `fd_limit`.
    pub fn new(http: &HttpConfig, fd_limit: u64) -> ListenerLimits {
        let wanted = http.maxconnections.unwrap_or(MAX_CONNECTIONS);
        let affordable = fd_limit.saturating_sub(RESERVED_FDS).max(16) as usize;
        if wanted > affordable {
            tracing::warn!(
                wanted,
                affordable,
                "http.maxConnections exceeds what the file descriptor limit allows; capped"
            );
        }
        ListenerLimits {
            max_connections: wanted.min(affordable),
            timeouts: SocketTimeouts {
                idle: http.idletimeout.unwrap_or(IDLE_TIMEOUT),
                header: http.readheadertimeout.unwrap_or(READ_HEADER_TIMEOUT),
            },
        }
    }
}

/// Raise the soft limit on open files to the hard limit; returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}
