//! Builds the default plugins (`../plugins`, a workspace of its own) for wasm32-wasip2 and
//! exposes each component's path to the host as `PORTCULLIS_PLUGIN_<NAME>`, so the normal
//! `cargo build` embeds them with no manual step.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The default plugins: crate name and the file cargo produces.
const PLUGINS: [(&str, &str); 2] = [
    ("htpasswd", "htpasswd.wasm"),
    ("access-control", "access_control.wasm"),
];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let workspace = manifest.parent().unwrap();
    let plugins = workspace.join("plugins");
    rerun_if_changed(&workspace.join("wit"));
    rerun_if_changed(&plugins.join("Cargo.toml"));
    rerun_if_changed(&plugins.join("Cargo.lock"));
    for (name, _) in PLUGINS {
        rerun_if_changed(&plugins.join(name).join("Cargo.toml"));
        rerun_if_changed(&plugins.join(name).join("src"));
    }
    // target/<profile>/build/<pkg>/out → target/wasm-plugins, shared by every profile.
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let target_dir = out.ancestors().nth(4).unwrap().join("wasm-plugins");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
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
    assert!(
        status.success(),
        "building the default plugins failed (is the wasm32-wasip2 target installed? \
         `rustup target add wasm32-wasip2`)"
    );
    for (name, file) in PLUGINS {
        let path = target_dir.join("wasm32-wasip2/release").join(file);
        assert!(path.exists(), "{} was not built", path.display());
        let var = name.to_uppercase().replace('-', "_");
        println!("cargo:rustc-env=PORTCULLIS_PLUGIN_{var}={}", path.display());
    }
}

fn rerun_if_changed(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}
