//! Checking that a component implements the world a plugin slot needs, at a compatible
//! version of the contract, before anything is instantiated.

use super::bindings::{CONTRACT_PACKAGE, CONTRACT_VERSION};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Refuse a component that does not export `interface` (e.g. `authenticator`) at a version
/// compatible with this host's contract; the message names the plugin, what was expected and
/// what was found.
pub fn check(
    engine: &Engine,
    plugin: &str,
    component: &Component,
    world: &str,
    interface: &str,
) -> anyhow::Result<()> {
    let expected = format!("{CONTRACT_PACKAGE}/{interface}@{CONTRACT_VERSION}");
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let wanted_prefix = format!("{CONTRACT_PACKAGE}/{interface}@");
    match exports.iter().find(|e| e.starts_with(&wanted_prefix)) {
        Some(found) => {
            let version = &found[wanted_prefix.len()..];
            if compatible(version, CONTRACT_VERSION) {
                Ok(())
            } else {
                anyhow::bail!(
                    "plugin {plugin}: built for {found}, but this registry implements {expected} \
                     (world {world}); rebuild the plugin against wit/ of this release"
                )
            }
        }
        None => anyhow::bail!(
            "plugin {plugin}: expected a component exporting {expected} (world {world}), \
             found exports [{}]",
            exports.join(", ")
        ),
    }
}

/// Semver compatibility: same major, and for 0.x the same minor.
fn compatible(found: &str, ours: &str) -> bool {
    let parts = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parts(found), parts(ours)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn semver() {
        assert!(super::compatible("0.1.0", "0.1.0"));
        assert!(super::compatible("0.1.7", "0.1.0"));
        assert!(!super::compatible("0.2.0", "0.1.0"));
        assert!(!super::compatible("9.0.0", "0.1.0"));
        assert!(super::compatible("1.4.0", "1.0.0"));
        assert!(!super::compatible("x", "0.1.0"));
    }
}
