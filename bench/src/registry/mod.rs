//! Starting and stopping the two registries on 127.0.0.1, each in a directory of its own
//! (storage root, configuration, log), with or without Basic htpasswd authentication.

mod distribution;
mod portcullis;

use crate::process::{free_addr, Process};
use anyhow::Context as _;
use serde::Serialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Which registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// This project.
    Portcullis,
    /// CNCF distribution (Debian's `docker-registry`).
    Distribution,
}

impl Kind {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Portcullis => "portcullis",
            Kind::Distribution => "distribution",
        }
    }
}

/// Whether the registry authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// No authentication configured.
    Anonymous,
    /// Basic authentication against a bcrypt htpasswd file. Portcullis also gets an
    /// accessControl section granting anonymous reads and authenticated writes.
    Htpasswd,
}

impl Variant {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Anonymous => "anonymous",
            Variant::Htpasswd => "htpasswd",
        }
    }
}

/// Where the registry programs are.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `portcullis`.
    pub portcullis: PathBuf,
    /// CNCF distribution's `registry` (Debian: `/usr/bin/docker-registry`).
    pub distribution: PathBuf,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct LaunchSpec<'a> {
    /// Which registry.
    pub kind: Kind,
    /// Which authentication.
    pub variant: Variant,
    /// A fresh directory for its root, configuration and log.
    pub dir: &'a Path,
    /// The htpasswd file (used by [`Variant::Htpasswd`]).
    pub htpasswd: &'a Path,
    /// Portcullis's compiled-plugin cache (None: its default, under its root).
    pub plugin_cache: Option<&'a Path>,
    /// More Portcullis configuration, merged over the variant's (objects key by key).
    pub extra: Option<&'a serde_json::Value>,
}

/// A running registry, stopped on drop.
pub struct Server {
    /// Which registry.
    pub kind: Kind,
    /// The process.
    pub process: Process,
}

impl Server {
    /// Start a registry and wait until it answers `GET /v2/`; returns it and the time from
    /// spawning the process to that first answer.
    pub async fn launch(
        spec: &LaunchSpec<'_>,
        bins: &Binaries,
    ) -> anyhow::Result<(Server, Duration)> {
        let mut last_error = None;
        // A port picked free may be taken before the registry binds it: try a few.
        for _ in 0..3 {
            match Server::try_launch(spec, bins).await {
                Ok(started) => return Ok(started),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.expect("tried at least once"))
    }

    async fn try_launch(
        spec: &LaunchSpec<'_>,
        bins: &Binaries,
    ) -> anyhow::Result<(Server, Duration)> {
        std::fs::create_dir_all(spec.dir)
            .with_context(|| format!("create {}", spec.dir.display()))?;
        let addr = free_addr()?;
        let root = spec.dir.join("root");
        let (program, config) = match spec.kind {
            Kind::Portcullis => (
                &bins.portcullis,
                portcullis::write_config(spec, &root, addr.port())?,
            ),
            Kind::Distribution => (
                &bins.distribution,
                distribution::write_config(spec, &root, addr.port())?,
            ),
        };
        let mut command = Command::new(program);
        command.arg("serve").arg(&config).env_remove("RUST_LOG");
        let log = spec.dir.join(format!("{}.log", spec.kind.name()));
        let (process, elapsed) = Process::spawn(spec.kind.name(), command, addr, &log).await?;
        Ok((
            Server {
                kind: spec.kind,
                process,
            },
            elapsed,
        ))
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.process.addr
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Stop it and wait for the process to end.
    pub fn stop(self) {
        self.process.stop();
    }
}

/// The benchmark user's name and password.
pub const USER: (&str, &str) = ("bench", "bench-password");

/// Write an htpasswd file with [`USER`], hashed with bcrypt by Apache's `htpasswd -nbB`
/// (distribution reads only bcrypt).
pub fn write_htpasswd(path: &Path) -> anyhow::Result<()> {
    let output = Command::new("htpasswd")
        .args(["-nbB", USER.0, USER.1])
        .output()
        .context("run htpasswd (Debian package apache2-utils)")?;
    anyhow::ensure!(output.status.success(), "htpasswd failed: {output:?}");
    let line = String::from_utf8(output.stdout)?;
    std::fs::write(path, format!("{}\n", line.trim()))?;
    Ok(())
}
