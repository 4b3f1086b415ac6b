//! Repository patterns with the semantics of `bmatcuk/doublestar/v4` `Match`, which zot uses,
//! built on `globset`.
//!
//! `/` separates path components. `*` matches any run of characters other than `/`, `?` one
//! character other than `/`, `[..]` / `[!..]` / `[^..]` a character class, `{a,b}`
//! alternatives (nesting allowed), `\` escapes the next character. `**` that is a whole path
//! component matches zero or more components; anywhere else it behaves like `*`.
//!
//! Where globset differs from doublestar, this module adjusts:
//! - a trailing `/**` (or `/**/`) also matches the empty tail: `a/**` matches `a` (globset
//!   requires at least `a/`);
//! - alternatives are expanded textually before compiling, as doublestar does, so `**` keeps
//!   its meaning inside them (`a/{b,**}` matches `a/x/y`; globset would read that `**` as `*`);
//! - patterns are validated with doublestar's rules (an unmatched `}` is an error; globset
//!   would take it literally).
//!
//! Known remaining difference: doublestar has a quirk where `**` directly after an alternative's
//! opening brace counts as a whole component even mid-component (`a{x,**}` matches `a/b/c`
//! there). Here `a{x,**}` is `ax` or `a*`, as the documented syntax says.

use globset::{GlobBuilder, GlobMatcher};

/// Most alternatives one pattern may expand to (`{a,b}{c,d}` is 4).
const MAX_EXPANSIONS: usize = 256;

/// A compiled repository pattern.
#[derive(Debug, Clone)]
pub struct RepoGlob {
    matchers: Vec<GlobMatcher>,
}

impl RepoGlob {
    /// Compile `pattern`, or explain why it is not a valid doublestar pattern.
    pub fn new(pattern: &str) -> Result<Self, String> {
        validate(pattern)?;
        let mut expanded = Vec::new();
        expand(pattern, &mut expanded)?;
        let mut matchers = Vec::with_capacity(expanded.len());
        for alternative in &expanded {
            matchers.push(compile(alternative)?);
            if let Some(stem) = zero_tail_stem(alternative) {
                matchers.push(compile(stem)?);
            }
        }
        Ok(RepoGlob { matchers })
    }

    /// Whether `name` matches the whole pattern.
    pub fn is_match(&self, name: &str) -> bool {
        self.matchers.iter().any(|m| m.is_match(name))
    }
}

fn compile(pattern: &str) -> Result<GlobMatcher, String> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .empty_alternates(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("invalid glob: {}", e.kind()))
}

/// doublestar's `ValidatePattern`: escapes must escape something, classes must be non-empty
/// and closed, braces balanced.
fn validate(pattern: &str) -> Result<(), String> {
    let s = pattern.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' => {
                if i + 1 >= s.len() {
                    return Err("invalid glob: dangling '\\' at the end".into());
                }
                i += 2;
                continue;
            }
            b'[' => {
                i += 1;
                if i < s.len() && (s[i] == b'!' || s[i] == b'^') {
                    i += 1;
                }
                if i >= s.len() || s[i] == b']' {
                    return Err("invalid glob: empty or unclosed character class '['".into());
                }
                loop {
                    if i >= s.len() {
                        return Err("invalid glob: unclosed character class '['".into());
                    }
                    match s[i] {
                        b'\\' => i += 2,
                        b']' => break,
                        _ => i += 1,
                    }
                }
            }
            b'{' => depth += 1,
            b'}' => {
                if depth == 0 {
                    return Err("invalid glob: '}' without a matching '{'".into());
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    if depth != 0 {
        return Err("invalid glob: unclosed '{'".into());
    }
    Ok(())
}

/// Index just past the class that starts at `s[i] == '['` (the byte after its `]`), or
/// `s.len()` if unclosed.
fn skip_class(s: &[u8], mut i: usize) -> usize {
    i += 1;
    if i < s.len() && (s[i] == b'!' || s[i] == b'^') {
        i += 1;
    }
    // A `]` right after `[` or `[!` would be an empty class, refused by `validate`.
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b']' => return i + 1,
            _ => i += 1,
        }
    }
    s.len()
}

/// Expand the first top-level `{..}` of `pattern` (recursively), pushing brace-free patterns.
fn expand(pattern: &str, out: &mut Vec<String>) -> Result<(), String> {
    let s = pattern.as_bytes();
    let mut i = 0;
    let open = loop {
        if i >= s.len() {
            out.push(pattern.to_owned());
            return if out.len() > MAX_EXPANSIONS {
                Err(format!(
                    "too many alternatives (more than {MAX_EXPANSIONS} once '{{..}}' are expanded)"
                ))
            } else {
                Ok(())
            };
        }
        match s[i] {
            b'\\' => i += 2,
            b'[' => i = skip_class(s, i),
            b'{' => break i,
            _ => i += 1,
        }
    };
    // Split the body at top-level commas, up to the matching `}`.
    let mut depth = 0usize;
    let mut start = open + 1;
    let mut alternatives = Vec::new();
    let mut j = open + 1;
    let close = loop {
        if j >= s.len() {
            return Err("invalid glob: unclosed '{'".into());
        }
        match s[j] {
            b'\\' => {
                j += 2;
                continue;
            }
            b'[' => {
                j = skip_class(s, j);
                continue;
            }
            b'{' => depth += 1,
            b'}' if depth == 0 => {
                alternatives.push(&pattern[start..j]);
                break j;
            }
            b'}' => depth -= 1,
            b',' if depth == 0 => {
                alternatives.push(&pattern[start..j]);
                start = j + 1;
            }
            _ => {}
        }
        j += 1;
    };
    let (prefix, suffix) = (&pattern[..open], &pattern[close + 1..]);
    for alternative in alternatives {
        expand(&format!("{prefix}{alternative}{suffix}"), out)?;
    }
    Ok(())
}

/// For a brace-free pattern ending in an unescaped `/**` or `/**/`, the part before it:
/// doublestar lets that tail match nothing at all.
fn zero_tail_stem(pattern: &str) -> Option<&str> {
    let stem = pattern
        .strip_suffix("/**")
        .or_else(|| pattern.strip_suffix("/**/"))?;
    // `a\/**`: the `/` is escaped; doublestar does not treat that tail as zero-length.
    let backslashes = stem.bytes().rev().take_while(|&b| b == b'\\').count();
    (backslashes % 2 == 0).then_some(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        RepoGlob::new(pattern).unwrap().is_match(name)
    }

    #[test]
    fn double_star_alone_matches_everything() {
        assert!(m("**", "a"));
        assert!(m("**", "a/b/c"));
    }

    #[test]
    fn trailing_double_star_matches_zero_components() {
        assert!(m("a/**", "a"));
        assert!(m("a/**", "a/b"));
        assert!(m("a/**", "a/b/c"));
        assert!(!m("a/**", "ab"));
        assert!(!m("a/**", "b/a"));
        assert!(m("a/**/", "a"));
        assert!(m("a/**/b/**", "a/b"));
        assert!(m("{x,a}/**", "a"));
    }

    #[test]
    fn single_star_stays_in_one_component() {
        assert!(m("infra/*", "infra/x"));
        assert!(!m("infra/*", "infra/x/y"));
        assert!(!m("infra/*", "infra"));
        assert!(m("*", "app"));
        assert!(!m("*", "team/app"));
    }

    #[test]
    fn double_star_inside_a_component_is_a_single_star() {
        assert!(m("foo**", "foobar"));
        assert!(!m("foo**", "foo/bar"));
        assert!(m("a/**b", "a/xb"));
        assert!(!m("a/**b", "a/c/b"));
    }

    #[test]
    fn double_star_components_in_the_middle() {
        assert!(m("a/**/b", "a/b"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(m("**/b", "b"));
        assert!(m("**/b", "x/b"));
        assert!(!m("a/**/b", "a"));
    }

    #[test]
    fn question_mark_classes_and_escapes() {
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "a/c"));
        assert!(m("v[0-9]", "v1"));
        assert!(!m("v[!0-9]", "v1"));
        assert!(m("v[^0-9]", "vx"));
        assert!(m("a\\*", "a*"));
        assert!(!m("a\\*", "ab"));
        assert!(!m("a\\/**", "a"));
    }

    #[test]
    fn alternatives_are_expanded_like_doublestar() {
        assert!(m("{team,infra}/app", "infra/app"));
        assert!(!m("{team,infra}/app", "other/app"));
        assert!(m("a/{b,**}", "a/x/y"));
        assert!(m("a/{b,{c,d}}", "a/d"));
        assert!(m("a{,b}", "a"));
        assert!(m("a/{[,]x,y}", "a/,x"));
        assert!(m("{a,b/**}", "b"));
    }

    #[test]
    fn invalid_patterns_are_refused() {
        for bad in ["[", "a[]", "a[!]", "{a", "a}", "a\\", "[a", "{a,b}}"] {
            assert!(RepoGlob::new(bad).is_err(), "{bad} should be invalid");
        }
        let many = "{a,b}".repeat(9); // 512 alternatives
        assert!(RepoGlob::new(&many).unwrap_err().contains("too many"));
    }
}
