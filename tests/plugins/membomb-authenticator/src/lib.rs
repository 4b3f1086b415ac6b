//! Test fixture: an authenticator that allocates and touches memory without bound for the user
//! `bomb`.
//!
//! The host's memory limit must stop it (a failed `memory.grow` makes the allocator abort, which
//! traps), discard the instance and deny the request. Every other user is `not-mine`.

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

/// How much each step allocates: 1 MiB.
const CHUNK: usize = 1 << 20;

impl Guest for Component {
    fn configure(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn authenticate(credentials: BasicCredentials) -> AuthnResult {
        if credentials.username == "bomb" {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                // Non-zero fill so every page is written, not just reserved.
                let chunk = vec![0xA5u8; CHUNK];
                hoard.push(core::hint::black_box(chunk));
                core::hint::black_box(&hoard);
            }
        }
        AuthnResult::NotMine
    }
}

bindings::export!(Component with_types_in bindings);
