//! Test fixture: an authorizer built against the current contract (0.2) that misbehaves on
//! purpose when the repository is `hostile/<how>`, and allows everything else:
//!
//! - `hostile/print` prints to stdout and stderr (wasmtime-wasi's blocking I/O), then allows;
//! - `hostile/panic` panics (a message on stderr, then a trap);
//! - `hostile/loop` spins forever (the epoch deadline must stop it);
//! - `hostile/bomb` allocates without bound (the memory cap must stop it);
//! - `hostile/sleep` sleeps for a minute in a host call (the call's deadline must cut it);
//! - `hostile/kv-flood` writes 64 KiB values to the key-value store until refused, then allows;
//! - `hostile/log-flood` logs 100,000 lines, then allows.
//!
//! Everything else is allowed, and the catalog is returned unchanged.

/// Bindings generated from the frozen 0.2.0 contract (`wit/versions/0.2.0`): a host of a later
/// 0.2.x loads it unchanged.
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/versions/0.2.0",
        world: "authorizer-plugin",
    });
}

use bindings::exports::portcullis::plugin::authorizer::Guest;
use bindings::portcullis::plugin::types::{
    AccessRequest, AnonymousGrants, Decision, Identity, Level, Resource,
};
use bindings::portcullis::plugin::{kv, log};

/// The component: exports the `authorizer` interface.
pub struct Component;

impl Guest for Component {
    fn configure(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn authorize(request: AccessRequest) -> Decision {
        let Resource::Repository(repository) = &request.resource else {
            return Decision::Allow;
        };
        match repository.strip_prefix("hostile/").unwrap_or("") {
            "print" => {
                for i in 0..1000 {
                    println!("hostile authorizer printing line {i} to stdout");
                    eprintln!("hostile authorizer printing line {i} to stderr");
                }
                Decision::Allow
            }
            "panic" => panic!("the hostile authorizer panicked, as asked"),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = core::hint::black_box(n.wrapping_add(1));
                }
            }
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(core::hint::black_box(vec![0xA5u8; 1 << 20]));
                    core::hint::black_box(&hoard);
                }
            }
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(60));
                Decision::Allow
            }
            "kv-flood" => {
                let value = vec![0x5Au8; 64 << 10];
                for i in 0..10_000u32 {
                    if kv::set(&format!("flood-{i}"), &value).is_err() {
                        break;
                    }
                }
                Decision::Allow
            }
            "log-flood" => {
                for i in 0..100_000u32 {
                    log::log(Level::Info, &format!("hostile authorizer log line {i}"));
                }
                Decision::Allow
            }
            _ => Decision::Allow,
        }
    }

    fn filter_catalog(_identity: Option<Identity>, repositories: Vec<String>) -> Vec<String> {
        repositories
    }

    fn effective_groups(identity: Identity) -> Vec<String> {
        identity.groups
    }

    fn anonymous_access() -> AnonymousGrants {
        AnonymousGrants {
            repositories: true,
            metrics: true,
            authenticated_only: false,
        }
    }
}

bindings::export!(Component with_types_in bindings);
