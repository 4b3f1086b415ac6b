//! Test fixture: a custom authorizer making tags immutable.
//!
//! Configuration: `{"pattern": "v"}`, a non-empty tag prefix. Every access is allowed except
//! `update` and `delete` of a tag (a reference without `:`, so not a digest) starting with the
//! prefix, denied with the reason `tags matching v* are immutable`. `filter-catalog` returns its
//! input unchanged.

/// Bindings generated from the WIT contract (`wit/plugin.wit`).
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/versions/0.1.0",
        world: "authorizer-plugin",
    });
}

use std::cell::RefCell;

use bindings::exports::portcullis::plugin::authorizer::Guest;
use bindings::portcullis::plugin::types::{AccessRequest, Action, Decision, Identity};

/// The plugin's configuration.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Tags starting with this prefix cannot be moved or deleted.
    pattern: String,
}

thread_local! {
    /// The configured prefix (a component instance is single-threaded).
    static PATTERN: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The component: exports the `authorizer` interface.
pub struct Component;

impl Guest for Component {
    fn configure(config: String) -> Result<(), String> {
        let config: Config = serde_json::from_str(&config)
            .map_err(|e| format!("immutable-tags: invalid configuration: {e}"))?;
        if config.pattern.is_empty() {
            return Err("immutable-tags: `pattern` must not be empty".to_owned());
        }
        PATTERN.with(|p| *p.borrow_mut() = Some(config.pattern));
        Ok(())
    }

    fn authorize(request: AccessRequest) -> Decision {
        PATTERN.with(|p| {
            let p = p.borrow();
            let Some(pattern) = p.as_deref() else {
                return Decision::Deny("immutable-tags: not configured".to_owned());
            };
            let mutating = matches!(request.action, Action::Update | Action::Delete);
            let is_protected_tag = request
                .reference
                .as_deref()
                .is_some_and(|r| !r.contains(':') && r.starts_with(pattern));
            if mutating && is_protected_tag {
                Decision::Deny(format!("tags matching {pattern}* are immutable"))
            } else {
                Decision::Allow
            }
        })
    }

    fn filter_catalog(_identity: Option<Identity>, repositories: Vec<String>) -> Vec<String> {
        repositories
    }
}

bindings::export!(Component with_types_in bindings);
