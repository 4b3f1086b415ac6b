//! Host bindings generated from `wit/plugin.wit`. The host-api interfaces are generated once
//! (with the authenticator world) and shared by the other worlds.

/// The `authenticator-plugin` world (and the shared host-api interfaces).
pub mod authenticator {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "authenticator-plugin",
    });
}

/// The `authorizer-plugin` world.
pub mod authorizer {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "authorizer-plugin",
        with: {
            "portcullis:plugin/types": super::authenticator::portcullis::plugin::types,
            "portcullis:plugin/log": super::authenticator::portcullis::plugin::log,
            "portcullis:plugin/clock": super::authenticator::portcullis::plugin::clock,
            "portcullis:plugin/kv": super::authenticator::portcullis::plugin::kv,
        },
    });
}

pub use authenticator::portcullis::plugin::types;

/// The contract this host implements.
pub const CONTRACT_PACKAGE: &str = "portcullis:plugin";
/// Its version.
pub const CONTRACT_VERSION: &str = "0.1.0";
