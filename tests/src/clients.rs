//! Driving real OCI clients (skopeo, podman, umoci, oras-py) against a test registry.
//!
//! Every test gets a [`Sandbox`]: a temporary directory that holds the clients' home, XDG
//! directories, auth file, `registries.conf`, `containers.conf`, `storage.conf`, signature
//! policy and podman storage, so tests neither read nor write `~/.docker`,
//! `~/.config/containers` or `/var/lib/containers/storage`, and tests running in parallel share
//! nothing.
//!
//! The containers/image blob-info cache is the exception the clients give no option for: as
//! root, skopeo 1.9 and podman 4.3 always use `/var/lib/containers/cache/blob-info-cache-v1.boltdb`.
//! When running as root and `unshare --mount` works, each
//! skopeo and podman command runs in a private mount namespace with the sandbox's own cache
//! directory bind-mounted over that path. Otherwise the shared cache is used: the clients then
//! may try cross-repository mounts of blobs they pushed to the same `host:port` before, which a
//! correct registry answers with 202 and an upload session, so the tests still hold.
//!
//! Set `PORTCULLIS_CLIENT_DEBUG=1` to run skopeo with `--debug` and podman with
//! `--log-level=debug`; a failing command's output then shows every request it made.

use crate::Registry;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// Where root skopeo and podman keep their blob-info cache.
const SYSTEM_CACHE_DIR: &str = "/var/lib/containers/cache";

/// Path of a file under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Whether `python3` can import `module`. Like [`crate::require`]: false (skip) when it cannot,
/// outside CI; panics in CI.
pub fn require_python_module(module: &str) -> bool {
    if !crate::require("python3") {
        return false;
    }
    let ok = Command::new("python3")
        .arg("-c")
        .arg(format!("import {module}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "python module {module} is required in CI (installed by scripts/install-test-deps)"
    );
    eprintln!("skipping: python module {module} not installed (run scripts/install-test-deps)");
    false
}

/// Whether skopeo and podman can each get a private blob-info cache (root, and `unshare --mount`
/// with a bind mount works). Checked once per test binary.
fn cache_isolation() -> bool {
    static ISOLATE: OnceLock<bool> = OnceLock::new();
    *ISOLATE.get_or_init(|| {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            // Not root: the cache lives under $HOME, which the sandbox already replaces.
            return false;
        }
        let probe = tempfile::tempdir().expect("tempdir");
        let ok = std::fs::create_dir_all(SYSTEM_CACHE_DIR).is_ok()
            && Command::new("unshare")
                .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
                .arg(format!("mount --bind \"$0\" {SYSTEM_CACHE_DIR}"))
                .arg(probe.path())
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
        if !ok {
            eprintln!(
                "note: cannot isolate {SYSTEM_CACHE_DIR} (unshare --mount failed); \
                 skopeo and podman share their blob-info cache"
            );
        }
        ok
    })
}

fn debug() -> bool {
    std::env::var_os("PORTCULLIS_CLIENT_DEBUG").is_some_and(|v| !v.is_empty() && v != "0")
}

/// A private home for OCI clients talking to one registry.
pub struct Sandbox<'r> {
    dir: tempfile::TempDir,
    registry: &'r Registry,
}

impl<'r> Sandbox<'r> {
    /// A fresh sandbox whose configuration trusts `registry` over plain HTTP.
    pub fn new(registry: &'r Registry) -> Sandbox<'r> {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path();
        for sub in [
            "home/.config",
            "home/.local/share",
            "home/.cache",
            "home/.docker",
            "tmp",
            "cache",
            "podman/root",
            "podman/run",
            "podman/tmp",
        ] {
            std::fs::create_dir_all(p.join(sub)).unwrap();
        }
        let xdg_runtime = p.join("xdg-run");
        std::fs::create_dir_all(&xdg_runtime).unwrap();
        std::fs::set_permissions(&xdg_runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        let host = &registry.host;
        write(
            &p.join("registries.conf"),
            &format!(
                "unqualified-search-registries = []\nshort-name-mode = \"enforcing\"\n\n\
                 [[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
            ),
        );
        write(
            &p.join("policy.json"),
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        );
        write(
            &p.join("containers.conf"),
            "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        );
        write(
            &p.join("storage.conf"),
            &format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                p.join("podman/root").display(),
                p.join("podman/run").display()
            ),
        );
        write(&p.join("home/.docker/config.json"), "{}");
        // podman refuses a REGISTRY_AUTH_FILE that does not exist.
        write(&p.join("auth.json"), r#"{"auths":{}}"#);
        Sandbox { dir, registry }
    }

    /// The sandbox directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `path` inside the sandbox directory.
    pub fn join(&self, path: &str) -> PathBuf {
        self.dir.path().join(path)
    }

    /// `program` with the sandbox's environment: HOME, XDG directories, TMPDIR, auth and
    /// configuration files all point inside the sandbox.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        self.set_env(&mut cmd);
        cmd
    }

    fn set_env(&self, cmd: &mut Command) {
        let p = self.dir.path();
        let home = p.join("home");
        cmd.env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_RUNTIME_DIR", p.join("xdg-run"))
            .env("DOCKER_CONFIG", home.join(".docker"))
            .env("REGISTRY_AUTH_FILE", p.join("auth.json"))
            .env("TMPDIR", p.join("tmp"))
            .env("CONTAINERS_REGISTRIES_CONF", p.join("registries.conf"))
            .env("CONTAINERS_CONF", p.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", p.join("storage.conf"))
            .env_remove("CONTAINER_HOST")
            .env_remove("CONTAINER_CONNECTION")
            .env_remove("DOCKER_HOST");
    }

    /// A skopeo or podman command, inside a private mount namespace with the sandbox's own
    /// blob-info cache when [`cache_isolation`] allows it.
    fn containers_command(&self, program: &str) -> Command {
        if !cache_isolation() {
            return self.command(program);
        }
        let mut cmd = self.command("unshare");
        cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(format!(
                "mount --bind \"$0\" {SYSTEM_CACHE_DIR} && exec \"$@\""
            ))
            .arg(self.join("cache"))
            .arg(program);
        cmd
    }

    /// Run skopeo with the sandbox's registries.conf and policy; panics unless it succeeds.
    /// Returns standard output.
    pub fn skopeo(&self, args: &[&str]) -> String {
        self.run(&mut self.skopeo_command(args))
    }

    fn skopeo_command(&self, args: &[&str]) -> Command {
        let mut cmd = self.containers_command("skopeo");
        if debug() {
            cmd.arg("--debug");
        }
        cmd.arg("--registries-conf")
            .arg(self.join("registries.conf"))
            .arg("--policy")
            .arg(self.join("policy.json"))
            .args(args);
        cmd
    }

    /// Run skopeo expecting it to fail; panics if it succeeds. Returns standard error.
    pub fn skopeo_fails(&self, args: &[&str]) -> String {
        let mut cmd = self.skopeo_command(args);
        let output = cmd
            .output()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        assert!(
            !output.status.success(),
            "expected failure: {}",
            describe(&cmd, &output)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    }

    /// Run podman as root on vfs storage inside the sandbox; panics unless it succeeds.
    /// Returns standard output.
    pub fn podman(&self, args: &[&str]) -> String {
        let mut cmd = self.containers_command("podman");
        if debug() {
            cmd.arg("--log-level=debug");
        }
        cmd.arg("--root")
            .arg(self.join("podman/root"))
            .arg("--runroot")
            .arg(self.join("podman/run"))
            .arg("--tmpdir")
            .arg(self.join("podman/tmp"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
            ])
            .args(args);
        self.run(&mut cmd)
    }

    /// Run a Python script with `python3`; panics unless it succeeds. Returns standard output.
    pub fn python(&self, script: &Path, args: &[&str]) -> String {
        let mut cmd = self.command("python3");
        cmd.arg(script).args(args);
        self.run(&mut cmd)
    }

    /// Run `cmd`; panic with its output and the registry's recent log unless it succeeds.
    /// Returns standard output.
    pub fn run(&self, cmd: &mut Command) -> String {
        let output = cmd
            .output()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        if !output.status.success() {
            panic!(
                "{}\n--- registry log (last 40 lines) ---\n{}",
                describe(cmd, &output),
                tail(&self.registry.logs(), 40)
            );
        }
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    /// Build the test images (see `tests/fixtures/build-image.sh`) into a new OCI layout
    /// `name` inside the sandbox.
    pub fn build_images(&self, name: &str) -> Layout {
        let dir = self.join(name);
        let mut cmd = self.command("sh");
        cmd.arg(fixture("build-image.sh")).arg(&dir);
        self.run(&mut cmd);
        Layout { dir }
    }

    /// An OCI layout `name` inside the sandbox (existing or still to be written).
    pub fn layout(&self, name: &str) -> Layout {
        Layout {
            dir: self.join(name),
        }
    }
}

/// A command and its output, for a failure message.
fn describe(cmd: &Command, output: &Output) -> String {
    format!(
        "{cmd:?} failed: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The last `n` lines of `lines`, joined.
fn tail(lines: &[String], n: usize) -> String {
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// An OCI image layout directory on disk.
pub struct Layout {
    /// The layout directory.
    pub dir: PathBuf,
}

impl Layout {
    /// The `oci:` transport reference to `tag` in this layout, for skopeo.
    pub fn reference(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.dir.display())
    }

    /// The layout's `index.json`.
    pub fn index(&self) -> Value {
        let bytes = std::fs::read(self.dir.join("index.json")).expect("index.json");
        serde_json::from_slice(&bytes).expect("index.json is JSON")
    }

    /// The descriptor `index.json` has for `tag`.
    pub fn descriptor(&self, tag: &str) -> Value {
        let index = self.index();
        index["manifests"]
            .as_array()
            .expect("manifests array")
            .iter()
            .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .unwrap_or_else(|| panic!("no tag {tag} in {index}"))
            .clone()
    }

    /// The digest of the manifest (or index) tagged `tag`.
    pub fn digest(&self, tag: &str) -> String {
        self.descriptor(tag)["digest"]
            .as_str()
            .expect("digest string")
            .to_owned()
    }

    /// The bytes of the blob `digest` (`sha256:...`).
    pub fn blob(&self, digest: &str) -> Vec<u8> {
        let (algorithm, hex) = digest.split_once(':').expect("algorithm:hex");
        let path = self.dir.join("blobs").join(algorithm).join(hex);
        std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// The blob `digest` parsed as JSON.
    pub fn json(&self, digest: &str) -> Value {
        serde_json::from_slice(&self.blob(digest)).expect("blob is JSON")
    }

    /// The manifest tagged `tag`, as bytes.
    pub fn manifest(&self, tag: &str) -> Vec<u8> {
        self.blob(&self.digest(tag))
    }
}
