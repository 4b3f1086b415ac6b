//! Portcullis authenticator plugin checking HTTP Basic credentials against an htpasswd file.
//!
//! Configuration (JSON, passed by the host, which reads the file: plugins have no filesystem):
//!
//! ```json
//! {"htpasswd": "alice:$2y$10$...\nbob:$6$...\n"}
//! ```
//!
//! Unknown keys are refused. See [`htfile`] for the file format and the verdicts.

#![deny(missing_docs)]

pub mod htfile;

/// Bindings generated from the WIT contract (`wit/plugin.wit`).
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "authenticator-plugin",
    });
}

use std::cell::RefCell;

use htfile::{Htpasswd, Verdict};

use bindings::exports::portcullis::plugin::authenticator::Guest;
use bindings::portcullis::plugin::log::log;
use bindings::portcullis::plugin::types::{AuthnResult, BasicCredentials, Identity, Level};

/// The `source` of identities this plugin vouches for.
pub const SOURCE: &str = "htpasswd";

/// The plugin's configuration.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The whole content of the htpasswd file.
    htpasswd: String,
}

thread_local! {
    /// The parsed file, set by `configure` (a component instance is single-threaded).
    static USERS: RefCell<Option<Htpasswd>> = const { RefCell::new(None) };
}

/// The component: exports the `authenticator` interface.
pub struct Component;

impl Guest for Component {
    fn configure(config: String) -> Result<(), String> {
        let config: Config = serde_json::from_str(&config)
            .map_err(|e| format!("htpasswd plugin: invalid configuration: {e}"))?;
        let (users, warnings) = Htpasswd::parse(&config.htpasswd);
        for warning in &warnings {
            log(Level::Warn, &warning.0);
        }
        log(
            Level::Debug,
            &format!("htpasswd: loaded {} user(s)", users.len()),
        );
        USERS.with(|u| *u.borrow_mut() = Some(users));
        Ok(())
    }

    fn authenticate(credentials: BasicCredentials) -> AuthnResult {
        USERS.with(|u| match u.borrow().as_ref() {
            // Fail closed: the host always configures first, so this is a host bug.
            None => AuthnResult::Rejected("htpasswd plugin is not configured".to_owned()),
            Some(users) => match users.check(&credentials.username, &credentials.password) {
                Verdict::Authenticated => AuthnResult::Authenticated(Identity {
                    username: credentials.username,
                    groups: Vec::new(),
                    source: SOURCE.to_owned(),
                    scopes: None,
                    expires_at_ms: None,
                }),
                Verdict::NotMine => AuthnResult::NotMine,
                Verdict::Rejected(reason) => AuthnResult::Rejected(reason),
            },
        })
    }
}

bindings::export!(Component with_types_in bindings);
