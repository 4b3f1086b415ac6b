"""The rules of the user-namespaces authorizer, as plain Python (no bindings), so that they can
be unit-tested with any Python: ``python3 -m unittest`` in this directory.

- ``<root>/<name>`` and everything under it (``<root>/<name>/**``) belongs to the user
  ``<name>``: only they may read, push, move tags and delete there.
- Every other repository may be read by any authenticated user, and written by nobody.
- Anonymous requests are denied, whatever they ask.
- The metrics endpoint may be read by any authenticated user.

Actions are the contract's names: "read", "create", "update", "delete",
"detect-manifest-collision".
"""

from typing import List, Optional


class Policy:
    def __init__(self, root: str = "users"):
        if not root or root.startswith("/") or root.endswith("/"):
            raise ValueError("`root` must be a repository path without leading or trailing /")
        self.prefix = root + "/"

    def owner(self, repository: str) -> Optional[str]:
        """The user whose namespace ``repository`` is in, or None for a shared repository."""
        if not repository.startswith(self.prefix):
            return None
        return repository[len(self.prefix):].split("/", 1)[0] or None

    def decide(self, username: Optional[str], repository: Optional[str], action: str) -> Optional[str]:
        """None to allow, or the reason of the denial. ``repository`` is None for /metrics."""
        if username is None:
            return "anonymous access is not allowed: sign in"
        if repository is None:
            return None if action == "read" else "the metrics endpoint is read-only"
        owner = self.owner(repository)
        if owner == username:
            return None
        if owner is not None:
            return f"{repository} belongs to {owner}"
        if action == "read":
            return None
        return f"{repository} is read-only: push to {self.prefix}{username}/ instead"

    def visible(self, username: Optional[str], repositories: List[str]) -> List[str]:
        """The repositories ``username`` may read, in the order given."""
        return [r for r in repositories if self.decide(username, r, "read") is None]
