//! Repository patterns and which one applies: only the longest matching pattern counts (ties
//! go to the lexicographically smallest), as in zot. A pattern may use `${username}`
//! (per-user namespaces, e.g. `users/${username}/**`): it is expanded with the caller's user
//! name before matching, and never matches anonymous callers or a user name that is not a
//! plain repository path component.

use repo_glob::RepoGlob;
use std::cell::RefCell;
use std::collections::HashMap;

/// The placeholder of the caller's user name.
pub const USERNAME: &str = "${username}";
/// Expanded patterns remembered at most.
const MAX_EXPANDED: usize = 4096;

/// A template's expansion for one user: the expanded text and its glob, or `None` when the
/// user name cannot stand in a pattern.
type Expansion = Option<(String, RepoGlob)>;

/// Patterns with what each one carries.
pub struct Patterns<T> {
    /// Fixed patterns, longest first, then lexicographically.
    fixed: Vec<(String, RepoGlob, T)>,
    /// Templates (with `${username}`).
    templates: Vec<(String, T)>,
    /// Compiled expansions of templates, by (template index, user name).
    expanded: RefCell<HashMap<(usize, String), Expansion>>,
}

impl<T: std::fmt::Debug> std::fmt::Debug for Patterns<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Patterns")
            .field(
                "fixed",
                &self.fixed.iter().map(|(t, _, _)| t).collect::<Vec<_>>(),
            )
            .field(
                "templates",
                &self.templates.iter().map(|(t, _)| t).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Whether a user name can stand for a path component in a pattern.
fn plain(username: &str) -> bool {
    !username.is_empty()
        && username.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

impl<T> Patterns<T> {
    /// Compile `(pattern, value)` pairs; an invalid glob is named in the error
    /// as `["pattern"]: reason`, ready to follow a configuration path.
    pub fn new(entries: Vec<(String, T)>) -> Result<Patterns<T>, String> {
        let mut fixed = Vec::new();
        let mut templates = Vec::new();
        for (text, value) in entries {
            if text.contains(USERNAME) {
                RepoGlob::new(&text.replace(USERNAME, "user"))
                    .map_err(|e| format!("[{text:?}]: {e}"))?;
                templates.push((text, value));
            } else {
                let glob = RepoGlob::new(&text).map_err(|e| format!("[{text:?}]: {e}"))?;
                fixed.push((text, glob, value));
            }
        }
        fixed.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        Ok(Patterns {
            fixed,
            templates,
            expanded: RefCell::new(HashMap::new()),
        })
    }

    /// Every value (for questions about the whole policy).
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.fixed
            .iter()
            .map(|(_, _, v)| v)
            .chain(self.templates.iter().map(|(_, v)| v))
    }

    /// The value of the pattern that applies to `repo` for `username`.
    pub fn find(&self, repo: &str, username: Option<&str>) -> Option<&T> {
        let mut best: Option<(String, &T)> = self
            .fixed
            .iter()
            .find(|(_, glob, _)| glob.is_match(repo))
            .map(|(text, _, v)| (text.clone(), v));
        let Some(user) = username.filter(|u| plain(u)) else {
            return best.map(|(_, v)| v);
        };
        let mut expanded = self.expanded.borrow_mut();
        if expanded.len() > MAX_EXPANDED {
            expanded.clear();
        }
        for (i, (template, value)) in self.templates.iter().enumerate() {
            let entry = expanded.entry((i, user.to_owned())).or_insert_with(|| {
                let text = template.replace(USERNAME, user);
                RepoGlob::new(&text).ok().map(|glob| (text, glob))
            });
            let Some((text, glob)) = entry.as_ref() else {
                continue;
            };
            let better = best
                .as_ref()
                .is_none_or(|(b, _)| text.len() > b.len() || (text.len() == b.len() && text < b));
            if better && glob.is_match(repo) {
                best = Some((text.clone(), value));
            }
        }
        best.map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_namespaces() {
        let p = Patterns::new(vec![
            ("**".to_owned(), "all"),
            ("users/${username}/**".to_owned(), "own"),
            ("users/**".to_owned(), "users"),
        ])
        .unwrap();
        assert_eq!(p.find("users/alice/app", Some("alice")), Some(&"own"));
        assert_eq!(p.find("users/bob/app", Some("alice")), Some(&"users"));
        assert_eq!(p.find("users/alice/app", None), Some(&"users"));
        assert_eq!(
            p.find("users/a*/app", Some("a*")),
            Some(&"users"),
            "not a plain name"
        );
        assert_eq!(p.find("other", Some("alice")), Some(&"all"));
    }
}
