"""Example authorizer (Python, componentize-py): per-user namespaces.

This module is the component: componentize-py finds the class named after the exported
interface (``Authorizer``, for ``authorizer``) and wires its methods to the world's exports.
The rules live in ``policy.py``. Configuration: ``{"root": "users"}`` (optional; the default
is ``users``).

Contract reminders (wit/plugin.wit, wit/README.md):
- ``configure`` runs once per instance before any other call; raising ``Err(reason)`` refuses
  the plugin (the registry does not start, or a hot reload keeps the running set).
- The host reuses an instance for many requests of many users: keep no per-request state.
- An exception escaping any other method traps the instance, and the request is denied.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log
from wit_world.imports.types import (
    AccessRequest,
    AnonymousGrants,
    Decision,
    Decision_Allow,
    Decision_Deny,
    Identity,
    Level,
    Resource_Repository,
)

from policy import Policy

# Set by configure. A module global is fine: an instance is single-threaded.
_policy = None


class Authorizer(exports.Authorizer):
    def configure(self, config: str) -> None:
        global _policy
        try:
            settings = json.loads(config)
            unknown = set(settings) - {"root"}
            if unknown:
                raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
            _policy = Policy(settings.get("root", "users"))
        except (ValueError, TypeError, AttributeError) as e:
            raise Err(f"user-namespaces: invalid configuration: {e}")
        log.log(Level.INFO, f"namespaces under {_policy.prefix}<user>/ belong to their user")

    def authorize(self, request: AccessRequest) -> Decision:
        if _policy is None:
            return Decision_Deny("user-namespaces: not configured")
        username = request.identity.username if request.identity else None
        resource = request.resource
        repository = resource.value if isinstance(resource, Resource_Repository) else None
        # Action.DETECT_MANIFEST_COLLISION -> "detect-manifest-collision", as in the WIT file.
        action = request.action.name.lower().replace("_", "-")
        reason = _policy.decide(username, repository, action)
        return Decision_Allow() if reason is None else Decision_Deny(reason)

    def filter_catalog(self, identity, repositories):
        # Consistent with authorize: exactly the repositories the caller may read.
        if _policy is None:
            return []
        return _policy.visible(identity.username if identity else None, repositories)

    def anonymous_access(self) -> AnonymousGrants:
        # Nothing is granted anonymously (so anonymous requests are challenged at once).
        return AnonymousGrants(repositories=False, metrics=False, authenticated_only=True)

    def effective_groups(self, identity: Identity):
        # This policy adds no groups of its own.
        return identity.groups
