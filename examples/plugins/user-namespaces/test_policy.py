"""Unit tests of policy.py: ``python3 -m unittest`` in this directory (no bindings needed)."""

import unittest

from policy import Policy


class PolicyTest(unittest.TestCase):
    def setUp(self):
        self.p = Policy()

    def test_own_namespace_is_fully_owned(self):
        for action in ["read", "create", "update", "delete", "detect-manifest-collision"]:
            self.assertIsNone(self.p.decide("alice", "users/alice/app", action))
            self.assertIsNone(self.p.decide("alice", "users/alice", action))

    def test_other_namespaces_are_private(self):
        self.assertEqual(self.p.decide("bob", "users/alice/app", "read"), "users/alice/app belongs to alice")
        self.assertEqual(self.p.decide("bob", "users/alice/app", "create"), "users/alice/app belongs to alice")
        # A user whose name is a prefix of another's owns nothing of theirs.
        self.assertIsNotNone(self.p.decide("al", "users/alice/app", "read"))

    def test_shared_repositories_are_read_only(self):
        self.assertIsNone(self.p.decide("bob", "library/alpine", "read"))
        self.assertIsNone(self.p.decide("bob", "users", "read"))
        self.assertEqual(
            self.p.decide("bob", "library/alpine", "create"),
            "library/alpine is read-only: push to users/bob/ instead",
        )

    def test_anonymous_gets_nothing(self):
        for repository in ["library/alpine", "users/alice/app", None]:
            self.assertIsNotNone(self.p.decide(None, repository, "read"))

    def test_metrics(self):
        self.assertIsNone(self.p.decide("bob", None, "read"))

    def test_catalog_matches_reads(self):
        repos = ["library/alpine", "users/alice/app", "users/bob/app"]
        self.assertEqual(self.p.visible("bob", repos), ["library/alpine", "users/bob/app"])
        self.assertEqual(self.p.visible(None, repos), [])

    def test_custom_root(self):
        p = Policy("home")
        self.assertIsNone(p.decide("alice", "home/alice/x", "delete"))
        with self.assertRaises(ValueError):
            Policy("home/")


if __name__ == "__main__":
    unittest.main()
