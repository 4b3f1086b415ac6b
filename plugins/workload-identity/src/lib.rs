//! Portcullis' default claim mapper: zot's CEL claim mapping of workload identity tokens, as a
//! WebAssembly component of the `claim-mapper-plugin` world. The host verifies each token
//! (signature, issuer, audience, expiry) before its claims reach this plugin.
//!
//! This file is glue between the WIT bindings and [`mapping`], where the rules live.

pub mod mapping;

/// Bindings generated from the WIT contract (`wit/plugin.wit`).
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "claim-mapper-plugin" });
}

use bindings::exports::portcullis::plugin::claim_mapper::Guest;
use bindings::portcullis::plugin::types::Identity;
use std::cell::RefCell;

/// The `source` of identities this plugin maps.
pub const SOURCE: &str = "oidc-token";

thread_local! {
    /// The mappings `configure` compiled (an instance is single-threaded).
    static MAPPINGS: RefCell<Option<mapping::Mappings>> = const { RefCell::new(None) };
}

/// The component.
struct Component;

impl Guest for Component {
    fn configure(config: String) -> Result<(), String> {
        let compiled = mapping::Mappings::compile(&config)?;
        MAPPINGS.with(|m| *m.borrow_mut() = Some(compiled));
        Ok(())
    }

    fn map_claims(issuer: String, claims: String) -> Result<Identity, String> {
        MAPPINGS.with(|m| match &*m.borrow() {
            None => Err("the claim mapper is not configured".to_owned()),
            Some(mappings) => mappings.map(&issuer, &claims).map(|mapped| Identity {
                username: mapped.username,
                groups: mapped.groups,
                source: SOURCE.to_owned(),
                scopes: None,
                expires_at_ms: None,
            }),
        })
    }
}

bindings::export!(Component with_types_in bindings);
