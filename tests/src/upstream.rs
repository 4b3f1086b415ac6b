//! A real upstream registry for the pull-through cache tests: Debian's `docker-registry` (CNCF
//! distribution 2.8) on 127.0.0.1, anonymous, with htpasswd, behind token authentication, or
//! over TLS; its access log is kept to count what was fetched from it.

use crate::issuer::Authority;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How clients authenticate to the upstream.
pub enum UpstreamAuth<'a> {
    /// Anyone may pull and push.
    Anonymous,
    /// HTTP Basic against this htpasswd file (bcrypt).
    Htpasswd(&'a Path),
    /// Docker tokens from `realm`, signed by the key of the certificate `cert`.
    Token {
        /// The token service's URL.
        realm: &'a str,
        /// The certificate of the key that signs the tokens.
        cert: &'a Path,
    },
}

/// The service name and issuer the upstream expects in its tokens.
pub const TOKEN_SERVICE: &str = "upstream-test";
/// The issuer of the test token service (`tests/oidc/issuer.mjs`).
pub const TOKEN_ISSUER: &str = "portcullis-test-token-service";

/// A running `docker-registry`; stopped on drop.
pub struct Upstream {
    child: Option<Child>,
    /// `127.0.0.1:PORT` (or `localhost:PORT` with TLS).
    pub host: String,
    /// `http://…` or `https://…`.
    pub url: String,
    log: PathBuf,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Upstream {
    /// Start one with `auth`, over TLS with `tls`'s server certificate when given.
    pub fn start(auth: UpstreamAuth<'_>, tls: Option<&Authority>) -> Upstream {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = crate::free_port();
        let quote = |p: &Path| serde_json::to_string(&p.to_string_lossy()).unwrap();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
             delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: upstream-test\n",
            quote(&dir.path().join("root"))
        );
        if let Some(tls) = tls {
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                quote(&tls.server_cert),
                quote(&tls.server_key)
            ));
        }
        match auth {
            UpstreamAuth::Anonymous => {}
            UpstreamAuth::Htpasswd(file) => config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: upstream\n    path: {}\n",
                quote(file)
            )),
            UpstreamAuth::Token { realm, cert } => config.push_str(&format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {TOKEN_SERVICE}\n    \
                 issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                quote(cert)
            )),
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let (host, scheme) = match tls {
            Some(_) => (format!("localhost:{port}"), "https"),
            None => (format!("127.0.0.1:{port}"), "http"),
        };
        let mut upstream = Upstream {
            child: None,
            url: format!("{scheme}://{host}"),
            host,
            log: dir.path().join("registry.log"),
            config: config_path,
            _dir: dir,
        };
        upstream.spawn();
        upstream
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&self.config)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn docker-registry (run scripts/install-test-deps)");
        self.child = Some(child);
        let port: u16 = self.host.rsplit(':').next().unwrap().parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How many GETs of `path` (e.g. `/v2/app/manifests/v1`) the upstream answered with 200.
    pub fn served(&self, path: &str) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let needle = format!("\"GET {path} HTTP/1.1\" 200 ");
        log.lines().filter(|l| l.contains(&needle)).count()
    }

    /// Stop it (its content stays for [`Upstream::restart`]).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again after [`Upstream::stop`].
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop();
    }
}
