//! Error text for logs.

/// An error and its sources, on one line (`reqwest` and `hyper` errors say what failed only
/// in their sources).
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
