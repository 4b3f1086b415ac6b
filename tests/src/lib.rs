//! Test harness: start the real `portcullis` binary with a configuration on an ephemeral port,
//! wait until it listens, and talk to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub mod clients;
pub mod issuer;
pub mod oci;
pub mod raw;
pub mod scripted;
pub mod upstream;

/// Path of the `portcullis` binary built alongside the tests.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("portcullis");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/test, or `cargo build -p portcullis` first",
        bin.display()
    );
    bin
}

/// A running registry; killed on drop.
pub struct Registry {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`, for clients that want host:port.
    pub host: String,
    /// The storage root.
    pub root: PathBuf,
    /// The configuration file used.
    pub config_path: PathBuf,
    _dir: Option<tempfile::TempDir>,
    logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// Storage root and config file for a test, in a fresh temporary directory.
pub struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    /// A fresh directory.
    pub fn new() -> Setup {
        Setup {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The temporary directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The default configuration with `extra` merged into it (JSON objects merge key by key).
    pub fn config(&self, extra: serde_json::Value) -> serde_json::Value {
        let mut base = serde_json::json!({
            "distSpecVersion": "1.1.1",
            "storage": { "rootDirectory": self.dir.path().join("root"), "gc": false },
            "http": { "address": "127.0.0.1", "port": "0" },
            "log": { "level": "info" },
            // Compiled plugins are shared by every test, as they would be across restarts.
            "plugins": { "cacheDirectory": Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-plugin-cache") },
        });
        merge(&mut base, extra);
        base
    }

    /// Start a registry with `config` (from [`Setup::config`]).
    pub fn start(self, config: serde_json::Value) -> Registry {
        let config_path = self.dir.path().join("config.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        let root = PathBuf::from(config["storage"]["rootDirectory"].as_str().unwrap());
        let mut registry = Registry::launch(config_path, root);
        registry._dir = Some(self.dir);
        registry
    }
}

impl Default for Setup {
    fn default() -> Self {
        Setup::new()
    }
}

/// Merge `extra` into `base`.
pub fn merge(base: &mut serde_json::Value, extra: serde_json::Value) {
    match (base, extra) {
        (serde_json::Value::Object(b), serde_json::Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}

impl Registry {
    /// Start with the default configuration.
    pub fn start() -> Registry {
        let setup = Setup::new();
        let config = setup.config(serde_json::json!({}));
        setup.start(config)
    }

    /// Start the binary on an existing config file; `root` is its storage root.
    pub fn launch(config_path: PathBuf, root: PathBuf) -> Registry {
        let mut child = Command::new(binary())
            .arg("serve")
            .arg(&config_path)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn portcullis");
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(addr) = listening_addr(&line) {
                        let _ = tx.send(addr);
                    }
                    logs.lock().unwrap().push(line);
                }
            });
        }
        let started = std::time::Instant::now();
        let host = loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => break addr,
                Err(_) if started.elapsed() > Duration::from_secs(120) => {
                    let _ = child.kill();
                    panic!("registry did not start: {:?}", logs.lock().unwrap());
                }
                Err(_) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        std::thread::sleep(Duration::from_millis(100)); // let the readers drain
                        panic!("registry exited ({status}): {:?}", logs.lock().unwrap());
                    }
                }
            }
        };
        Registry {
            child: Some(child),
            url: format!("http://{host}"),
            host,
            root,
            config_path,
            _dir: None,
            logs,
        }
    }

    /// `url` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The Prometheus text of `/metrics`, read anonymously.
    pub fn metrics(&self) -> String {
        client()
            .get(self.at("/metrics"))
            .send()
            .and_then(|r| r.text())
            .expect("GET /metrics")
    }

    /// Everything the registry logged so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Whether the registry logs a line containing `needle` within 10 s (a line arrives
    /// through a pipe, so it may trail the response it belongs to).
    pub fn logged(&self, needle: &str) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if self.logs().iter().any(|l| l.contains(needle)) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Kill the process with SIGKILL and wait for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop the process as an operator would (SIGTERM) and wait for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling a child process this harness started and still owns.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// Start again on the same configuration and storage (after [`Registry::kill`]).
    pub fn restart(mut self) -> Registry {
        self.kill();
        let mut next = Registry::launch(self.config_path.clone(), self.root.clone());
        next._dir = self._dir.take();
        next
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Find `addr=HOST:PORT` in a "listening" log line.
fn listening_addr(line: &str) -> Option<String> {
    if !line.contains("listening") {
        return None;
    }
    let start = line.find("addr=")? + 5;
    let rest = &line[start..];
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

/// A blocking HTTP client that never follows redirects.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// A client like [`client`] whose connections come from `address` (any of 127.0.0.0/8 on
/// Linux): each such address has its own failed-login budget.
pub fn client_from(address: std::net::Ipv4Addr) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120))
        .local_address(std::net::IpAddr::V4(address))
        .build()
        .unwrap()
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for a configuration that must name
/// the registry's own address before it starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The fixture plugins (`tests/plugins`, built once per test process for wasm32-wasip2):
/// the path of the component of crate `name`.
pub fn fixture_plugin(name: &str) -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = here.join("../target/wasm-fixtures");
        let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(here.join("plugins/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the fixture plugins failed");
        target.join("wasm32-wasip2/release")
    });
    dir.join(format!("{}.wasm", name.replace('-', "_")))
}

/// The example plugins (`examples/plugins`, one per language): the path of the component
/// `name`, built by `examples/plugins/build` (once per test process; it skips examples whose
/// sources did not change). None when the example's toolchain is not installed: that skips
/// the test locally and fails it in CI, like [`require`].
pub fn example_plugin(name: &str) -> Option<PathBuf> {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("examples/plugins/build");
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let out = root.join(format!("target/example-plugins/{name}.wasm"));
    if built.iter().any(|b| b == name) {
        return Some(out);
    }
    let check = Command::new(&script)
        .args(["--check", name])
        .output()
        .expect("run examples/plugins/build --check");
    if !check.status.success() {
        let missing = String::from_utf8_lossy(&check.stdout);
        assert!(
            std::env::var_os("CI").is_none(),
            "the toolchain of example {name} is required in CI: {missing}"
        );
        eprintln!("skipping: {}", missing.trim());
        return None;
    }
    let status = Command::new(&script)
        .arg(name)
        .status()
        .expect("run examples/plugins/build");
    assert!(status.success(), "building example plugin {name} failed");
    built.push(name.to_owned());
    Some(out)
}

/// Start a registry with an htpasswd file of `users`, `access` as `http.accessControl`, and
/// `extra` merged into the configuration.
pub fn start_gated(
    users: &[(&str, &str)],
    access: serde_json::Value,
    extra: serde_json::Value,
) -> Registry {
    let setup = Setup::new();
    let file = setup.path().join("htpasswd");
    std::fs::write(&file, htpasswd(users)).unwrap();
    let mut config = setup.config(serde_json::json!({
        "http": {"realm": "portcullis-test", "auth": {"htpasswd": {"path": file}}, "accessControl": access}
    }));
    merge(&mut config, extra);
    setup.start(config)
}

/// An htpasswd file's content with bcrypt (cost 5) entries.
pub fn htpasswd(users: &[(&str, &str)]) -> String {
    users
        .iter()
        .map(|(u, p)| format!("{u}:{}\n", bcrypt::hash(p, 5).unwrap()))
        .collect()
}

/// Whether an external program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Skip a test when a required program is missing, unless running in CI (where it must exist).
pub fn require(program: &str) -> bool {
    if have(program) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{program} is required in CI (installed by .ci/run)"
    );
    eprintln!("skipping: {program} not installed (run scripts/install-test-deps)");
    false
}

/// A stop flag for background load in a test. It also trips by itself after two minutes, so
/// that a test whose main thread fails never leaves its load threads (and itself) running.
pub struct Stop {
    flag: std::sync::atomic::AtomicBool,
    started: std::time::Instant,
}

impl Stop {
    /// A flag that is not set.
    pub fn new() -> Stop {
        Stop {
            flag: std::sync::atomic::AtomicBool::new(false),
            started: std::time::Instant::now(),
        }
    }

    /// Ask the load to stop.
    pub fn stop(&self) {
        self.flag.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the load should go on.
    pub fn running(&self) -> bool {
        !self.flag.load(std::sync::atomic::Ordering::Relaxed)
            && self.started.elapsed() < Duration::from_secs(120)
    }
}

impl Default for Stop {
    fn default() -> Self {
        Stop::new()
    }
}
