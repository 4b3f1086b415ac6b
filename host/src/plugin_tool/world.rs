//! The worlds of the contract, recognised from a component's exports, and the decision
//! functions the tool can call in each.

use crate::gate::{AUTHENTICATOR_DEADLINE, AUTHORIZER_DEADLINE};
use crate::plugins::{Authn, Authz, Claims, ContractVersion, Keys, Role, CONTRACT_PACKAGE};
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::Engine;

/// A world of `wit/plugin.wit`: the slot a component fills in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    /// `api-keys-plugin`: exports `key-manager` and `authenticator`.
    ApiKeys,
    /// `authenticator-plugin`.
    Authenticator,
    /// `claim-mapper-plugin`.
    ClaimMapper,
    /// `authorizer-plugin`.
    Authorizer,
}

/// A decision function the tool can call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Function {
    /// `authenticator.authenticate`: Basic credentials to an identity.
    Authenticate,
    /// `authorizer.authorize`: one access request to allow or deny.
    Authorize,
    /// `claim-mapper.map-claims`: verified token claims to an identity.
    MapClaims,
    /// `key-manager.create`: issue an API key to an owner.
    CreateKey,
    /// `key-manager.list`: the keys of an owner.
    ListKeys,
    /// `key-manager.revoke`: revoke one of an owner's keys.
    RevokeKey,
}

impl Function {
    /// The WIT name.
    pub fn name(self) -> &'static str {
        match self {
            Function::Authenticate => "authenticate",
            Function::Authorize => "authorize",
            Function::MapClaims => "map-claims",
            Function::CreateKey => "create-key",
            Function::ListKeys => "list-keys",
            Function::RevokeKey => "revoke-key",
        }
    }
}

/// What a component exports and imports, by name.
pub struct Shape {
    /// Exported instance names (e.g. `portcullis:plugin/authorizer@0.2.0`).
    pub exports: Vec<String>,
    /// Imported instance names.
    pub imports: Vec<String>,
}

impl Shape {
    /// The shape of a compiled component.
    pub fn of(engine: &Engine, component: &Component) -> Shape {
        let ty = component.component_type();
        Shape {
            exports: ty.exports(engine).map(|(n, _)| n.to_owned()).collect(),
            imports: ty.imports(engine).map(|(n, _)| n.to_owned()).collect(),
        }
    }

    /// The world the component implements and the contract version of its main export
    /// (e.g. `0.2.0`), whatever the version; none when it exports no plugin interface.
    pub fn world(&self) -> Option<(World, String)> {
        World::ALL.into_iter().find_map(|world| {
            let prefix = format!("{CONTRACT_PACKAGE}/{}@", world.interface());
            self.exports
                .iter()
                .find_map(|e| e.strip_prefix(&prefix))
                .map(|version| (world, version.to_owned()))
        })
    }

    /// The world, or an error listing what the component exports instead.
    pub fn require_world(&self) -> anyhow::Result<(World, String)> {
        self.world().ok_or_else(|| {
            anyhow::anyhow!(
                "not a Portcullis plugin: it exports none of {CONTRACT_PACKAGE}/{{authenticator, \
                 key-manager, claim-mapper, authorizer}}; found exports [{}]",
                self.exports.join(", ")
            )
        })
    }
}

impl World {
    /// Every world, in the order they are recognised (`api-keys-plugin` also exports the
    /// authenticator, so it comes first).
    pub const ALL: [World; 4] = [
        World::ApiKeys,
        World::Authenticator,
        World::ClaimMapper,
        World::Authorizer,
    ];

    /// The WIT name.
    pub fn name(self) -> &'static str {
        match self {
            World::ApiKeys => Keys::WORLD,
            World::Authenticator => Authn::WORLD,
            World::ClaimMapper => Claims::WORLD,
            World::Authorizer => Authz::WORLD,
        }
    }

    /// The exported interface that identifies the world.
    fn interface(self) -> &'static str {
        match self {
            World::ApiKeys => Keys::INTERFACE,
            World::Authenticator => Authn::INTERFACE,
            World::ClaimMapper => Claims::INTERFACE,
            World::Authorizer => Authz::INTERFACE,
        }
    }

    /// The contract versions the registry loads in this world's slot.
    pub fn versions(self) -> &'static [ContractVersion] {
        match self {
            World::ApiKeys => Keys::VERSIONS,
            World::Authenticator => Authn::VERSIONS,
            World::ClaimMapper => Claims::VERSIONS,
            World::Authorizer => Authz::VERSIONS,
        }
    }

    /// The registry's default deadline of a call in this world's slot.
    pub fn default_deadline(self) -> Duration {
        match self {
            World::ApiKeys | World::Authenticator => AUTHENTICATOR_DEADLINE,
            World::ClaimMapper | World::Authorizer => AUTHORIZER_DEADLINE,
        }
    }

    /// The functions of the world the tool can call.
    pub fn functions(self) -> &'static [Function] {
        match self {
            World::ApiKeys => &[
                Function::Authenticate,
                Function::CreateKey,
                Function::ListKeys,
                Function::RevokeKey,
            ],
            World::Authenticator => &[Function::Authenticate],
            World::ClaimMapper => &[Function::MapClaims],
            World::Authorizer => &[Function::Authorize],
        }
    }

    /// The function to call: `wanted` if the world has it, else the world's only function; an
    /// error names the functions the world has.
    pub fn function(self, wanted: Option<Function>) -> anyhow::Result<Function> {
        let names = || {
            self.functions()
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (wanted, self.functions()) {
            (Some(f), fs) if fs.contains(&f) => Ok(f),
            (Some(f), _) => anyhow::bail!(
                "a component of world {} has no function {} (it has: {})",
                self.name(),
                f.name(),
                names()
            ),
            (None, [only]) => Ok(*only),
            (None, _) => anyhow::bail!(
                "world {} has several functions ({}): name one (--function, or a case's `function`)",
                self.name(),
                names()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(exports: &[&str]) -> Shape {
        Shape {
            exports: exports.iter().map(|s| s.to_string()).collect(),
            imports: Vec::new(),
        }
    }

    #[test]
    fn worlds_are_recognised_from_exports() {
        let s = shape(&["portcullis:plugin/authorizer@0.2.0"]);
        assert_eq!(s.world(), Some((World::Authorizer, "0.2.0".into())));
        let s = shape(&[
            "portcullis:plugin/authenticator@0.2.0",
            "portcullis:plugin/key-manager@0.2.0",
        ]);
        assert_eq!(s.world().unwrap().0, World::ApiKeys);
        let s = shape(&["portcullis:plugin/authenticator@9.0.0"]);
        assert_eq!(s.world(), Some((World::Authenticator, "9.0.0".into())));
        let e = shape(&["wasi:cli/run@0.2.0"]).require_world().unwrap_err();
        assert!(e.to_string().contains("wasi:cli/run@0.2.0"), "{e}");
    }

    #[test]
    fn the_function_follows_from_the_world() {
        assert_eq!(
            World::Authorizer.function(None).unwrap(),
            Function::Authorize
        );
        let e = World::Authorizer
            .function(Some(Function::MapClaims))
            .unwrap_err();
        assert!(e.to_string().contains("has no function map-claims"), "{e}");
        let e = World::ApiKeys.function(None).unwrap_err();
        assert!(e.to_string().contains("create-key"), "{e}");
        assert_eq!(
            World::ApiKeys.function(Some(Function::ListKeys)).unwrap(),
            Function::ListKeys
        );
    }
}
