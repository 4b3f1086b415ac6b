//! Checking that a component implements the world a plugin slot needs, at a version of the
//! contract this host supports, before anything is instantiated.

use super::bindings::{ContractVersion, CONTRACT_PACKAGE};
use wasmtime::component::Component;
use wasmtime::Engine;

/// The supported version of the contract the component exports `interface` (e.g.
/// `authenticator`) at; refused, with a message naming the plugin, what was found and what is
/// supported, when there is none.
pub fn check(
    engine: &Engine,
    plugin: &str,
    component: &Component,
    world: &str,
    interface: &str,
    supported: &[ContractVersion],
) -> anyhow::Result<ContractVersion> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let wanted_prefix = format!("{CONTRACT_PACKAGE}/{interface}@");
    let versions = supported
        .iter()
        .map(|v| format!("{wanted_prefix}{}", v.as_str()))
        .collect::<Vec<_>>()
        .join(" or ");
    let Some(found) = exports.iter().find(|e| e.starts_with(&wanted_prefix)) else {
        anyhow::bail!(
            "plugin {plugin}: expected a component exporting {versions} (world {world}), found \
             exports [{}]",
            exports.join(", ")
        );
    };
    match ContractVersion::compatible_with(&found[wanted_prefix.len()..]) {
        Some(version) if supported.contains(&version) => Ok(version),
        _ => anyhow::bail!(
            "plugin {plugin}: built for {found}, but this registry implements {versions} (world \
             {world}); rebuild the plugin against wit/ of this release"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::ContractVersion as V;

    #[test]
    fn semver() {
        assert_eq!(V::compatible_with("0.1.0"), Some(V::V0_1));
        assert_eq!(V::compatible_with("0.1.7"), Some(V::V0_1));
        assert_eq!(V::compatible_with("0.2.0"), Some(V::V0_2));
        assert_eq!(V::compatible_with("0.3.0"), None);
        assert_eq!(V::compatible_with("9.0.0"), None);
        assert_eq!(V::compatible_with("x"), None);
    }
}
