//! zot's `http.accessControl` semantics, compiled once at `configure` so that each decision is
//! a few lookups.
//!
//! Plain Rust, independent of the WIT bindings, so that it is unit-tested natively.
//!
//! The rules (see zot-auth.md §2):
//! - **Repositories.** Among the patterns matching the repository name, only the longest
//!   (in bytes) applies; there is no fallback to shorter patterns. Patterns of equal length
//!   that both match are tie-broken by taking the lexicographically smallest (byte order);
//!   zot's choice there is random. Within the chosen pattern an identity is granted an
//!   action if a policy lists its user name, or one of its groups, with that action; if the
//!   pattern's `defaultPolicy` has it (authenticated identities only); or, for anonymous
//!   requests only, if its `anonymousPolicy` has it. Anonymous rights are not inherited by
//!   authenticated identities. No pattern matches: nothing is granted by repository policies.
//! - **Groups.** An identity's groups are the ones its source asserts plus the
//!   `accessControl.groups` that list its user name, whatever the source (zot adds config
//!   groups for htpasswd, LDAP and mTLS users only). Group names under `accessControl.groups`
//!   are lowercased by the host as zot does, so a policy's reference to a config group is
//!   compared case-insensitively (zot silently never matches `groups: [Dev]` there); groups
//!   asserted by the identity source are compared exactly.
//! - **Admins** (user in `adminPolicy.users`, or a group in `adminPolicy.groups`) are granted
//!   `adminPolicy.actions` on every repository, whatever the patterns, but never
//!   `detectManifestCollision` (zot's behaviour actions are false for admins, even when a
//!   repository policy lists them), and see every repository in the catalog.
//! - **Metrics.** Anonymous requests if `metrics.anonymousPolicy` has `read`; authenticated
//!   identities only if listed in `metrics.users` (groups and admins do not count).
//! - **No accessControl** (`null`): authenticated identities may do everything, including
//!   reading metrics and seeing the whole catalog, anonymous requests nothing, and
//!   `detectManifestCollision` is off for everyone, as in zot.
//!
//! - **Conditions.** A policy entry (or `adminPolicy`) with CEL `conditions` grants only when
//!   they all hold for the request (see [`crate::conditions`]); a false condition's message is
//!   the denial's reason. The catalog is filtered without conditions (optimistically, as zot).
//! - **Per-user namespaces.** A pattern may use `${username}` (see [`crate::patterns`]).
//!
//! An identity whose user name is empty is treated as anonymous, as zot does.

use crate::conditions::{self, Condition, Facts, Outcome, RequestView};
use crate::config::{AccessControlConfig, PluginConfig, PolicyConfig};
use crate::patterns::Patterns;
use std::collections::{BTreeMap, BTreeSet};

/// What a request wants to do (zot's actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Pull.
    Read,
    /// Push something new.
    Create,
    /// Move an existing tag.
    Update,
    /// Delete.
    Delete,
    /// Refuse deleting a manifest by digest while several tags name it.
    DetectManifestCollision,
}

impl Action {
    const ALL: [Action; 5] = [
        Action::Read,
        Action::Create,
        Action::Update,
        Action::Delete,
        Action::DetectManifestCollision,
    ];

    /// The action's name in zot's configuration.
    pub fn zot_name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::DetectManifestCollision => "detectManifestCollision",
        }
    }

    /// Parse a configured action name, case-insensitively.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|a| a.zot_name().eq_ignore_ascii_case(name))
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of actions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Actions(u8);

impl Actions {
    fn has(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }
    fn add(&mut self, other: Actions) {
        self.0 |= other.0;
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// User name policies refer to.
    pub username: &'a str,
    /// Groups asserted by the identity source.
    pub groups: &'a [String],
}

/// What is accessed.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// A repository, by name.
    Repository(&'a str),
    /// The metrics endpoint.
    Metrics,
}

/// A configured policy, ready to decide.
#[derive(Debug, Default)]
pub struct Policy {
    /// `None`: no accessControl configured.
    rules: Option<Rules>,
}

#[derive(Debug)]
struct Rules {
    patterns: Patterns<Pattern>,
    admin: Grant,
    admin_conditional: Vec<ConditionalGrant>,
    /// `accessControl.groups` by member: the groups each user name is in, as configured.
    memberships: BTreeMap<String, BTreeSet<String>>,
    metrics_users: BTreeSet<String>,
    metrics_anonymous_read: bool,
}

#[derive(Debug)]
struct Pattern {
    /// Grants without conditions.
    grant: Grant,
    /// Grants with conditions.
    conditional: Vec<ConditionalGrant>,
    default: Actions,
    anonymous: Actions,
}

/// A policy entry with conditions.
#[derive(Debug)]
struct ConditionalGrant {
    grant: Grant,
    conditions: Vec<Condition>,
}

/// Actions granted to user names (config-group members included) and asserted group names.
#[derive(Debug, Clone, Default)]
struct Grant {
    users: BTreeMap<String, Actions>,
    groups: BTreeMap<String, Actions>,
}

impl Grant {
    /// Everything `subject` is granted here.
    fn actions_of(&self, subject: &Subject) -> Actions {
        let mut actions = self
            .users
            .get(subject.username)
            .copied()
            .unwrap_or_default();
        for group in subject.groups {
            if let Some(a) = self.groups.get(group.as_str()) {
                actions.add(*a);
            }
        }
        actions
    }

    /// Whether `subject` is named here at all (even with no actions).
    fn names(&self, subject: &Subject) -> bool {
        self.users.contains_key(subject.username)
            || subject
                .groups
                .iter()
                .any(|g| self.groups.contains_key(g.as_str()))
    }
}

impl Policy {
    /// Parse and compile the plugin's JSON configuration. On success, also returns warnings
    /// worth logging (configurations that are legal but probably not what was meant).
    pub fn from_json(json: &str) -> Result<(Policy, Vec<String>), String> {
        let config: PluginConfig =
            serde_json::from_str(json).map_err(|e| format!("invalid configuration: {e}"))?;
        Policy::from_config(&config)
    }

    /// Compile a parsed configuration. See [`Policy::from_json`].
    pub fn from_config(config: &PluginConfig) -> Result<(Policy, Vec<String>), String> {
        let mut warnings = Vec::new();
        let rules = match &config.access_control {
            None => None,
            Some(ac) => Some(Rules::compile(ac, &mut warnings)?),
        };
        Ok((Policy { rules }, warnings))
    }

    /// Decide one access. `subject` is `None` for an anonymous request; `reference` (a tag or
    /// digest) makes the denial reason more precise and is an input of conditions, with the
    /// rest of the request in `request`.
    pub fn authorize(
        &self,
        subject: Option<&Subject>,
        resource: Resource,
        action: Action,
        reference: Option<&str>,
        request: &RequestView,
    ) -> Result<(), String> {
        let subject = subject.filter(|s| !s.username.is_empty());
        let Some(rules) = &self.rules else {
            // Authentication without accessControl.
            return match (subject, resource) {
                (None, Resource::Metrics) => Err("anonymous users may not read metrics".into()),
                (None, Resource::Repository(repo)) => {
                    Err(deny_reason(None, action, repo, reference))
                }
                (Some(_), Resource::Repository(repo))
                    if action == Action::DetectManifestCollision =>
                {
                    Err(format!(
                        "manifest collision detection is off in {repo}: no accessControl"
                    ))
                }
                (Some(_), _) => Ok(()),
            };
        };
        match resource {
            Resource::Metrics => rules.authorize_metrics(subject, action),
            Resource::Repository(repo) => {
                let admin = subject.is_some_and(|s| rules.is_admin(s));
                if action == Action::DetectManifestCollision && admin {
                    return Err(format!(
                        "manifest collision detection is off in {repo} for admins"
                    ));
                }
                let facts = Facts {
                    user: subject.map(|s| (s.username, s.groups)),
                    admin,
                    action: action.zot_name(),
                    repository: repo,
                    reference,
                };
                let mut req = None;
                let mut evaluate = |conditions: &[Condition]| {
                    let req = req.get_or_insert_with(|| conditions::request_json(request, &facts));
                    conditions::evaluate(conditions, req)
                };
                let mut failed: Option<String> = None;
                let pattern = rules.patterns.find(repo, subject.map(|s| s.username));
                let mut candidates: Vec<&ConditionalGrant> = Vec::new();
                if let Some(p) = pattern {
                    let unconditional = match subject {
                        None => p.anonymous.has(action),
                        Some(s) => p.default.has(action) || p.grant.actions_of(s).has(action),
                    };
                    if unconditional {
                        return Ok(());
                    }
                    candidates.extend(&p.conditional);
                }
                if let Some(s) = subject.filter(|_| admin) {
                    if rules.admin.actions_of(s).has(action) {
                        return Ok(());
                    }
                    candidates.extend(&rules.admin_conditional);
                }
                for entry in candidates {
                    if !subject.is_some_and(|s| entry.grant.actions_of(s).has(action)) {
                        continue;
                    }
                    match evaluate(&entry.conditions) {
                        Outcome::Holds => return Ok(()),
                        Outcome::Fails(message) => {
                            failed.get_or_insert(message);
                        }
                        Outcome::Error => {}
                    }
                }
                Err(failed.unwrap_or_else(|| deny_reason(subject, action, repo, reference)))
            }
        }
    }

    /// Whether a decision depends only on the subject, resource, action and reference, so that
    /// the host may reuse it: true unless some entry has conditions (which read the request).
    pub fn decisions_reusable(&self) -> bool {
        self.rules.as_ref().is_none_or(|rules| {
            rules.admin_conditional.is_empty()
                && rules.patterns.values().all(|p| p.conditional.is_empty())
        })
    }

    /// What the policy may grant without authentication: (some repository access, reading
    /// metrics, some access that needs authentication). zot's rules follow from it: anonymous
    /// requests are admitted only where something may be granted anonymously, and Docker
    /// clients are challenged on `/v2/` when anonymous and authenticated-only grants mix.
    pub fn anonymous_grants(&self) -> (bool, bool, bool) {
        let Some(rules) = &self.rules else {
            return (false, false, true);
        };
        let grants = |g: &Grant| g.users.values().chain(g.groups.values()).any(|a| a.0 != 0);
        let conditional = |c: &[ConditionalGrant]| c.iter().any(|c| grants(&c.grant));
        let repositories = rules.patterns.values().any(|p| p.anonymous.0 != 0);
        let authenticated_only = rules
            .patterns
            .values()
            .any(|p| p.default.0 != 0 || grants(&p.grant) || conditional(&p.conditional))
            || grants(&rules.admin)
            || conditional(&rules.admin_conditional)
            || !rules.metrics_users.is_empty();
        (
            repositories,
            rules.metrics_anonymous_read,
            authenticated_only,
        )
    }

    /// The groups `subject` counts in: those its source asserts, then the
    /// `accessControl.groups` that list its user name (each once, in that order).
    pub fn effective_groups(&self, subject: &Subject) -> Vec<String> {
        let mut groups: Vec<String> = subject.groups.to_vec();
        let configured = self
            .rules
            .as_ref()
            .and_then(|r| r.memberships.get(subject.username));
        for group in configured.into_iter().flatten() {
            if !groups.iter().any(|g| g.eq_ignore_ascii_case(group)) {
                groups.push(group.clone());
            }
        }
        groups
    }

    /// Keep, in order, the repositories `subject` (`None`: anonymous) may see in the catalog:
    /// those it may `read`; admins see all of them.
    pub fn filter_catalog(
        &self,
        subject: Option<&Subject>,
        mut repositories: Vec<String>,
    ) -> Vec<String> {
        let subject = subject.filter(|s| !s.username.is_empty());
        match &self.rules {
            None if subject.is_some() => repositories,
            None => Vec::new(),
            Some(rules) if subject.is_some_and(|s| rules.is_admin(s)) => repositories,
            Some(rules) => {
                repositories.retain(|repo| rules.repository_allows(subject, repo, Action::Read));
                repositories
            }
        }
    }
}

impl Rules {
    fn compile(ac: &AccessControlConfig, warnings: &mut Vec<String>) -> Result<Rules, String> {
        // accessControl.groups, keyed by lowercased name.
        let mut groups: BTreeMap<String, &[String]> = BTreeMap::new();
        let mut memberships: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, group) in &ac.groups {
            for user in &group.users {
                memberships
                    .entry(user.clone())
                    .or_default()
                    .insert(name.clone());
            }
            let path = format!("accessControl.groups[{name:?}]");
            if groups.insert(name.to_lowercase(), &group.users).is_some() {
                return Err(format!(
                    "{path}: defined twice (group names are case-insensitive)"
                ));
            }
            warn_star(&group.users, &format!("{path}.users"), warnings);
        }

        let mut patterns = Vec::with_capacity(ac.repositories.len());
        let mut seen = BTreeSet::new();
        for (text, repo) in &ac.repositories {
            let path = format!("accessControl.repositories[{text:?}]");
            let lowered = text.to_lowercase();
            if !seen.insert(lowered.clone()) {
                return Err(format!(
                    "{path}: defined twice (repository patterns are case-insensitive)"
                ));
            }
            if lowered.is_empty() {
                return Err(format!("{path}: an empty pattern matches no repository"));
            }
            if lowered.starts_with('/') {
                return Err(format!(
                    "{path}: repository names never start with '/', so this pattern would never \
                     match; remove the leading '/'"
                ));
            }
            let mut grant = Grant::default();
            let mut conditional = Vec::new();
            for (i, policy) in repo.policies.iter().enumerate() {
                compile_entry(
                    policy,
                    &format!("{path}.policies[{i}]"),
                    &groups,
                    (&mut grant, &mut conditional),
                    warnings,
                )?;
            }
            patterns.push((
                lowered,
                Pattern {
                    grant,
                    conditional,
                    default: parse_actions(&repo.default_policy, &format!("{path}.defaultPolicy"))?,
                    anonymous: parse_actions(
                        &repo.anonymous_policy,
                        &format!("{path}.anonymousPolicy"),
                    )?,
                },
            ));
        }
        let patterns =
            Patterns::new(patterns).map_err(|e| format!("accessControl.repositories{e}"))?;

        let mut admin = Grant::default();
        let mut admin_conditional = Vec::new();
        compile_entry(
            &ac.admin_policy,
            "accessControl.adminPolicy",
            &groups,
            (&mut admin, &mut admin_conditional),
            warnings,
        )?;
        if parse_actions(
            &ac.admin_policy.actions,
            "accessControl.adminPolicy.actions",
        )?
        .has(Action::DetectManifestCollision)
        {
            warnings.push(
                "accessControl.adminPolicy.actions: detectManifestCollision has no effect there \
                 (admins never get it, as in zot)"
                    .into(),
            );
        }

        let metrics_path = "accessControl.metrics";
        warn_star(
            &ac.metrics.users,
            &format!("{metrics_path}.users"),
            warnings,
        );
        let anonymous = parse_actions(
            &ac.metrics.anonymous_policy,
            &format!("{metrics_path}.anonymousPolicy"),
        )?;
        if anonymous.0 & !Action::Read.bit() != 0 {
            warnings.push(format!(
                "{metrics_path}.anonymousPolicy: only \"read\" applies to metrics"
            ));
        }

        // zot before `anonymousPolicy` (2.1) named the anonymous user "" in `metrics.users`,
        // and homelab configurations still say so to let Prometheus scrape without a login.
        let legacy_anonymous = ac.metrics.users.iter().any(|u| u.is_empty());
        if legacy_anonymous {
            warnings.push(format!(
                "{metrics_path}.users: \"\" lets anonymous requests read metrics (as in zot \
                 before 2.1); newer zot says {metrics_path}.anonymousPolicy: [\"read\"]"
            ));
        }

        Ok(Rules {
            patterns,
            admin,
            admin_conditional,
            memberships,
            metrics_users: ac.metrics.users.iter().cloned().collect(),
            metrics_anonymous_read: anonymous.has(Action::Read) || legacy_anonymous,
        })
    }

    /// Whether `subject` is named in `adminPolicy` (with or without conditions).
    fn is_admin(&self, subject: &Subject) -> bool {
        self.admin.names(subject)
            || self
                .admin_conditional
                .iter()
                .any(|c| c.grant.names(subject))
    }

    /// Whether the repository policies may grant `action` on `repo` (admin rights aside;
    /// conditions are not evaluated: the catalog is filtered optimistically, as zot does).
    fn repository_allows(&self, subject: Option<&Subject>, repo: &str, action: Action) -> bool {
        let Some(pattern) = self.patterns.find(repo, subject.map(|s| s.username)) else {
            return false;
        };
        match subject {
            None => pattern.anonymous.has(action),
            Some(s) => {
                pattern.default.has(action)
                    || pattern.grant.actions_of(s).has(action)
                    || pattern
                        .conditional
                        .iter()
                        .any(|c| c.grant.actions_of(s).has(action))
            }
        }
    }

    fn authorize_metrics(&self, subject: Option<&Subject>, action: Action) -> Result<(), String> {
        if action != Action::Read {
            return Err(format!(
                "{} does not apply to metrics; only read does",
                action.zot_name()
            ));
        }
        match subject {
            None if self.metrics_anonymous_read => Ok(()),
            None => Err("anonymous users may not read metrics".into()),
            Some(s) if self.metrics_users.contains(s.username) => Ok(()),
            Some(s) => Err(format!("user {} may not read metrics", s.username)),
        }
    }
}

/// Add one policy entry: to `unconditional` when it has no conditions, else as a conditional
/// grant of its own.
fn compile_entry(
    policy: &PolicyConfig,
    path: &str,
    groups: &BTreeMap<String, &[String]>,
    (unconditional, conditional): (&mut Grant, &mut Vec<ConditionalGrant>),
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    if policy.conditions.is_empty() {
        return compile_grant(policy, path, groups, unconditional, warnings);
    }
    let conditions = conditions::compile(&policy.conditions, &format!("{path}.conditions"))?;
    let mut grant = Grant::default();
    compile_grant(policy, path, groups, &mut grant, warnings)?;
    conditional.push(ConditionalGrant { grant, conditions });
    Ok(())
}

/// Add one policy entry to `grant`: its users, the members of the config groups it names
/// (case-insensitively), and the group names themselves (for groups the identity source
/// asserts, compared exactly).
fn compile_grant(
    policy: &PolicyConfig,
    path: &str,
    groups: &BTreeMap<String, &[String]>,
    grant: &mut Grant,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let actions = parse_actions(&policy.actions, &format!("{path}.actions"))?;
    warn_star(&policy.users, &format!("{path}.users"), warnings);
    for user in &policy.users {
        grant.users.entry(user.clone()).or_default().add(actions);
    }
    for group in &policy.groups {
        grant.groups.entry(group.clone()).or_default().add(actions);
        if let Some(members) = groups.get(&group.to_lowercase()) {
            for user in *members {
                grant.users.entry(user.clone()).or_default().add(actions);
            }
        }
    }
    Ok(())
}

fn parse_actions(names: &[String], path: &str) -> Result<Actions, String> {
    let mut actions = Actions::default();
    for name in names {
        let action = Action::parse(name).ok_or_else(|| {
            format!(
                "{path}: unknown action {name:?} (valid: read, create, update, delete, \
                 detectManifestCollision)"
            )
        })?;
        actions.add(Actions(action.bit()));
    }
    Ok(actions)
}

fn warn_star(users: &[String], path: &str, warnings: &mut Vec<String>) {
    if users.iter().any(|u| u == "*") {
        warnings.push(format!(
            "{path}: \"*\" names a user called \"*\", it is not a wildcard (zot has none); \
             use defaultPolicy for every authenticated user"
        ));
    }
}

/// Why `subject` may not do `action` on `repo`: short, and nothing the client did not send.
fn deny_reason(
    subject: Option<&Subject>,
    action: Action,
    repo: &str,
    reference: Option<&str>,
) -> String {
    let who = match subject {
        Some(s) => format!("user {}", s.username),
        None => "anonymous users".to_owned(),
    };
    let what = match (action, reference) {
        (Action::Read, _) => format!("read {repo}"),
        (Action::Create, Some(r)) => format!("push {r} to {repo}"),
        (Action::Create, None) => format!("push to {repo}"),
        (Action::Update, Some(r)) => format!("overwrite tag {r} in {repo}"),
        (Action::Update, None) => format!("update tags in {repo}"),
        (Action::Delete, Some(r)) => format!("delete {r} from {repo}"),
        (Action::Delete, None) => format!("delete from {repo}"),
        (Action::DetectManifestCollision, _) => {
            return format!("manifest collision detection is off in {repo} for {who}");
        }
    };
    format!("{who} may not {what} (needs {})", action.zot_name())
}

#[cfg(test)]
mod tests;
