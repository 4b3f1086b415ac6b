//! An admitted caller, and every authorization question asked about it. A caller holds the
//! generation that admitted it, so a hot swap never changes the rules under a request.

use super::credentials::Admission;
use super::{challenge, challenge_header, delay, scopes, unavailable, Access, Generation, Refusal};
use crate::plugins::decisions::DecisionKey;
use crate::plugins::model::{AccessRequest, Action, Decision, Identity, Resource};
use crate::plugins::CallError;
use smol_str::SmolStr;
use std::sync::Arc;

/// An authenticated (or anonymous) caller, bound to the generation that admitted it.
pub struct Caller {
    pub(super) generation: Arc<Generation>,
    pub(super) admission: Option<Arc<Admission>>,
    pub(super) facts: super::RequestFacts,
    pub(super) ui: bool,
    pub(super) cookies: Vec<String>,
}

/// A Docker token's name for an action (zot's mapping).
fn docker_verb(action: Action) -> Option<&'static str> {
    match action {
        Action::Read => Some("pull"),
        Action::Create | Action::Update => Some("push"),
        Action::Delete => Some("delete"),
        Action::DetectManifestCollision => None,
    }
}

impl Caller {
    /// The caller's identity, if authenticated.
    pub fn identity(&self) -> Option<&Identity> {
        self.admission.as_ref().map(|a| &*a.identity)
    }

    /// `Set-Cookie` values the response must carry (a session started or ended).
    pub fn cookies(&self) -> &[String] {
        &self.cookies
    }

    /// The groups the authorizer counts the caller in.
    pub async fn effective_groups(&self) -> Result<Vec<String>, Refusal> {
        let Some(identity) = self.identity() else {
            return Ok(Vec::new());
        };
        match &self.generation.plugins.authorizer {
            None => Ok(identity.groups.clone()),
            Some(a) => match a.effective_groups(identity).await {
                Ok(groups) => Ok(groups),
                Err(CallError::Unavailable(_)) => Err(unavailable()),
                Err(CallError::Failed(_)) => Ok(identity.groups.clone()),
            },
        }
    }

    /// The caller's user name, if authenticated.
    pub fn username(&self) -> Option<&str> {
        self.identity().map(|i| i.username.as_str())
    }

    /// Decide one access, and put it in the decision log.
    async fn decide(
        &self,
        resource: &Resource,
        action: Action,
        reference: &Option<SmolStr>,
    ) -> Result<Decision, Refusal> {
        let started = std::time::Instant::now();
        let (decision, by) = self.decision(resource, action, reference).await?;
        let identity = self.identity();
        let (verdict, reason) = match &decision {
            Decision::Allow => ("allow", ""),
            Decision::Deny(reason) => ("deny", reason.as_str()),
        };
        tracing::info!(
            target: crate::logging::DECISIONS,
            identity = identity.map_or("", |i| i.username.as_str()),
            source = identity.map_or("anonymous", |i| i.source.as_str()),
            repository = match resource {
                Resource::Repository(name) => name.as_str(),
                Resource::Metrics => "",
            },
            resource = match resource {
                Resource::Repository(_) => "repository",
                Resource::Metrics => "metrics",
            },
            action = %action,
            reference = reference.as_deref().unwrap_or(""),
            plugin = by,
            decision = verdict,
            reason,
            latency_us = started.elapsed().as_micros() as u64,
        );
        Ok(decision)
    }

    /// The decision on one access, and what made it: the authorizer plugin's name, or
    /// `docker-token`, `api-key-scopes` or `no-authorizer`.
    async fn decision(
        &self,
        resource: &Resource,
        action: Action,
        reference: &Option<SmolStr>,
    ) -> Result<(Decision, &str), Refusal> {
        let identity = self.identity();
        if let Some(grants) = self.admission.as_ref().and_then(|a| a.docker.as_ref()) {
            // A Docker token is its own authorization (zot, distribution).
            let allowed = match (resource, docker_verb(action)) {
                (Resource::Repository(name), Some(verb)) => grants.allows(name, verb),
                _ => false,
            };
            let decision = match allowed {
                true => Decision::Allow,
                false => Decision::Deny(format!("the token does not grant {action} here")),
            };
            return Ok((decision, "docker-token"));
        }
        let in_scope = match resource {
            Resource::Repository(name) => scopes::allow(identity, name, action),
            Resource::Metrics => !scopes::restricted(identity),
        };
        if !in_scope {
            let reason = format!("the API key's scopes do not allow {action} here");
            return Ok((Decision::Deny(reason), "api-key-scopes"));
        }
        let Some(authorizer) = &self.generation.plugins.authorizer else {
            return Ok((Decision::Allow, "no-authorizer"));
        };
        let memory = self.generation.plugins.decisions.as_ref();
        let shared = self.admission.as_ref().map(|a| &a.identity);
        let key = memory.map(|_| DecisionKey::new(shared, resource, action, reference));
        if let Some(decision) = memory.zip(key.as_ref()).and_then(|(m, k)| m.recall(k)) {
            return Ok((decision, authorizer.name()));
        }
        let request = AccessRequest {
            identity: identity.cloned(),
            resource: resource.clone(),
            action,
            reference: reference.as_ref().map(SmolStr::to_string),
            context: self.facts.context(),
            claims: self
                .admission
                .as_ref()
                .and_then(|a| a.claims.as_deref())
                .map(str::to_owned),
        };
        // Boxed: a plugin call's state is large, and a remembered decision needs none of it.
        let decision = match Box::pin(authorizer.authorize(&request)).await {
            Ok(decision) => {
                if let Some((memory, key)) = memory.zip(key) {
                    memory.remember(key, &decision);
                }
                decision
            }
            Err(CallError::Unavailable(_)) => return Err(unavailable()),
            Err(CallError::Failed(_)) => Decision::Deny("the access decision failed".into()),
        };
        Ok((decision, authorizer.name()))
    }

    /// Allow the request only if every access is allowed.
    pub async fn authorize(&self, accesses: &[Access]) -> Result<(), Refusal> {
        for access in accesses {
            let resource = Resource::Repository(access.repository.to_smol());
            if let Decision::Deny(reason) = self
                .decide(&resource, access.action, &access.reference)
                .await?
            {
                tracing::info!(user = ?self.username(), repository = %access.repository,
                    action = %access.action, reason, "denied");
                let scope = docker_verb(access.action)
                    .map(|verb| format!("repository:{}:{verb}", access.repository))
                    .unwrap_or_default();
                return Err(self.denied(&reason, &scope).await);
            }
        }
        Ok(())
    }

    /// Whether one access would be allowed (for optional behaviour such as mounts).
    pub async fn allows(&self, access: &Access) -> Result<bool, Refusal> {
        let resource = Resource::Repository(access.repository.to_smol());
        Ok(matches!(
            self.decide(&resource, access.action, &access.reference)
                .await?,
            Decision::Allow
        ))
    }

    /// Whether any gate is configured (mounts without `from` are only automatic without one).
    pub fn is_open(&self) -> bool {
        self.generation.plugins.authorizer.is_none() && self.generation.tokens.is_none()
    }

    /// Allow reading the metrics endpoint.
    pub async fn authorize_metrics(&self) -> Result<(), Refusal> {
        match self.decide(&Resource::Metrics, Action::Read, &None).await? {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => Err(self.denied(&reason, "").await),
        }
    }

    /// The base endpoint `/v2/`: zot's challenge that makes Docker send its stored credentials
    /// when anonymous and authenticated-only grants are mixed.
    pub async fn authorize_base(&self, user_agent: Option<&str>) -> Result<(), Refusal> {
        let anonymous = self.admission.is_none() && self.generation.authenticates();
        let docker =
            user_agent.is_some_and(|ua| ua.contains("Docker-Client") || ua.starts_with("docker/"));
        let access = self.generation.plugins.anonymous;
        if anonymous && docker && access.repositories && access.authenticated_only {
            return Err(challenge(
                &self.generation,
                self.ui,
                "",
                "authentication required",
            ));
        }
        Ok(())
    }

    /// The challenge `/v2/` carries even when it answers 200, as zot does, whenever
    /// authentication is configured (not for zot's UI): clients such as skopeo and podman
    /// decide from it whether to send their credentials at all.
    pub fn base_challenge(&self) -> Option<String> {
        (self.generation.authenticates() && !self.ui)
            .then(|| challenge_header(&self.generation, ""))
    }

    /// Allow listing the catalog: always, but for a Docker token, which needs a grant on the
    /// empty repository name (zot's scope `repository::pull`; without it, 401 with that
    /// challenge so that the client fetches a token with more scope).
    pub async fn authorize_catalog(&self) -> Result<(), Refusal> {
        match self.admission.as_ref().and_then(|a| a.docker.as_ref()) {
            Some(grants) if !grants.allows("", "pull") => Err(self
                .denied(
                    "the token does not grant listing the catalog",
                    "repository::pull",
                )
                .await),
            _ => Ok(()),
        }
    }

    /// The repositories of a catalog page the caller may see.
    pub async fn filter_catalog(&self, mut names: Vec<SmolStr>) -> Result<Vec<SmolStr>, Refusal> {
        if self.admission.as_ref().is_some_and(|a| a.docker.is_some()) {
            // Its grant on the catalog was checked by `authorize_catalog`.
            return Ok(names);
        }
        if scopes::restricted(self.identity()) {
            names.retain(|n| scopes::allow(self.identity(), n, Action::Read));
        }
        match &self.generation.plugins.authorizer {
            None => Ok(names),
            Some(a) => {
                let offered = names.iter().map(SmolStr::to_string).collect();
                match Box::pin(a.filter_catalog(self.identity(), offered)).await {
                    Ok(kept) => Ok(kept.into_iter().map(SmolStr::from).collect()),
                    Err(CallError::Unavailable(_)) => Err(unavailable()),
                    Err(CallError::Failed(_)) => Ok(Vec::new()),
                }
            }
        }
    }

    /// A denial: 401 (with the challenge for `scope`) for anonymous callers and for Docker
    /// tokens (so the client fetches a token with more scope), 403 for the others.
    async fn denied(&self, reason: &str, scope: &str) -> Refusal {
        let token = self.admission.as_ref().is_some_and(|a| a.docker.is_some());
        if !token {
            delay(&self.generation).await;
        }
        match &self.admission {
            None => challenge(&self.generation, self.ui, scope, reason),
            Some(_) if token => challenge(&self.generation, self.ui, scope, reason),
            Some(_) => Refusal::Denied {
                reason: reason.to_owned(),
            },
        }
    }
}
