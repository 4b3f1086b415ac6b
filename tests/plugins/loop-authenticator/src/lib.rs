//! Test fixture: an authenticator that never returns for the user `loop`.
//!
//! The host must interrupt it (epoch deadline), discard the instance and deny the request.
//! Every other user is `not-mine`.

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
        if credentials.username == "loop" {
            let mut n: u64 = 0;
            // `black_box` keeps the optimizer from proving the loop has no effect.
            loop {
                n = core::hint::black_box(n.wrapping_add(1));
            }
        }
        AuthnResult::NotMine
    }
}

bindings::export!(Component with_types_in bindings);
