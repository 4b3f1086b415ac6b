//! Builds the default plugins (`../plugins`, a workspace of its own) for wasm32-wasip2 and
//! exposes each component's path to the host as `PORTCULLIS_PLUGIN_<NAME>`, so the normal
//! `cargo build` embeds them with no manual step.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The default plugins: crate name and the file cargo produces.
const PLUGINS: [(&str, &str); 4] = [
    ("htpasswd", "htpasswd.wasm"),
    ("access-control", "access_control.wasm"),
    ("api-keys", "api_keys.wasm"),
    ("workload-identity", "workload_identity.wasm"),
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest.parent().unwrap();
    let plugins = workspace.join("plugins");
    // The whole plugin workspace (its sources, manifests and lock file; its build output is
    // under target/), and the contract.
    rerun_if_changed(&workspace.join("wit"));
    rerun_if_changed(&plugins);
    // target/<profile>/build/<pkg>/out → target/wasm-plugins, shared by every profile.
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let target_dir = out.ancestors().nth(4).unwrap().join("wasm-plugins");
    ensure_wasm_target();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--release",
            "--target",
            WASM_TARGET,
            "--manifest-path",
        ])
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's flags and wrappers (clippy, coverage) are for the host, not the guests.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        command.env_remove(var);
    }
    let status = command.status().expect("run cargo for the plugins");
    assert!(status.success(), "building the default plugins failed");
    for (name, file) in PLUGINS {
        let path = target_dir.join(WASM_TARGET).join("release").join(file);
        assert!(path.exists(), "{} was not built", path.display());
        let var = name.to_uppercase().replace('-', "_");
        println!("cargo:rustc-env=PORTCULLIS_PLUGIN_{var}={}", path.display());
    }
}

/// The target the plugins are built for.
const WASM_TARGET: &str = "wasm32-wasip2";

/// Make sure the toolchain building us can build for [`WASM_TARGET`]: a fresh rustup install
/// has only the host target, and the first `cargo run` of a new user must work. The toolchain
/// is the one rustup chose for this build (`RUSTUP_TOOLCHAIN`, set by its proxies).
fn ensure_wasm_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let installed = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .is_some_and(|dir| dir.is_dir());
    if installed {
        return;
    }
    println!("cargo:warning=installing the {WASM_TARGET} target with rustup (the default plugins are built for it)");
    let added = Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .status();
    match added {
        Ok(status) if status.success() => {}
        _ => panic!(
            "the {WASM_TARGET} target is missing and `rustup target add {WASM_TARGET}` failed; \
             install it by hand (the default plugins are WebAssembly components built for it)"
        ),
    }
}

fn rerun_if_changed(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}
