//! Test fixture: an authenticator that misbehaves on purpose, chosen by the user name:
//!
//! - `loop` spins forever: the host must interrupt it (epoch deadline);
//! - `bomb` allocates and touches memory without bound: the host's memory cap must stop it (a
//!   failed `memory.grow` makes the allocator abort, which traps);
//! - `panic` panics: on wasm32-wasip2 a panic prints to stderr and traps.
//!
//! In each case the host must discard the instance and deny the request. Every other user is
//! `not-mine`, so well-behaved requests pass on to the next authenticator.

/// Bindings generated from the WIT contract (`wit/plugin.wit`).
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/versions/0.1.0",
        world: "authenticator-plugin",
    });
}

use bindings::exports::portcullis::plugin::authenticator::Guest;
use bindings::portcullis::plugin::types::{AuthnResult, BasicCredentials};

/// The component: exports the `authenticator` interface.
pub struct Component;

/// How much each step of the memory bomb allocates: 1 MiB.
const CHUNK: usize = 1 << 20;

impl Guest for Component {
    fn configure(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn authenticate(credentials: BasicCredentials) -> AuthnResult {
        match credentials.username.as_str() {
            "loop" => {
                let mut n: u64 = 0;
                // `black_box` keeps the optimizer from proving the loop has no effect.
                loop {
                    n = core::hint::black_box(n.wrapping_add(1));
                }
            }
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    // Non-zero fill so every page is written, not just reserved.
                    hoard.push(core::hint::black_box(vec![0xA5u8; CHUNK]));
                    core::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("the panic fixture panicked, as asked"),
            _ => AuthnResult::NotMine,
        }
    }
}

bindings::export!(Component with_types_in bindings);
