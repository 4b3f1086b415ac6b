//! The results as tables: plain text for the terminal, Markdown for RESULTS.md.

use super::{Better, Results, Row};
use std::fmt::Write as _;

/// A number with about four significant digits; `–` when not measured.
fn num(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    match v {
        Some(v) if v.is_finite() => f(v),
        _ => "–".into(),
    }
}

fn percent(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

fn cells(row: &Row) -> [String; 7] {
    let arrow = match row.better {
        Better::Higher => "↑",
        Better::Lower => "↓",
    };
    [
        row.figure.clone(),
        format!("{} {arrow}", row.unit),
        num(row.portcullis),
        opt(row.distribution, num),
        opt(row.ratio, |r| format!("{}×", num(r))),
        opt(row.ceiling, num),
        opt(row.fraction, percent),
    ]
}

const HEADER: [&str; 7] = [
    "figure",
    "unit",
    "portcullis",
    "distribution",
    "P/D",
    "ceiling",
    "of ceiling",
];

fn section_names(results: &Results) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for row in &results.rows {
        if !names.contains(&row.section) {
            names.push(row.section.clone());
        }
    }
    names
}

fn ceiling_lines(results: &Results) -> Vec<(String, String)> {
    let c = &results.measured.ceilings;
    let n = results.params.small_concurrency;
    [
        ("SHA-256 (sha2, in memory)", &c.sha256_mib_s, "MiB/s"),
        ("write 1 MiB chunks + fsync", &c.write_fsync_mib_s, "MiB/s"),
        ("hash + write + fsync", &c.hash_write_fsync_mib_s, "MiB/s"),
        (
            "small file write+fsync+rename+fsync dir, sequential",
            &c.small_files_sequential_per_s,
            "/s",
        ),
        (
            "small file write+fsync+rename+fsync dir, concurrent",
            &c.small_files_concurrent_per_s,
            "/s",
        ),
        ("loopback HTTP PUT (discarded)", &c.http_put_mib_s, "MiB/s"),
        (
            "loopback HTTP GET (from memory)",
            &c.http_get_mib_s,
            "MiB/s",
        ),
        ("loopback sendfile GET", &c.sendfile_get_mib_s, "MiB/s"),
        (
            "loopback HTTP GET, manifest-sized",
            &c.http_get_small_rps,
            "req/s",
        ),
        (
            "loopback HTTP GET, manifest-sized, p99",
            &c.http_get_small_p99_ms,
            "ms",
        ),
        ("loopback HTTP HEAD", &c.http_head_small_rps, "req/s"),
        ("loopback HTTP HEAD, p99", &c.http_head_small_p99_ms, "ms"),
    ]
    .into_iter()
    .map(|(name, figure, unit)| {
        let name = name.replace("concurrent", &format!("{n}-way"));
        (name, format!("{} {unit}", num(figure.median)))
    })
    .collect()
}

fn target_lines(results: &Results) -> Vec<(String, String, String)> {
    results
        .targets
        .iter()
        .map(|t| {
            let verdict = match t.met {
                Some(true) => "MET",
                Some(false) => "MISSED",
                None => "NOT MEASURED",
            };
            // Ratios read "2.30 × distribution", fractions "85% of ceiling", times "0.42 s".
            let show = |v: f64| {
                if t.measured_as.starts_with('×') || !t.measured_as.starts_with("of") {
                    format!("{} {}", num(v), t.measured_as)
                } else {
                    format!("{} {}", percent(v), t.measured_as)
                }
            };
            let measured = format!("{} (target {})", show(t.measured), show(t.threshold));
            (verdict.to_owned(), t.target.clone(), measured)
        })
        .collect()
}

/// Render plain-text tables (`markdown` false) or Markdown ones.
pub fn render(results: &Results, markdown: bool) -> String {
    let mut out = String::new();
    let p = &results.params;
    let title = format!(
        "Portcullis vs distribution — {} mode, median of {} repetition(s), {} CPUs",
        p.mode, p.repetitions, results.machine.cpus
    );
    let mut tables: Vec<(String, Vec<String>, Vec<Vec<String>>)> = Vec::new();
    tables.push((
        "ceilings".into(),
        vec!["ceiling".into(), "median".into()],
        ceiling_lines(results)
            .into_iter()
            .map(|(a, b)| vec![a, b])
            .collect(),
    ));
    for section in section_names(results) {
        let rows = results
            .rows
            .iter()
            .filter(|r| r.section == section)
            .map(|r| cells(r).to_vec())
            .collect();
        tables.push((
            section,
            HEADER.iter().map(|h| h.to_string()).collect(),
            rows,
        ));
    }
    tables.push((
        "targets (reported, not asserted)".into(),
        vec!["verdict".into(), "target".into(), "measured".into()],
        target_lines(results)
            .into_iter()
            .map(|(a, b, c)| vec![a, b, c])
            .collect(),
    ));
    if markdown {
        let _ = writeln!(out, "{title}\n");
    } else {
        let _ = writeln!(out, "\n{title}");
    }
    for (name, header, rows) in tables {
        if markdown {
            markdown_table(&mut out, &name, &header, &rows);
        } else {
            text_table(&mut out, &name, &header, &rows);
        }
    }
    let d = &results.measured.decision;
    if d.timings.is_empty() {
        let _ = writeln!(out, "\nwasm per-decision cost: {} ({})", d.status, d.note);
    }
    out
}

fn text_table(out: &mut String, name: &str, header: &[String], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let pad = w - c.chars().count();
                // First column left-aligned, numbers right-aligned.
                if i == 0 || header.len() == 3 && i == 1 {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let _ = writeln!(out, "\n== {name} ==");
    let _ = writeln!(out, "{}", line(header));
    for row in rows {
        let _ = writeln!(out, "{}", line(row));
    }
}

fn markdown_table(out: &mut String, name: &str, header: &[String], rows: &[Vec<String>]) {
    let _ = writeln!(out, "### {name}\n");
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let align: Vec<&str> = (0..header.len())
        .map(|i| {
            if i == 0 || header.len() == 3 && i == 1 {
                "---"
            } else {
                "---:"
            }
        })
        .collect();
    let _ = writeln!(out, "| {} |", align.join(" | "));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    let _ = writeln!(out);
}

/// Print the plain-text tables to stdout.
pub fn print(results: &Results) {
    print!("{}", render(results, false));
}
