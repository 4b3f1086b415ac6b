use super::*;
use crate::conditions::RequestView;
use serde_json::json;

use Action::{Create, Delete, DetectManifestCollision as Dmc, Read, Update};

fn policy(access_control: serde_json::Value) -> Policy {
    let config = json!({ "accessControl": access_control }).to_string();
    Policy::from_json(&config).expect("valid config").0
}

fn config_error(access_control: serde_json::Value) -> String {
    let config = json!({ "accessControl": access_control }).to_string();
    Policy::from_json(&config).expect_err("config should be refused")
}

struct Who {
    username: &'static str,
    groups: Vec<String>,
}

fn user(username: &'static str) -> Who {
    Who {
        username,
        groups: Vec::new(),
    }
}

fn member(username: &'static str, groups: &[&str]) -> Who {
    Who {
        username,
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

impl Who {
    fn subject(&self) -> Subject<'_> {
        Subject {
            username: self.username,
            groups: &self.groups,
        }
    }
}

fn can(p: &Policy, who: Option<&Who>, action: Action, repo: &str) -> bool {
    let subject = who.map(Who::subject);
    p.authorize(
        subject.as_ref(),
        Resource::Repository(repo),
        action,
        None,
        &RequestView::default(),
    )
    .is_ok()
}

fn can_metrics(p: &Policy, who: Option<&Who>) -> bool {
    let subject = who.map(Who::subject);
    p.authorize(
        subject.as_ref(),
        Resource::Metrics,
        Read,
        None,
        &RequestView::default(),
    )
    .is_ok()
}

fn catalog(p: &Policy, who: Option<&Who>, repos: &[&str]) -> Vec<String> {
    let subject = who.map(Who::subject);
    p.filter_catalog(
        subject.as_ref(),
        repos.iter().map(|r| r.to_string()).collect(),
    )
}

// ---------------------------------------------------------------- no accessControl

#[test]
fn without_access_control_authenticated_may_do_everything_anonymous_nothing() {
    for config in [
        "{}",
        r#"{"accessControl": null}"#,
        r#"{"accesscontrol": null}"#,
    ] {
        let (p, warnings) = Policy::from_json(config).unwrap();
        assert!(warnings.is_empty());
        let alice = user("alice");
        for action in [Read, Create, Update, Delete] {
            assert!(can(&p, Some(&alice), action, "any/repo"));
            assert!(!can(&p, None, action, "any/repo"));
        }
        assert!(can_metrics(&p, Some(&alice)));
        assert!(!can_metrics(&p, None));
        assert_eq!(catalog(&p, Some(&alice), &["a", "b/c"]), ["a", "b/c"]);
        assert!(catalog(&p, None, &["a", "b/c"]).is_empty());
    }
}

#[test]
fn without_access_control_manifest_collision_detection_is_off() {
    let p = Policy::from_json("{}").unwrap().0;
    assert!(!can(&p, Some(&user("alice")), Dmc, "repo"));
    assert!(!can(&p, None, Dmc, "repo"));
}

#[test]
fn empty_access_control_denies_everything() {
    let p = policy(json!({}));
    for action in [Read, Create, Update, Delete, Dmc] {
        assert!(!can(&p, Some(&user("alice")), action, "repo"));
        assert!(!can(&p, None, action, "repo"));
    }
    assert!(!can_metrics(&p, Some(&user("alice"))));
    assert!(!can_metrics(&p, None));
    assert!(catalog(&p, Some(&user("alice")), &["repo"]).is_empty());
}

// ---------------------------------------------------------------- repository policies

#[test]
fn user_policies_grant_listed_actions_only() {
    let p = policy(json!({"repositories": {"team/**": {"policies": [
        {"users": ["alice"], "actions": ["read", "create"]},
        {"users": ["bob"], "actions": ["read"]},
    ]}}}));
    let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
    assert!(can(&p, Some(&alice), Read, "team/app"));
    assert!(can(&p, Some(&alice), Create, "team/app"));
    assert!(!can(&p, Some(&alice), Update, "team/app"));
    assert!(!can(&p, Some(&alice), Delete, "team/app"));
    assert!(can(&p, Some(&bob), Read, "team/app"));
    assert!(!can(&p, Some(&bob), Create, "team/app"));
    assert!(!can(&p, Some(&carol), Read, "team/app"));
    assert!(
        !can(&p, Some(&alice), Read, "other/app"),
        "no pattern matches"
    );
}

#[test]
fn user_names_are_case_sensitive_and_star_is_not_a_wildcard() {
    let config = json!({"accessControl": {"repositories": {"**": {"policies": [
        {"users": ["*", "Alice"], "actions": ["read"]},
    ]}}}});
    let (p, warnings) = Policy::from_json(&config.to_string()).unwrap();
    assert!(warnings.iter().any(|w| w.contains("not a wildcard")));
    assert!(!can(&p, Some(&user("bob")), Read, "repo"));
    assert!(!can(&p, Some(&user("alice")), Read, "repo"));
    assert!(can(&p, Some(&user("Alice")), Read, "repo"));
    assert!(can(&p, Some(&user("*")), Read, "repo"));
}

#[test]
fn longest_pattern_wins_without_fallback() {
    let p = policy(json!({"repositories": {
        "**": {"defaultPolicy": ["read", "create"]},
        "infra/**": {"policies": [{"users": ["ops"], "actions": ["read", "create", "update"]}]},
        "infra/secret/**": {"policies": [{"users": ["root"], "actions": ["read"]}]},
    }}));
    let (alice, ops, root) = (user("alice"), user("ops"), user("root"));
    // `**` applies elsewhere.
    assert!(can(&p, Some(&alice), Create, "app"));
    assert!(can(&p, Some(&ops), Read, "team/app"));
    // `infra/**` is longer: `**`'s defaultPolicy no longer applies there.
    assert!(!can(&p, Some(&alice), Read, "infra/db"));
    assert!(can(&p, Some(&ops), Update, "infra/db"));
    assert!(can(&p, Some(&ops), Read, "infra"), "a/** matches a");
    // And `infra/secret/**` hides infra/**'s grants to ops.
    assert!(!can(&p, Some(&ops), Read, "infra/secret/key"));
    assert!(can(&p, Some(&root), Read, "infra/secret/key"));
    assert!(!can(&p, Some(&root), Read, "infra/db"));
}

#[test]
fn single_star_patterns_stay_in_one_component() {
    let p = policy(json!({"repositories": {
        "infra/*": {"defaultPolicy": ["read"]},
    }}));
    let alice = user("alice");
    assert!(can(&p, Some(&alice), Read, "infra/x"));
    assert!(!can(&p, Some(&alice), Read, "infra/x/y"));
    assert!(!can(&p, Some(&alice), Read, "infra"));
}

#[test]
fn double_star_patterns_match_the_prefix_and_any_depth() {
    let p = policy(json!({"repositories": {"a/**": {"defaultPolicy": ["read"]}}}));
    let alice = user("alice");
    assert!(can(&p, Some(&alice), Read, "a"));
    assert!(can(&p, Some(&alice), Read, "a/b"));
    assert!(can(&p, Some(&alice), Read, "a/b/c"));
    assert!(!can(&p, Some(&alice), Read, "ab"));
}

#[test]
fn equal_length_ties_go_to_the_lexicographically_smallest_pattern() {
    // Both are 7 bytes and match "team/ab"; "team/?b" < "team/a*" ('?' is 0x3f, 'a' 0x61).
    // Whatever order the configuration lists them in.
    let alice = r#""team/a*": {"policies": [{"users": ["alice"], "actions": ["read"]}]}"#;
    let bob = r#""team/?b": {"policies": [{"users": ["bob"], "actions": ["read"]}]}"#;
    for (first, second) in [(alice, bob), (bob, alice)] {
        let config = format!(r#"{{"accessControl": {{"repositories": {{{first}, {second}}}}}}}"#);
        let p = Policy::from_json(&config).unwrap().0;
        assert!(can(&p, Some(&user("bob")), Read, "team/ab"));
        assert!(!can(&p, Some(&user("alice")), Read, "team/ab"));
        // Where only one matches, it applies.
        assert!(can(&p, Some(&user("alice")), Read, "team/ax"));
        assert!(can(&p, Some(&user("bob")), Read, "team/xb"));
    }
}

#[test]
fn default_policy_is_for_authenticated_identities_only() {
    let p = policy(json!({"repositories": {"**": {"defaultPolicy": ["read"]}}}));
    assert!(can(&p, Some(&user("anyone")), Read, "repo"));
    assert!(!can(&p, None, Read, "repo"));
}

#[test]
fn anonymous_rights_are_not_inherited_by_authenticated_identities() {
    let p = policy(json!({"repositories": {
        "public/**": {"anonymousPolicy": ["read"]},
        "mixed/**": {"anonymousPolicy": ["read"], "policies": [
            {"users": ["alice"], "actions": ["create"]},
        ]},
    }}));
    let alice = user("alice");
    assert!(can(&p, None, Read, "public/app"));
    assert!(!can(&p, Some(&alice), Read, "public/app"));
    assert!(!can(&p, None, Create, "public/app"));
    assert!(can(&p, None, Read, "mixed/app"));
    assert!(can(&p, Some(&alice), Create, "mixed/app"));
    assert!(!can(&p, Some(&alice), Read, "mixed/app"));
}

#[test]
fn empty_user_name_is_anonymous() {
    let p = policy(json!({"repositories": {"**": {
        "anonymousPolicy": ["read"], "defaultPolicy": ["create"],
        "policies": [{"users": [""], "actions": ["delete"]}],
    }}}));
    let nobody = user("");
    assert!(can(&p, Some(&nobody), Read, "repo"));
    assert!(!can(&p, Some(&nobody), Create, "repo"));
    assert!(!can(&p, Some(&nobody), Delete, "repo"));
}

// ---------------------------------------------------------------- groups

#[test]
fn config_groups_apply_to_every_identity_source() {
    let p = policy(json!({
        "groups": {"devs": {"users": ["alice", "bob"]}},
        "repositories": {"team/**": {"policies": [
            {"groups": ["devs"], "actions": ["read", "create"]},
        ]}},
    }));
    // No groups asserted by the source (OIDC, API key, ...): config membership still counts.
    assert!(can(&p, Some(&user("alice")), Create, "team/app"));
    assert!(can(&p, Some(&user("bob")), Read, "team/app"));
    assert!(!can(&p, Some(&user("carol")), Read, "team/app"));
    assert!(!can(&p, Some(&user("alice")), Delete, "team/app"));
}

#[test]
fn config_group_references_are_case_insensitive() {
    // The host lowercases `groups` keys as zot does; the reference in `policies` keeps its
    // case. zot would silently never match; we do.
    let p = policy(json!({
        "groups": {"devteam": {"users": ["alice"]}},
        "repositories": {"**": {"policies": [{"groups": ["DevTeam"], "actions": ["read"]}]}},
        "adminPolicy": {"groups": ["DevTeam"], "actions": ["delete"]},
    }));
    assert!(can(&p, Some(&user("alice")), Read, "repo"));
    assert!(can(&p, Some(&user("alice")), Delete, "repo"));
    // Hand-written camelCase group keys are lowercased too.
    let p = policy(json!({
        "groups": {"DevTeam": {"users": ["alice"]}},
        "repositories": {"**": {"policies": [{"groups": ["devteam"], "actions": ["read"]}]}},
    }));
    assert!(can(&p, Some(&user("alice")), Read, "repo"));
}

#[test]
fn identity_groups_match_exactly() {
    let p = policy(json!({"repositories": {"team/**": {"policies": [
        {"groups": ["org/Team"], "actions": ["read", "update"]},
    ]}}}));
    assert!(can(
        &p,
        Some(&member("alice", &["other", "org/Team"])),
        Update,
        "team/app"
    ));
    assert!(!can(
        &p,
        Some(&member("alice", &["org/team"])),
        Read,
        "team/app"
    ));
    assert!(!can(&p, Some(&member("alice", &[])), Read, "team/app"));
}

#[test]
fn grants_are_a_union_across_policies() {
    let p = policy(json!({
        "groups": {"readers": {"users": ["alice"]}},
        "repositories": {"**": {
            "defaultPolicy": ["read"],
            "policies": [
                {"users": ["alice"], "actions": ["create"]},
                {"groups": ["readers"], "actions": ["update"]},
                {"groups": ["deleters"], "actions": ["delete"]},
            ],
        }},
    }));
    let alice = member("alice", &["deleters"]);
    for action in [Read, Create, Update, Delete] {
        assert!(can(&p, Some(&alice), action, "repo"), "{action:?}");
    }
    assert!(!can(&p, Some(&alice), Dmc, "repo"));
}

// ---------------------------------------------------------------- admins

#[test]
fn admin_policy_applies_to_every_repository() {
    let p = policy(json!({
        "groups": {"admins": {"users": ["carol"]}},
        "repositories": {"team/**": {"policies": [{"users": ["alice"], "actions": ["read"]}]}},
        "adminPolicy": {"users": ["root"], "groups": ["ops", "admins"], "actions": ["read", "delete"]},
    }));
    for admin in [user("root"), member("dave", &["ops"]), user("carol")] {
        for repo in ["team/app", "unmatched/repo", "x"] {
            assert!(can(&p, Some(&admin), Read, repo));
            assert!(can(&p, Some(&admin), Delete, repo));
            assert!(
                !can(&p, Some(&admin), Create, repo),
                "not in adminPolicy.actions"
            );
        }
    }
    assert!(!can(&p, Some(&user("alice")), Delete, "team/app"));
}

#[test]
fn admins_never_get_manifest_collision_detection() {
    let config = json!({"accessControl": {
        "repositories": {"**": {
            "defaultPolicy": ["detectManifestCollision"],
            "policies": [{"users": ["root"], "actions": ["detectManifestCollision"]}],
        }},
        "adminPolicy": {"users": ["root"], "groups": ["ops"], "actions": ["read", "detectManifestCollision"]},
    }});
    let (p, warnings) = Policy::from_json(&config.to_string()).unwrap();
    assert!(warnings.iter().any(|w| w.contains("admins never get it")));
    assert!(can(&p, Some(&user("alice")), Dmc, "repo"));
    assert!(!can(&p, Some(&user("root")), Dmc, "repo"));
    assert!(!can(&p, Some(&member("dave", &["ops"])), Dmc, "repo"));
}

#[test]
fn manifest_collision_detection_is_granted_like_any_action() {
    let p = policy(json!({"repositories": {
        "anon/**": {"anonymousPolicy": ["detectmanifestcollision"]},
        "users/**": {"policies": [{"users": ["alice"], "actions": ["DetectManifestCollision"]}]},
    }}));
    assert!(can(&p, None, Dmc, "anon/app"));
    assert!(can(&p, Some(&user("alice")), Dmc, "users/app"));
    assert!(!can(&p, Some(&user("bob")), Dmc, "users/app"));
}

// ---------------------------------------------------------------- metrics

#[test]
fn metrics_users_only_groups_and_admins_do_not_count() {
    let p = policy(json!({
        "groups": {"monitoring": {"users": ["grafana"]}},
        "adminPolicy": {"users": ["root"], "actions": ["read"]},
        "metrics": {"users": ["prometheus"]},
    }));
    assert!(can_metrics(&p, Some(&user("prometheus"))));
    assert!(!can_metrics(&p, Some(&user("root"))));
    assert!(!can_metrics(&p, Some(&member("grafana", &["monitoring"]))));
    assert!(!can_metrics(&p, None));
    let subject = user("prometheus");
    assert!(p
        .authorize(
            Some(&subject.subject()),
            Resource::Metrics,
            Create,
            None,
            &RequestView::default()
        )
        .is_err());
}

#[test]
fn anonymous_metrics_need_read_in_anonymous_policy() {
    let p = policy(json!({"metrics": {"anonymousPolicy": ["read"]}}));
    assert!(can_metrics(&p, None));
    // Not inherited by authenticated users: metrics.users is empty.
    assert!(!can_metrics(&p, Some(&user("alice"))));
    let p = policy(json!({"metrics": {"users": ["alice"]}}));
    assert!(!can_metrics(&p, None));
    assert_eq!(
        p.authorize(None, Resource::Metrics, Read, None, &RequestView::default()),
        Err("anonymous users may not read metrics".to_owned())
    );
}

#[test]
fn the_empty_metrics_user_of_older_zot_is_anonymous_read() {
    let config = json!({"accessControl": {"metrics": {"users": [""]}}});
    let (p, warnings) = Policy::from_json(&config.to_string()).unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("anonymousPolicy")),
        "{warnings:?}"
    );
    assert!(can_metrics(&p, None));
    assert!(!can_metrics(&p, Some(&user("alice"))));
}

// ---------------------------------------------------------------- catalog

#[test]
fn catalog_keeps_readable_repositories_in_order() {
    let p = policy(json!({
        "repositories": {
            "**": {"anonymousPolicy": ["read"]},
            "team/**": {"policies": [{"users": ["alice"], "actions": ["read"]}]},
            "team/private/**": {"policies": [{"users": ["bob"], "actions": ["read"]}]},
            "push/**": {"policies": [{"users": ["alice"], "actions": ["create"]}]},
        },
        "adminPolicy": {"users": ["root"], "actions": []},
    }));
    let repos = ["zeta", "team/app", "team/private/x", "push/x", "alpha"];
    assert_eq!(catalog(&p, Some(&user("alice")), &repos), ["team/app"]);
    assert_eq!(catalog(&p, Some(&user("bob")), &repos), ["team/private/x"]);
    assert_eq!(catalog(&p, None, &repos), ["zeta", "alpha"]);
    // Admins see everything even without read in adminPolicy.actions.
    assert_eq!(catalog(&p, Some(&user("root")), &repos), repos);
    assert!(!can(&p, Some(&user("root")), Read, "zeta"));
}

// ---------------------------------------------------------------- deny reasons

#[test]
fn deny_reasons_say_who_what_and_where() {
    let p = policy(json!({"repositories": {}}));
    let alice = user("alice");
    let deny = |who: Option<&Who>, action, reference| {
        let subject = who.map(Who::subject);
        p.authorize(
            subject.as_ref(),
            Resource::Repository("team/app"),
            action,
            reference,
            &RequestView::default(),
        )
        .unwrap_err()
    };
    assert_eq!(
        deny(Some(&alice), Update, Some("v1")),
        "user alice may not overwrite tag v1 in team/app (needs update)"
    );
    assert_eq!(
        deny(None, Read, None),
        "anonymous users may not read team/app (needs read)"
    );
    assert_eq!(
        deny(Some(&alice), Create, None),
        "user alice may not push to team/app (needs create)"
    );
    assert_eq!(
        deny(Some(&alice), Delete, Some("sha256:abc")),
        "user alice may not delete sha256:abc from team/app (needs delete)"
    );
}

// ---------------------------------------------------------------- configuration

#[test]
fn lowercase_and_camel_case_keys_are_both_accepted() {
    let lower = json!({"accesscontrol": {
        "repositories": {"**": {"defaultpolicy": ["read"], "anonymouspolicy": ["read"]}},
        "adminpolicy": {"users": ["root"], "actions": ["delete"]},
        "metrics": {"users": ["p"], "anonymouspolicy": ["read"]},
    }});
    let camel = json!({"accessControl": {
        "repositories": {"**": {"defaultPolicy": ["read"], "anonymousPolicy": ["read"]}},
        "adminPolicy": {"users": ["root"], "actions": ["delete"]},
        "metrics": {"users": ["p"], "anonymousPolicy": ["read"]},
    }});
    for config in [lower, camel] {
        let p = Policy::from_json(&config.to_string()).unwrap().0;
        assert!(can(&p, Some(&user("a")), Read, "x"));
        assert!(can(&p, None, Read, "x"));
        assert!(can(&p, Some(&user("root")), Delete, "x"));
        assert!(can_metrics(&p, None));
        assert!(can_metrics(&p, Some(&user("p"))));
    }
}

#[test]
fn null_lists_read_as_empty() {
    let p = policy(json!({
        "groups": null,
        "repositories": {"**": {"policies": [{"users": null, "groups": ["g"], "actions": ["read"], "conditions": null}], "defaultPolicy": null}},
        "adminPolicy": null,
        "metrics": {"users": null},
    }));
    assert!(can(&p, Some(&member("a", &["g"])), Read, "x"));
}

#[test]
fn unknown_actions_are_refused_naming_the_key() {
    let e = config_error(json!({"repositories": {"team/**": {"policies": [
        {"users": ["a"], "actions": ["read", "push"]},
    ]}}}));
    assert!(
        e.contains(r#"accessControl.repositories["team/**"].policies[0].actions"#),
        "{e}"
    );
    assert!(e.contains(r#""push""#), "{e}");
    let e = config_error(json!({"repositories": {"**": {"defaultPolicy": ["pull"]}}}));
    assert!(e.contains("defaultPolicy"), "{e}");
    let e = config_error(json!({"adminPolicy": {"actions": ["all"]}}));
    assert!(e.contains("accessControl.adminPolicy.actions"), "{e}");
    let e = config_error(json!({"metrics": {"anonymousPolicy": ["scrape"]}}));
    assert!(e.contains("accessControl.metrics.anonymousPolicy"), "{e}");
}

#[test]
fn conditions_grant_only_when_they_hold() {
    let p = policy(json!({
        "groups": {"release": {"users": ["ci"]}},
        "repositories": {"**": {"policies": [
            {"groups": ["release"], "actions": ["read", "create"],
             "conditions": [{"expression": "req.referenceType != 'tag' || req.tag.startsWith('v')",
                             "message": "release builds push v* tags only"}]},
            {"users": ["bot"], "actions": ["read"],
             "conditions": [{"expression": "req.claims.repository_owner == 'org'", "message": "only org's workflows"}]},
        ]}},
        "adminPolicy": {"users": ["root"], "actions": ["delete"],
            "conditions": [{"expression": "req.client.ip == '10.0.0.1'", "message": "break-glass from the bastion only"}]},
    }));
    let ci = user("ci");
    let decide = |who: &Who, action, reference: Option<&str>, view: &RequestView| {
        p.authorize(
            Some(&who.subject()),
            Resource::Repository("team/app"),
            action,
            reference,
            view,
        )
    };
    let view = RequestView::default();
    assert!(decide(&ci, Create, Some("v1.0"), &view).is_ok());
    assert_eq!(
        decide(&ci, Create, Some("latest"), &view).unwrap_err(),
        "release builds push v* tags only"
    );
    assert!(
        decide(&ci, Create, Some("sha256:abc"), &view).is_ok(),
        "digests pass"
    );
    let bot = user("bot");
    let org = RequestView {
        claims: Some(r#"{"repository_owner":"org"}"#.into()),
        ..RequestView::default()
    };
    assert!(decide(&bot, Read, None, &org).is_ok());
    assert!(
        decide(&bot, Read, None, &view)
            .unwrap_err()
            .contains("needs read"),
        "missing claim: an error grants nothing and says nothing"
    );
    let root = user("root");
    let bastion = RequestView {
        client_ip: "10.0.0.1".into(),
        ..RequestView::default()
    };
    assert!(decide(&root, Delete, Some("v1"), &bastion).is_ok());
    assert_eq!(
        decide(&root, Delete, Some("v1"), &view).unwrap_err(),
        "break-glass from the bastion only"
    );
    // The catalog is filtered without conditions.
    assert_eq!(
        p.filter_catalog(Some(&bot.subject()), vec!["x".into()]),
        vec!["x"]
    );
}

#[test]
fn bad_conditions_are_refused() {
    let e = config_error(json!({"repositories": {"**": {"policies": [
        {"users": ["a"], "actions": ["read"], "conditions": [{"expression": "req.tag +", "message": "m"}]},
    ]}}}));
    assert!(e.contains("policies[0].conditions[0]"), "{e}");
    let e = config_error(
        json!({"adminPolicy": {"users": ["a"], "conditions": [{"expression": "true", "message": ""}]}}),
    );
    assert!(e.contains("accessControl.adminPolicy.conditions[0]"), "{e}");
    let e = config_error(
        json!({"adminPolicy": {"users": ["a"], "conditions": [{"expression": "req.tag + 'x'", "message": "m"}]}}),
    );
    assert!(e.contains("not a boolean"), "{e}");
    let e = config_error(
        json!({"adminPolicy": {"users": ["a"], "conditions": [{"expression": "request.tag == ''", "message": "m"}]}}),
    );
    assert!(e.contains("request"), "{e}");
    // An empty list is fine.
    policy(json!({"repositories": {"**": {"policies": [{"users": ["a"], "conditions": []}]}}}));
}

#[test]
fn per_user_namespaces_belong_to_their_user() {
    let p = policy(json!({"repositories": {
        "**": {"defaultPolicy": ["read"]},
        "users/${username}/**": {"defaultPolicy": ["read", "create", "update", "delete"]},
    }}));
    let alice = user("alice");
    let decide = |who: &Who, repo, action| {
        p.authorize(
            Some(&who.subject()),
            Resource::Repository(repo),
            action,
            None,
            &RequestView::default(),
        )
    };
    assert!(decide(&alice, "users/alice/app", Delete).is_ok());
    assert!(decide(&alice, "users/bob/app", Create).is_err());
    assert!(decide(&alice, "users/bob/app", Read).is_ok());
}

#[test]
fn bad_patterns_are_refused() {
    for (pattern, needle) in [
        ("/team/**", "leading '/'"),
        ("team/[", "invalid glob"),
        ("team/{a,b", "invalid glob"),
        ("team}", "invalid glob"),
        ("", "empty pattern"),
    ] {
        let e = config_error(json!({"repositories": {pattern: {"defaultPolicy": ["read"]}}}));
        assert!(e.contains(needle), "{pattern}: {e}");
        assert!(
            e.contains(&format!("accessControl.repositories[{pattern:?}]")),
            "{e}"
        );
    }
}

#[test]
fn unknown_keys_and_duplicates_are_refused() {
    let e = config_error(json!({"repositories": {"**": {"defaultpolicies": ["read"]}}}));
    assert!(e.contains("defaultpolicies"), "{e}");
    let e = Policy::from_json(r#"{"accessControl": {}, "extra": 1}"#).unwrap_err();
    assert!(e.contains("extra"), "{e}");
    let e = config_error(json!({"groups": {"Dev": {}, "dev": {}}}));
    assert!(e.contains("defined twice"), "{e}");
    let e = config_error(json!({"repositories": {"Team/**": {}, "team/**": {}}}));
    assert!(e.contains("defined twice"), "{e}");
    assert!(Policy::from_json("not json").is_err());
}

#[test]
fn hand_written_uppercase_patterns_are_lowercased_like_zot() {
    let p = policy(json!({"repositories": {"Team/**": {"defaultPolicy": ["read"]}}}));
    assert!(can(&p, Some(&user("a")), Read, "team/app"));
}

#[test]
fn effective_groups_add_configured_memberships() {
    let (policy, _) = Policy::from_json(
        r#"{"accessControl": {"groups": {"dev": {"users": ["alice"]}, "ops": {"users": ["alice", "bob"]}},
            "repositories": {"**": {"anonymousPolicy": ["read"], "defaultPolicy": ["read"]}}}}"#,
    )
    .unwrap();
    let asserted = vec!["idp-team".to_owned(), "Dev".to_owned()];
    let alice = Subject {
        username: "alice",
        groups: &asserted,
    };
    assert_eq!(
        policy.effective_groups(&alice),
        vec!["idp-team", "Dev", "ops"]
    );
    assert_eq!(
        policy.anonymous_grants(),
        (true, false, true),
        "anonymous reads mixed with authenticated-only grants"
    );
    let (open, _) = Policy::from_json(r#"{"accessControl": null}"#).unwrap();
    assert_eq!(open.anonymous_grants(), (false, false, true));
}

#[test]
fn decisions_are_reusable_only_without_conditions() {
    let condition = json!([{"expression": "req.method == 'GET'", "message": "reads only"}]);
    assert!(Policy::default().decisions_reusable());
    assert!(policy(json!({
        "repositories": {"**": {"policies": [{"users": ["a"], "actions": ["read"]}],
                                "anonymousPolicy": ["read"]}},
        "adminPolicy": {"users": ["root"], "actions": ["delete"]},
    }))
    .decisions_reusable());
    assert!(!policy(json!({
        "repositories": {"team/**": {"policies": [{"users": ["a"], "actions": ["read"]}]},
                         "ci/**": {"policies": [{"users": ["a"], "actions": ["read"],
                                                 "conditions": condition}]}},
    }))
    .decisions_reusable());
    assert!(!policy(json!({
        "adminPolicy": {"users": ["root"], "actions": ["delete"], "conditions": condition},
    }))
    .decisions_reusable());
}
