//! The per-decision WebAssembly cost (warm and fresh instance), measured by the host's own
//! `cargo bench -p portcullis --bench decision`. `scripts/bench` runs that bench when it
//! exists and hands its output here (`--decision FILE`); this module picks the timings out.
//!
//! The bench writes `target/bench/decision.json` (`{"decision_warm_us": 1.2, …}`: the key's
//! last `_` part is the unit). Plain text output is understood too: per line a name and a
//! time, Criterion's `NAME time: [LOW MID HIGH]` (the middle value is taken) or
//! `NAME ... VALUE UNIT` with UNIT one of ns, µs/us, ms, s (the last such pair on the line).
//! HOOK: when the bench is absent (or was not run, as in smoke mode) the figures are
//! reported as missing, with the reason.

use serde::Serialize;
use std::path::Path;

/// The decision bench's figures, or why there are none.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// `measured`, `missing` (no output given or found) or `unparsed`.
    pub status: &'static str,
    /// Where the output came from, or what to do to get it.
    pub note: String,
    /// Named timings, nanoseconds.
    pub timings: Vec<Timing>,
}

/// One named timing.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    /// The bench's name for it (e.g. `decision/warm`).
    pub name: String,
    /// Nanoseconds per decision.
    pub ns: f64,
}

/// Read the decision bench's output from `path`, if given.
pub fn read(path: Option<&Path>) -> Decision {
    let Some(path) = path else {
        return Decision {
            status: "missing",
            note: "not run: `scripts/bench` runs `cargo bench -p portcullis --bench decision` \
                   (full mode, when host/benches/decision.rs exists) and passes \
                   --decision target/bench/decision.json"
                .into(),
            timings: Vec::new(),
        };
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return Decision {
            status: "missing",
            note: format!("{} could not be read", path.display()),
            timings: Vec::new(),
        };
    };
    let timings: Vec<Timing> = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => map
            .iter()
            .filter_map(|(key, value)| parse_json_entry(key, value.as_f64()?))
            .collect(),
        _ => text.lines().filter_map(parse_line).collect(),
    };
    Decision {
        status: if timings.is_empty() {
            "unparsed"
        } else {
            "measured"
        },
        note: format!("from {}", path.display()),
        timings,
    }
}

fn unit_ns(unit: &str) -> Option<f64> {
    match unit {
        "ns" => Some(1.0),
        "µs" | "us" | "μs" => Some(1e3),
        "ms" => Some(1e6),
        "s" => Some(1e9),
        _ => None,
    }
}

/// `{"decision_warm_us": 1.2}`: the unit is the key's suffix.
fn parse_json_entry(key: &str, value: f64) -> Option<Timing> {
    let (name, unit) = key.rsplit_once('_')?;
    Some(Timing {
        name: name.replace('_', " "),
        ns: value * unit_ns(unit)?,
    })
}

fn parse_line(line: &str) -> Option<Timing> {
    if let Some((name, rest)) = line.split_once("time:") {
        // Criterion: NAME time: [LOW U MID U HIGH U]
        let name = name.trim();
        let numbers: Vec<&str> = rest
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split_whitespace()
            .collect();
        if numbers.len() == 6 && !name.is_empty() {
            let ns = numbers[2].parse::<f64>().ok()? * unit_ns(numbers[3])?;
            return Some(Timing {
                name: name.to_owned(),
                ns,
            });
        }
    }
    // Anything else, libtest's `test NAME ... bench: 1,234 ns/iter (+/- 5)` included.
    let words: Vec<&str> = line.split_whitespace().collect();
    let (index, ns) = words.windows(2).enumerate().rev().find_map(|(i, pair)| {
        let value: f64 = pair[0].replace(',', "").parse().ok()?;
        let unit = pair[1].split('/').next()?.trim_end_matches(',');
        Some((i, value * unit_ns(unit)?))
    })?;
    let name_words: Vec<&str> = words[..index]
        .iter()
        .copied()
        .filter(|w| !matches!(*w, "..." | "bench:"))
        .collect();
    let name_words = match name_words.split_first() {
        Some((&"test", rest)) => rest,
        _ => &name_words[..],
    };
    let name = name_words.join(" ").trim_end_matches(':').trim().to_owned();
    (!name.is_empty()).then_some(Timing { name, ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criterion_lines() {
        let t =
            parse_line("decision/warm           time:   [1.2000 µs 1.2500 µs 1.3000 µs]").unwrap();
        assert_eq!(t.name, "decision/warm");
        assert!((t.ns - 1250.0).abs() < 1e-6);
    }

    #[test]
    fn plain_lines() {
        let t = parse_line("fresh instance: 35.5 us per decision").unwrap();
        assert_eq!(t.name, "fresh instance");
        assert!((t.ns - 35_500.0).abs() < 1e-6);
        assert!(parse_line("Finished `bench` profile [optimized]").is_none());
        let t = parse_line("test warm ... bench:       1,234.50 ns/iter (+/- 12)").unwrap();
        assert_eq!(t.name, "warm");
        assert!((t.ns - 1234.5).abs() < 1e-6);
    }

    #[test]
    fn json_entries() {
        let t = parse_json_entry("decision_warm_us", 1.5).unwrap();
        assert_eq!(t.name, "decision warm");
        assert!((t.ns - 1500.0).abs() < 1e-6);
        assert!(parse_json_entry("count", 3.0).is_none());
    }

    #[test]
    fn missing() {
        assert_eq!(read(None).status, "missing");
    }
}
