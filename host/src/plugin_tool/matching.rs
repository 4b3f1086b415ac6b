//! Comparing an expected answer with the actual one: the expectation may be partial (an object
//! names only the fields it cares about, at any depth; lists and scalars must be equal), and
//! the differences are listed field by field.

use serde_json::Value;

/// One field whose actual value is not the expected one.
#[derive(Debug, PartialEq)]
pub struct Difference {
    /// The field's path, e.g. `identity.groups`.
    pub path: String,
    /// What the expectation says.
    pub expected: Value,
    /// What the plugin answered (null when absent).
    pub actual: Value,
}

/// The fields of `actual` that differ from those `expected` names.
pub fn differences(expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut found = Vec::new();
    compare("", expected, actual, &mut found);
    found
}

fn compare(path: &str, expected: &Value, actual: &Value, found: &mut Vec<Difference>) {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, want) in want {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                compare(&path, want, have.get(key).unwrap_or(&Value::Null), found);
            }
        }
        (want, have) if want == have => {}
        (want, have) => found.push(Difference {
            path: path.to_owned(),
            expected: want.clone(),
            actual: have.clone(),
        }),
    }
}

/// The differences as a diff: `-` the expected value, `+` the actual one.
pub fn render(differences: &[Difference]) -> String {
    let mut out = String::from("--- expected\n+++ actual\n");
    for d in differences {
        out += &format!("- {}: {}\n", d.path, d.expected);
        out += &format!("+ {}: {}\n", d.path, d.actual);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_partial_expectation_matches() {
        let actual = json!({"decision": "authenticated",
                            "identity": {"username": "alice", "groups": ["a", "b"]}});
        assert!(differences(&json!({"decision": "authenticated"}), &actual).is_empty());
        assert!(differences(&json!({"identity": {"username": "alice"}}), &actual).is_empty());
    }

    #[test]
    fn differences_are_listed_by_path() {
        let actual = json!({"decision": "deny", "reason": "no",
                            "identity": {"groups": ["a", "b"]}});
        let found = differences(
            &json!({"decision": "allow", "identity": {"groups": ["a"]}, "failure": "trap"}),
            &actual,
        );
        let mut paths: Vec<&str> = found.iter().map(|d| d.path.as_str()).collect();
        paths.sort();
        assert_eq!(paths, ["decision", "failure", "identity.groups"]);
        let failure = found.iter().find(|d| d.path == "failure").unwrap();
        assert_eq!(failure.actual, Value::Null);
        let text = render(&found);
        assert!(
            text.contains("- decision: \"allow\"\n+ decision: \"deny\"\n"),
            "{text}"
        );
    }
}
