//! Test fixture: an authenticator built against `portcullis:plugin@9.0.0` (see `wit/` beside
//! this crate, a copy of the contract with only the version changed).
//!
//! The host must refuse to load it, naming the version it expected and the one it found. Were
//! it loaded, it would authenticate everyone as `old-contract`, so a test can tell.
//!
//! It imports `portcullis:plugin/types@9.0.0` and `portcullis:plugin/log@9.0.0` (it logs from
//! `configure`) and exports `portcullis:plugin/authenticator@9.0.0`, like a real plugin built
//! against another major version would.

/// Bindings generated from the 9.0.0 copy of the contract.
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "authenticator-plugin",
    });
}

use bindings::exports::portcullis::plugin::authenticator::Guest;
use bindings::portcullis::plugin::log::log;
use bindings::portcullis::plugin::types::{AuthnResult, BasicCredentials, Identity, Level};

/// The component: exports the 9.0.0 `authenticator` interface.
pub struct Component;

impl Guest for Component {
    fn configure(_config: String) -> Result<(), String> {
        log(
            Level::Info,
            "old-contract-authenticator configured (contract 9.0.0)",
        );
        Ok(())
    }

    fn authenticate(_credentials: BasicCredentials) -> AuthnResult {
        AuthnResult::Authenticated(Identity {
            username: "old-contract".to_owned(),
            groups: Vec::new(),
            source: "old-contract".to_owned(),
        })
    }
}

bindings::export!(Component with_types_in bindings);
