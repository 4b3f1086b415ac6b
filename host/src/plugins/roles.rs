//! The plugin slots the host fills — authenticators, the key manager, claim mappers and the
//! authorizer — each for every contract version it accepts, and the calls the gate makes,
//! adapted from the host's types to the component's version.

use super::bindings::v0_2::reusable_authorizer::ReusableAuthorizerPluginPre;
use super::bindings::{v0_1, v0_2, ContractVersion, CONTRACT_PACKAGE};
use super::model::{
    AccessRequest, AnonymousAccess, AuthnResult, BasicCredentials, CreatedKey, Decision, Identity,
    KeyError, KeyInfo, KeyRequest,
};
use super::plugin::{CallError, Plugin, Role};
use super::state::PluginState;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::InstancePre;
use wasmtime::Store;

/// The longest a decision is reused, whatever an authorizer allows.
pub const MAX_DECISION_REUSE: Duration = Duration::from_secs(60);

/// A [`Role`] whose pre-instantiated component and instance are one variant per contract
/// version; `$exports` names the getter of the world's export in the generated bindings.
macro_rules! role {
    ($(#[$doc:meta])* $role:ident, $pre:ident, $instance:ident, $world:literal, $interface:literal,
     $exports:ident, [$($version:ident => $pre_ty:ty, $instance_ty:ty);+ $(;)?]) => {
        $(#[$doc])*
        pub struct $role;

        /// The pre-instantiated component, by contract version.
        pub enum $pre {
            $(
                #[allow(missing_docs)]
                $version(Box<$pre_ty>),
            )+
        }

        /// A live instance, by contract version.
        pub enum $instance {
            $(
                #[allow(missing_docs)]
                $version($instance_ty),
            )+
        }

        impl Role for $role {
            type Pre = $pre;
            type Instance = $instance;
            const WORLD: &'static str = $world;
            const INTERFACE: &'static str = $interface;
            const VERSIONS: &'static [ContractVersion] = &[$(ContractVersion::$version),+];

            fn pre(
                version: ContractVersion,
                pre: InstancePre<PluginState>,
            ) -> wasmtime::Result<Self::Pre> {
                match version {
                    $(ContractVersion::$version => {
                        Ok($pre::$version(Box::new(<$pre_ty>::new(pre)?)))
                    })+
                    #[allow(unreachable_patterns)]
                    other => wasmtime::bail!("contract {} is not loadable in this slot", other.as_str()),
                }
            }

            fn instantiate(
                pre: &Self::Pre,
                store: &mut Store<PluginState>,
            ) -> wasmtime::Result<Self::Instance> {
                match pre {
                    $($pre::$version(p) => Ok($instance::$version(p.instantiate(store)?)),)+
                }
            }

            fn configure(
                instance: &Self::Instance,
                store: &mut Store<PluginState>,
                config: &str,
            ) -> wasmtime::Result<Result<(), String>> {
                match instance {
                    $($instance::$version(i) => i.$exports().call_configure(store, config),)+
                }
            }
        }
    };
}

role!(
    /// The `authenticator-plugin` world (and the authenticator of `api-keys-plugin`).
    Authn, AuthnPre, AuthnInstance, "authenticator-plugin", "authenticator",
    portcullis_plugin_authenticator,
    [V0_1 => v0_1::authenticator::AuthenticatorPluginPre<PluginState>,
              v0_1::authenticator::AuthenticatorPlugin;
     V0_2 => v0_2::authenticator::AuthenticatorPluginPre<PluginState>,
              v0_2::authenticator::AuthenticatorPlugin]
);

role!(
    /// The `authorizer-plugin` world.
    Authz, AuthzPre, AuthzInstance, "authorizer-plugin", "authorizer",
    portcullis_plugin_authorizer,
    [V0_1 => v0_1::authorizer::AuthorizerPluginPre<PluginState>,
              v0_1::authorizer::AuthorizerPlugin;
     V0_2 => v0_2::authorizer::AuthorizerPluginPre<PluginState>,
              v0_2::authorizer::AuthorizerPlugin]
);

role!(
    /// The key manager of the `api-keys-plugin` world.
    Keys, KeysPre, KeysInstance, "api-keys-plugin", "key-manager",
    portcullis_plugin_key_manager,
    [V0_2 => v0_2::api_keys::ApiKeysPluginPre<PluginState>, v0_2::api_keys::ApiKeysPlugin]
);

role!(
    /// The `claim-mapper-plugin` world.
    Claims, ClaimsPre, ClaimsInstance, "claim-mapper-plugin", "claim-mapper",
    portcullis_plugin_claim_mapper,
    [V0_2 => v0_2::claim_mapper::ClaimMapperPluginPre<PluginState>,
              v0_2::claim_mapper::ClaimMapperPlugin]
);

impl Plugin<Authn> {
    /// Judge Basic credentials.
    pub async fn authenticate(
        self: &Arc<Self>,
        credentials: &BasicCredentials,
    ) -> Result<AuthnResult, CallError> {
        let credentials = credentials.clone();
        self.call("authenticate", move |i, store| match i {
            AuthnInstance::V0_1(p) => p
                .portcullis_plugin_authenticator()
                .call_authenticate(store, &(&credentials).into())
                .map(Into::into),
            AuthnInstance::V0_2(p) => p
                .portcullis_plugin_authenticator()
                .call_authenticate(store, &(&credentials).into())
                .map(Into::into),
        })
        .await
    }
}

impl Plugin<Authz> {
    /// Decide one access.
    pub async fn authorize(
        self: &Arc<Self>,
        request: &AccessRequest,
    ) -> Result<Decision, CallError> {
        let request = request.clone();
        self.call("authorize", move |i, store| match i {
            AuthzInstance::V0_1(p) => p
                .portcullis_plugin_authorizer()
                .call_authorize(store, &(&request).into())
                .map(Into::into),
            AuthzInstance::V0_2(p) => p
                .portcullis_plugin_authorizer()
                .call_authorize(store, &(&request).into())
                .map(Into::into),
        })
        .await
    }

    /// Filter a catalog page. A result naming repositories that were not offered is a
    /// contract violation.
    pub async fn filter_catalog(
        self: &Arc<Self>,
        identity: Option<&Identity>,
        repositories: Vec<String>,
    ) -> Result<Vec<String>, CallError> {
        let identity = identity.cloned();
        let offered = repositories.clone();
        let kept = self
            .call("filter-catalog", move |i, store| match i {
                AuthzInstance::V0_1(p) => p.portcullis_plugin_authorizer().call_filter_catalog(
                    store,
                    identity.as_ref().map(Into::into).as_ref(),
                    &repositories,
                ),
                AuthzInstance::V0_2(p) => p.portcullis_plugin_authorizer().call_filter_catalog(
                    store,
                    identity.as_ref().map(Into::into).as_ref(),
                    &repositories,
                ),
            })
            .await?;
        let offered: std::collections::HashSet<&String> = offered.iter().collect();
        if kept.iter().all(|k| offered.contains(k)) {
            Ok(kept)
        } else {
            Err(CallError::Failed(self.contract_failure(
                "filter-catalog returned repositories it was not given",
            )))
        }
    }

    /// The groups the policy counts `identity` in (contract 0.1 cannot say: the identity's
    /// own groups).
    pub async fn effective_groups(
        self: &Arc<Self>,
        identity: &Identity,
    ) -> Result<Vec<String>, CallError> {
        let identity = identity.clone();
        self.call("effective-groups", move |i, store| match i {
            AuthzInstance::V0_1(_) => Ok(identity.groups.clone()),
            AuthzInstance::V0_2(p) => p
                .portcullis_plugin_authorizer()
                .call_effective_groups(store, &(&identity).into()),
        })
        .await
    }

    /// What the policy may grant anonymously (contract 0.1 cannot say: [`AnonymousAccess::UNKNOWN`]).
    /// Called while loading, on the loading thread.
    pub fn anonymous_access(&self) -> anyhow::Result<AnonymousAccess> {
        Ok(self.call_here(|i, store| match i {
            AuthzInstance::V0_1(_) => Ok(AnonymousAccess::UNKNOWN),
            AuthzInstance::V0_2(p) => p
                .portcullis_plugin_authorizer()
                .call_anonymous_access(store)
                .map(Into::into),
        })?)
    }

    /// For how long the policy's decisions may be reused, capped at [`MAX_DECISION_REUSE`]
    /// (zero: never — also for contract 0.1 and for authorizers without `decision-reuse`).
    /// Called while loading, on the loading thread.
    pub fn decision_reuse(&self) -> anyhow::Result<Duration> {
        let AuthzPre::V0_2(pre) = self.pre() else {
            return Ok(Duration::ZERO);
        };
        let export = format!(
            "{CONTRACT_PACKAGE}/decision-reuse@{}",
            ContractVersion::V0_2.as_str()
        );
        let instance_pre = pre.instance_pre();
        if instance_pre
            .component()
            .get_export_index(None, &export)
            .is_none()
        {
            return Ok(Duration::ZERO);
        }
        let reusable = ReusableAuthorizerPluginPre::new(instance_pre.clone()).map_err(|e| {
            anyhow::anyhow!(
                "plugin {}: exports {export} of the wrong shape: {e:#}",
                self.name()
            )
        })?;
        let ms = self.call_once(|store| {
            let instance = reusable.instantiate(&mut *store)?;
            instance
                .portcullis_plugin_authorizer()
                .call_configure(&mut *store, self.config())?
                .map_err(wasmtime::Error::msg)?;
            instance
                .portcullis_plugin_decision_reuse()
                .call_reuse_ms(store)
        })?;
        Ok(Duration::from_millis(ms.into()).min(MAX_DECISION_REUSE))
    }
}

impl Plugin<Keys> {
    /// Issue a key to `owner`.
    pub async fn create_key(
        self: &Arc<Self>,
        owner: &Identity,
        request: &KeyRequest,
    ) -> Result<Result<CreatedKey, KeyError>, CallError> {
        let (owner, request) = (owner.clone(), request.clone());
        self.call("create", move |i, store| match i {
            KeysInstance::V0_2(p) => p
                .portcullis_plugin_key_manager()
                .call_create(store, &(&owner).into(), &(&request).into())
                .map(|r| r.map(Into::into).map_err(Into::into)),
        })
        .await
    }

    /// The keys of `owner`.
    pub async fn list_keys(self: &Arc<Self>, owner: &str) -> Result<Vec<KeyInfo>, CallError> {
        let owner = owner.to_owned();
        self.call("list", move |i, store| match i {
            KeysInstance::V0_2(p) => p
                .portcullis_plugin_key_manager()
                .call_list(store, &owner)
                .map(|keys| keys.into_iter().map(Into::into).collect()),
        })
        .await
    }

    /// Revoke one of `owner`'s keys; false when there is no such key.
    pub async fn revoke_key(self: &Arc<Self>, owner: &str, id: &str) -> Result<bool, CallError> {
        let (owner, id) = (owner.to_owned(), id.to_owned());
        self.call("revoke", move |i, store| match i {
            KeysInstance::V0_2(p) => p
                .portcullis_plugin_key_manager()
                .call_revoke(store, &owner, &id),
        })
        .await
    }

    /// Tell the plugin what a sign-in asserted about its owner.
    pub async fn record_sign_in(self: &Arc<Self>, owner: &Identity) -> Result<(), CallError> {
        let owner = owner.clone();
        self.call("record-sign-in", move |i, store| match i {
            KeysInstance::V0_2(p) => p
                .portcullis_plugin_key_manager()
                .call_record_sign_in(store, &(&owner).into()),
        })
        .await
    }
}

impl Plugin<Claims> {
    /// Map verified claims of a token from `issuer` to an identity, or refuse with a reason.
    pub async fn map_claims(
        self: &Arc<Self>,
        issuer: &str,
        claims: &str,
    ) -> Result<Result<Identity, String>, CallError> {
        let (issuer, claims) = (issuer.to_owned(), claims.to_owned());
        self.call("map-claims", move |i, store| match i {
            ClaimsInstance::V0_2(p) => p
                .portcullis_plugin_claim_mapper()
                .call_map_claims(store, &issuer, &claims)
                .map(|r| r.map(Into::into)),
        })
        .await
    }
}
