//! The plugin slots the host fills: authenticators and the authorizer.

use super::bindings::authenticator::{AuthenticatorPlugin, AuthenticatorPluginPre};
use super::bindings::authorizer::{AuthorizerPlugin, AuthorizerPluginPre};
use super::bindings::types::{AccessRequest, AuthnResult, BasicCredentials, Decision, Identity};
use super::plugin::{Plugin, PluginFailure, Role};
use super::state::PluginState;
use wasmtime::component::InstancePre;
use wasmtime::Store;

/// The `authenticator-plugin` world.
pub struct Authn;

impl Role for Authn {
    type Pre = AuthenticatorPluginPre<PluginState>;
    type Instance = AuthenticatorPlugin;
    const WORLD: &'static str = "authenticator-plugin";
    const INTERFACE: &'static str = "authenticator";

    fn pre(pre: InstancePre<PluginState>) -> wasmtime::Result<Self::Pre> {
        AuthenticatorPluginPre::new(pre)
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
        instance
            .portcullis_plugin_authenticator()
            .call_configure(store, config)
    }
}

/// The `authorizer-plugin` world.
pub struct Authz;

impl Role for Authz {
    type Pre = AuthorizerPluginPre<PluginState>;
    type Instance = AuthorizerPlugin;
    const WORLD: &'static str = "authorizer-plugin";
    const INTERFACE: &'static str = "authorizer";

    fn pre(pre: InstancePre<PluginState>) -> wasmtime::Result<Self::Pre> {
        AuthorizerPluginPre::new(pre)
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
        instance
            .portcullis_plugin_authorizer()
            .call_configure(store, config)
    }
}

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
