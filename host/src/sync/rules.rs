//! Which upstream repositories and tags a registry's `content` rules cover, and where they go
//! locally (`destination`, `stripPrefix`), as zot's content manager decides.

use crate::config::sync::ContentConfig;
use repo_glob::RepoGlob;

/// One `content` rule, compiled.
#[derive(Debug)]
struct Rule {
    /// The upstream repositories it covers (`prefix`).
    upstream: RepoGlob,
    /// The local names it covers (`destination` with the prefix, or its glob part).
    local: RepoGlob,
    /// The prefix without its leading and trailing `/` and `*`.
    fixed: String,
    destination: String,
    strip: bool,
    tags: TagFilter,
}

/// `tags.regex`, `tags.excludeRegex`, `tags.semver`.
#[derive(Debug, Default)]
struct TagFilter {
    keep: Option<regex::Regex>,
    drop: Option<regex::Regex>,
    semver: bool,
}

impl TagFilter {
    fn keeps(&self, tag: &str) -> bool {
        self.keep.as_ref().is_none_or(|r| r.is_match(tag))
            && !self.drop.as_ref().is_some_and(|r| r.is_match(tag))
            && (!self.semver || is_semver(tag))
    }
}

/// A registry's rules; none means every name, unchanged, every tag.
#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// Compile `content` (already validated).
    pub fn new(content: &[ContentConfig]) -> anyhow::Result<Rules> {
        let mut rules = Vec::new();
        for c in content {
            let prefix = c.prefix.trim_matches('/');
            let destination = c.destination.as_deref().unwrap_or("").trim_matches('/');
            let local_pattern = if c.stripprefix {
                [destination, split_pattern(&format!("{prefix}/")).1].join("/")
            } else {
                [destination, prefix].join("/")
            };
            let regex = |p: Option<&String>| p.map(|p| regex::Regex::new(p)).transpose();
            let tags = c.tags.as_ref();
            rules.push(Rule {
                upstream: RepoGlob::new(prefix).map_err(anyhow::Error::msg)?,
                local: RepoGlob::new(local_pattern.trim_matches('/'))
                    .map_err(anyhow::Error::msg)?,
                fixed: c
                    .prefix
                    .trim_matches(|ch| ch == '/' || ch == '*')
                    .to_owned(),
                destination: destination.to_owned(),
                strip: c.stripprefix,
                tags: TagFilter {
                    keep: regex(tags.and_then(|t| t.regex.as_ref()))?,
                    drop: regex(tags.and_then(|t| t.excluderegex.as_ref()))?,
                    semver: tags.and_then(|t| t.semver).unwrap_or(false),
                },
            });
        }
        Ok(Rules { rules })
    }

    /// The upstream name of the local repository `local` and whether `tag` (if any) is kept;
    /// `None` when no rule covers it — a name no rule maps never reaches the upstream.
    pub fn upstream_of(&self, local: &str, tag: Option<&str>) -> Option<String> {
        if self.rules.is_empty() {
            return Some(local.to_owned());
        }
        let rule = self.rules.iter().find(|r| r.local.is_match(local))?;
        let rest = local
            .strip_prefix(rule.destination.as_str())
            .unwrap_or(local)
            .trim_matches('/');
        let upstream = if rule.strip {
            format!("{}/{rest}", rule.fixed)
        } else {
            rest.to_owned()
        };
        let upstream = upstream.trim_matches('/').to_owned();
        (rule.upstream.is_match(&upstream) && tag.is_none_or(|t| rule.tags.keeps(t)))
            .then_some(upstream)
    }

    /// The local name of the upstream repository `upstream`, `None` when no rule covers it.
    pub fn local_of(&self, upstream: &str) -> Option<String> {
        let rule = self.rule_for_upstream(upstream)?;
        let rest = if rule.strip {
            upstream
                .strip_prefix(rule.fixed.as_str())
                .unwrap_or(upstream)
                .trim_matches('/')
        } else {
            upstream
        };
        Some(
            [rule.destination.as_str(), rest]
                .join("/")
                .trim_matches('/')
                .to_owned(),
        )
    }

    /// The tags of `upstream` its rule keeps.
    pub fn keep_tags(&self, upstream: &str, tags: Vec<String>) -> Vec<String> {
        match self.rule_for_upstream(upstream) {
            Some(rule) => tags.into_iter().filter(|t| rule.tags.keeps(t)).collect(),
            None => Vec::new(),
        }
    }

    /// Whether any rule covers the upstream repository `upstream`.
    pub fn covers_upstream(&self, upstream: &str) -> bool {
        self.rule_for_upstream(upstream).is_some()
    }

    fn rule_for_upstream(&self, upstream: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.upstream.is_match(upstream))
    }
}

/// doublestar's `SplitPattern`: the part before the last `/` preceding the first meta
/// character, and the rest.
fn split_pattern(pattern: &str) -> (&str, &str) {
    let bytes = pattern.as_bytes();
    let mut split = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'/' => split = Some(i),
            b'*' | b'?' | b'[' | b'{' => break,
            _ => {}
        }
        i += 1;
    }
    match split {
        Some(0) => ("/", &pattern[1..]),
        Some(at) => (&pattern[..at], &pattern[at + 1..]),
        None => (".", pattern),
    }
}

/// A semantic version as zot's filter (Masterminds semver) accepts one: an optional leading
/// `v`, and one to three numeric components (`4`, `4.1`, `4.1.0`), then the usual pre-release
/// and build parts.
fn is_semver(tag: &str) -> bool {
    let tag = tag.strip_prefix('v').unwrap_or(tag);
    let core_end = tag.find(['-', '+']).unwrap_or(tag.len());
    let (core, rest) = tag.split_at(core_end);
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return false;
    }
    let mut full: Vec<&str> = parts;
    full.resize(3, "0");
    semver::Version::parse(&format!("{}{rest}", full.join("."))).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sync::TagsConfig;

    fn content(prefix: &str, destination: Option<&str>, strip: bool) -> ContentConfig {
        ContentConfig {
            prefix: prefix.into(),
            tags: None,
            destination: destination.map(str::to_owned),
            stripprefix: strip,
        }
    }

    #[test]
    fn zot_readme_rules_map_both_ways() {
        let rules = Rules::new(&[
            content("/repo1/repo", Some("/localrepo"), true),
            content("/repo2/**", Some("/mirror"), false),
            content("/repo3/**", Some("/flat"), true),
            content("/repo4/app", None, false),
        ])
        .unwrap();
        assert_eq!(
            rules.upstream_of("localrepo", None).as_deref(),
            Some("repo1/repo")
        );
        assert_eq!(rules.local_of("repo1/repo").as_deref(), Some("localrepo"));
        assert_eq!(
            rules.upstream_of("mirror/repo2/a/b", None).as_deref(),
            Some("repo2/a/b")
        );
        assert_eq!(
            rules.local_of("repo2/a/b").as_deref(),
            Some("mirror/repo2/a/b")
        );
        assert_eq!(
            rules.upstream_of("flat/x", None).as_deref(),
            Some("repo3/x")
        );
        assert_eq!(rules.local_of("repo3/x").as_deref(), Some("flat/x"));
        assert_eq!(
            rules.upstream_of("repo4/app", None).as_deref(),
            Some("repo4/app")
        );
        // Names no rule maps never reach the upstream.
        for local in ["repo4/other", "localrepo/x", "elsewhere", "mirror/repo9/a"] {
            assert_eq!(rules.upstream_of(local, None), None, "{local}");
        }
    }

    #[test]
    fn no_rules_map_every_name_to_itself() {
        let rules = Rules::new(&[]).unwrap();
        assert_eq!(
            rules.upstream_of("library/alpine", Some("3")).as_deref(),
            Some("library/alpine")
        );
    }

    #[test]
    fn tag_filters() {
        let mut c = content("/app", None, false);
        c.tags = Some(TagsConfig {
            regex: Some("^4\\.".into()),
            excluderegex: Some("-rc".into()),
            semver: Some(true),
        });
        let rules = Rules::new(&[c]).unwrap();
        assert!(rules.upstream_of("app", Some("4.1.0")).is_some());
        assert!(rules.upstream_of("app", Some("v4.1.0")).is_none(), "regex");
        assert!(
            rules.upstream_of("app", Some("4.1.0-rc1")).is_none(),
            "exclude"
        );
        assert!(
            rules.upstream_of("app", Some("4.1")).is_some(),
            "a short semver"
        );
        assert!(rules.upstream_of("app", Some("4.x")).is_none(), "semver");
        assert_eq!(
            rules.keep_tags("app", vec!["4.0.0".into(), "latest".into()]),
            vec!["4.0.0".to_owned()]
        );
    }
}
