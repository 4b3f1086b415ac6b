//! A server process of the benchmark's (a registry or a ceiling server) on 127.0.0.1:
//! started, waited for until it answers, and stopped on drop.

use crate::client::Client;
use crate::payload::Payload;
use anyhow::Context as _;
use http::Method;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for a server to answer after it starts.
const READY_LIMIT: Duration = Duration::from_secs(180);

/// A running server process, stopped on drop.
pub struct Process {
    name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Spawn `command` (which must listen on `addr`), its output going to `log`, and wait
    /// until it answers `GET /v2/` with any status; returns it and the time from spawning
    /// to that first answer.
    pub async fn spawn(
        name: &str,
        mut command: Command,
        addr: SocketAddr,
        log: &Path,
    ) -> anyhow::Result<(Process, Duration)> {
        let log_file = std::fs::File::create(log)?;
        let started = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("start {name}"))?;
        let mut process = Process {
            name: name.to_owned(),
            addr,
            child,
            log: log.to_owned(),
        };
        process.wait_ready().await?;
        Ok((process, started.elapsed()))
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut client = Client::new(self.addr, None);
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "{} exited ({status}) before answering:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            let probe = client.send(Method::GET, "/v2/", &[], Payload::empty());
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), probe).await {
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < READY_LIMIT,
                "{} did not answer within {READY_LIMIT:?}:\n{}",
                self.name,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the process wrote.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stop with SIGTERM (SIGKILL after 10 s) and wait for the process.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: signalling our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// An address on 127.0.0.1 whose port was free a moment ago.
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?)
}
