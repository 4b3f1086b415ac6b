//! The targets, checked against the medians and reported as MET or MISSED — never
//! asserted: a missed target does not fail the run.

use super::{authorized_ratio, credential_ratio, Row};
use crate::registry::Variant;
use crate::workloads::credentials::Credentials;
use crate::workloads::pull_through::PullThrough;
use crate::workloads::scale::Scale;
use crate::workloads::{VariantResult, Workload};
use serde::Serialize;

/// One target and how the run fared.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    /// The target, as the issue states it.
    pub target: String,
    /// The measured value the target is about.
    pub measured: f64,
    /// What `measured` is (`× distribution`, `of ceiling`, …).
    pub measured_as: &'static str,
    /// The threshold.
    pub threshold: f64,
    /// Whether it was met; null when the figure could not be computed.
    pub met: Option<bool>,
}

/// Which row of a variant's table a target reads.
#[derive(Clone, Copy)]
enum Figure {
    /// The workload's own row.
    Main,
    /// The workload's row with this suffix (`: server CPU`).
    Of(&'static str),
    /// A row of its own.
    Named(&'static str),
}

#[derive(Clone, Copy)]
enum Measure {
    /// portcullis / distribution ≥ threshold.
    RatioAtLeast,
    /// portcullis / distribution ≤ threshold.
    RatioAtMost,
    /// Fraction of the ceiling ≥ threshold.
    FractionAtLeast,
}

fn verdict(value: f64, at_least: bool, threshold: f64) -> Option<bool> {
    value.is_finite().then_some(if at_least {
        value >= threshold
    } else {
        value <= threshold
    })
}

/// Check every target.
pub fn check(
    variants: &[VariantResult],
    credentials: &Credentials,
    scale: &Scale,
    pull_through: &PullThrough,
    rows: &[Row],
) -> Vec<TargetCheck> {
    let mut checks = Vec::new();
    for variant in variants {
        let v = variant.variant.name();
        let mut add =
            |workload: Workload, figure: Figure, measure: Measure, threshold: f64, text: String| {
                let title = match (figure, variant.workload(workload)) {
                    (Figure::Named(f), _) => f.to_owned(),
                    (Figure::Main, Some(w)) => w.title.clone(),
                    (Figure::Of(suffix), Some(w)) => format!("{}{suffix}", w.title),
                    (_, None) => return,
                };
                let row = rows.iter().find(|r| r.section == v && r.figure == title);
                let (value, at_least, measured_as) = match measure {
                    Measure::RatioAtLeast => (row.and_then(|r| r.ratio), true, "× distribution"),
                    Measure::RatioAtMost => (row.and_then(|r| r.ratio), false, "× distribution"),
                    Measure::FractionAtLeast => (row.and_then(|r| r.fraction), true, "of ceiling"),
                };
                let value = value.unwrap_or(f64::NAN);
                checks.push(TargetCheck {
                    target: format!("{v}: {text}"),
                    measured: value,
                    measured_as,
                    threshold,
                    met: verdict(value, at_least, threshold),
                });
            };
        for push in [Workload::PushMonolithic, Workload::PushChunked] {
            let name = if push == Workload::PushMonolithic {
                "monolithic"
            } else {
                "chunked"
            };
            add(
                push,
                Figure::Main,
                Measure::FractionAtLeast,
                0.8,
                format!("blob push ({name}) ≥ 80% of hash+write+fsync ceiling"),
            );
            add(
                push,
                Figure::Main,
                Measure::RatioAtLeast,
                2.0,
                format!("blob push ({name}) ≥ 2× distribution"),
            );
        }
        add(
            Workload::Pull,
            Figure::Main,
            Measure::FractionAtLeast,
            0.95,
            "pull ≥ 95% of sendfile ceiling".into(),
        );
        add(
            Workload::Pull,
            Figure::Of(": server CPU"),
            Measure::RatioAtMost,
            0.5,
            "pull server CPU per GiB ≤ ½ of distribution's".into(),
        );
        for (workload, what) in [
            (Workload::ManifestGet, "manifest GET by tag"),
            (Workload::BlobHead, "blob HEAD"),
        ] {
            add(
                workload,
                Figure::Main,
                Measure::FractionAtLeast,
                0.85,
                format!("{what} ≥ 85% of the loopback ceiling"),
            );
        }
        add(
            Workload::SmallSequential,
            Figure::Main,
            Measure::FractionAtLeast,
            0.5,
            "sequential small pushes ≥ 50% of the durable small-file commit ceiling".into(),
        );
        add(
            Workload::ManifestPut,
            Figure::Main,
            Measure::RatioAtLeast,
            3.0,
            "16-way manifest PUT ≥ 3× distribution".into(),
        );
        if variant.variant == Variant::Anonymous {
            add(
                Workload::ManifestGet,
                Figure::Main,
                Measure::RatioAtLeast,
                15.0,
                "anonymous manifest GET ≥ 15× distribution".into(),
            );
        }
        add(
            Workload::SmallConcurrent,
            Figure::Main,
            Measure::RatioAtLeast,
            6.0,
            "16-way small pushes ≥ 6× distribution".into(),
        );
        add(
            Workload::ManifestGet,
            Figure::Named("RSS idle"),
            Measure::RatioAtMost,
            1.0,
            "idle RSS no higher than distribution's".into(),
        );
    }
    let authorized = authorized_ratio(variants);
    checks.push(TargetCheck {
        target: "htpasswd: authorized manifest GET ≥ 85% of Portcullis's anonymous rate".into(),
        measured: authorized,
        measured_as: "of anonymous",
        threshold: 0.85,
        met: verdict(authorized, true, 0.85),
    });
    for curve in &scale.curves {
        let measured = curve.growth();
        checks.push(TargetCheck {
            target: format!(
                "scale: {} costs ≤ 1.5× as much at the largest size as at the smallest",
                curve.figure
            ),
            measured,
            measured_as: "× the smallest size's cost",
            threshold: 1.5,
            met: verdict(measured, false, 1.5),
        });
    }
    if !scale.curves.is_empty() {
        let measured = scale.startup_s.median;
        checks.push(TargetCheck {
            target: format!(
                "scale: ready in ≤ 1 s with {} repositories and {} tags",
                scale.store.0, scale.store.1
            ),
            measured,
            measured_as: "s",
            threshold: 1.0,
            met: verdict(measured, false, 1.0),
        });
    }
    if !pull_through.direct_mib_s.samples.is_empty() {
        let measured = pull_through.first_over_direct();
        checks.push(TargetCheck {
            target: "pull-through: a first pull through the cache ≥ 80% of a direct pull".into(),
            measured,
            measured_as: "of a direct pull",
            threshold: 0.8,
            met: verdict(measured, true, 0.8),
        });
    }
    for kind in credentials
        .kinds
        .iter()
        .filter(|k| k.first_use_ms.is_some())
    {
        let measured = credential_ratio(credentials, kind.kind);
        checks.push(TargetCheck {
            target: format!(
                "credentials: manifest GET with {} ≥ 85% of the anonymous rate",
                kind.kind
            ),
            measured,
            measured_as: "of anonymous",
            threshold: 0.85,
            met: verdict(measured, true, 0.85),
        });
    }
    checks
}
