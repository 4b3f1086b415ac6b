//! The plugin slots the host fills: authenticators and the authorizer.

use super::bindings::authenticator::{AuthenticatorPlugin, AuthenticatorPluginPre};
use super::bindings::authorizer::{AuthorizerPlugin, AuthorizerPluginPre};
use super::bindings::types::{AccessRequest, AuthnResult, BasicCredentials, Decision, Identity};
use super::plugin::{Plugin, PluginFailure, Role};
use super::state::PluginState;
use wasmtime::component::InstancePre;
use wasmtime::Store;

/// A [`Role`] for a world of the contract: its bindings, names and `configure` export.
macro_rules! role {
    ($(#[$doc:meta])* $role:ident, $pre:ident, $instance:ident, $world:literal, $interface:literal, $exports:ident) => {
        $(#[$doc])*
        pub struct $role;

        impl Role for $role {
            type Pre = $pre<PluginState>;
            type Instance = $instance;
            const WORLD: &'static str = $world;
            const INTERFACE: &'static str = $interface;

            fn pre(pre: InstancePre<PluginState>) -> wasmtime::Result<Self::Pre> {
                $pre::new(pre)
            }

            fn instantiate(
                pre: &Self::Pre,
                store: &mut Store<PluginState>,
            ) -> wasmtime::Result<Self::Instance> {
                pre.instantiate(store)
            }

            fn configure(
                instance: &Self::Instance,
                store: &mut Store<PluginState>,
                config: &str,
            ) -> wasmtime::Result<Result<(), String>> {
                instance.$exports().call_configure(store, config)
            }
        }
    };
}

role!(
    /// The `authenticator-plugin` world.
    Authn,
    AuthenticatorPluginPre,
    AuthenticatorPlugin,
    "authenticator-plugin",
    "authenticator",
    portcullis_plugin_authenticator
);

role!(
    /// The `authorizer-plugin` world.
    Authz,
    AuthorizerPluginPre,
    AuthorizerPlugin,
    "authorizer-plugin",
    "authorizer",
    portcullis_plugin_authorizer
);

impl Plugin<Authn> {
    /// Judge Basic credentials.
    pub fn authenticate(
        &self,
        credentials: &BasicCredentials,
    ) -> Result<AuthnResult, PluginFailure> {
        self.call(|i, store| {
            i.portcullis_plugin_authenticator()
                .call_authenticate(store, credentials)
        })
    }
}

impl Plugin<Authz> {
    /// Decide one access.
    pub fn authorize(&self, request: &AccessRequest) -> Result<Decision, PluginFailure> {
        self.call(|i, store| {
            i.portcullis_plugin_authorizer()
                .call_authorize(store, request)
        })
    }

    /// Filter a catalog page. A result naming repositories that were not offered is malformed.
    pub fn filter_catalog(
        &self,
        identity: Option<&Identity>,
        repositories: &[String],
    ) -> Result<Vec<String>, PluginFailure> {
        let kept = self.call(|i, store| {
            i.portcullis_plugin_authorizer()
                .call_filter_catalog(store, identity, repositories)
        })?;
        if kept.iter().all(|k| repositories.contains(k)) {
            Ok(kept)
        } else {
            Err(PluginFailure {
                plugin: self.name().into(),
                reason: "filter-catalog returned repositories it was not given".into(),
            })
        }
    }
}
