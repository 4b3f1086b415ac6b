//! Test fixture: an authenticator that panics for the user `panic`.
//!
//! On wasm32-wasip2 a panic prints its message to stderr and aborts, which is a wasm trap
//! (`unreachable`): the host must discard the instance and deny the request. Every other user
//! is `not-mine`.

/// Bindings generated from the WIT contract (`wit/plugin.wit`).
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "authenticator-plugin",
    });
}

use bindings::exports::portcullis::plugin::authenticator::Guest;
use bindings::portcullis::plugin::types::{AuthnResult, BasicCredentials};

/// The component: exports the `authenticator` interface.
pub struct Component;

impl Guest for Component {
    fn configure(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn authenticate(credentials: BasicCredentials) -> AuthnResult {
        if core::hint::black_box(credentials.username.as_str()) == "panic" {
            panic!("panic-authenticator: panicking on purpose for user \"panic\"");
        }
        AuthnResult::NotMine
    }
}

bindings::export!(Component with_types_in bindings);
