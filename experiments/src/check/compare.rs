//! Each checked value against the baseline: a [`Verdict`] by the metric's
//! direction and tolerance, and what failed.

use super::Value;
use crate::sections::{Better, CheckSpec, Tolerance};
use std::collections::BTreeMap;

/// One compared value.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Point label.
    pub point: String,
    /// Metric.
    pub metric: String,
    /// Baseline value (None: not in the baseline).
    pub baseline: Option<Value>,
    /// Value now.
    pub now: Value,
    /// Verdict.
    pub verdict: Verdict,
}

/// Outcome of one comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Identical to the baseline.
    Same,
    /// Better than the baseline.
    Improved,
    /// Worse, but within tolerance.
    WithinTolerance,
    /// Worse than allowed.
    Regression,
    /// The baseline has no value for it.
    Missing,
    /// The metric applies on one side only (n/a against a number).
    NotComparable,
}

impl Verdict {
    pub(super) fn text(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::Improved => "improved",
            Verdict::WithinTolerance => "ok (within tolerance)",
            Verdict::Regression => "REGRESSION",
            Verdict::Missing => "NOT IN BASELINE",
            Verdict::NotComparable => "NOT COMPARABLE (n/a on one side)",
        }
    }

    /// Does this verdict fail the check?
    pub fn fails(self) -> bool {
        matches!(
            self,
            Verdict::Regression | Verdict::Missing | Verdict::NotComparable
        )
    }
}

fn verdict(t: &Tolerance, b: Value, v: Value) -> Verdict {
    use Value::{Never, NotApplicable, Num};
    match (b, v) {
        _ if b == v => Verdict::Same,
        (Num(b), Num(v)) if b.is_nan() && v.is_nan() => Verdict::Same,
        (NotApplicable, _) | (_, NotApplicable) => Verdict::NotComparable,
        // Never is worse than any time (`validate` allows only "lower" for these).
        (Never, _) => Verdict::Improved,
        (_, Never) => Verdict::Regression,
        (Num(b), Num(v)) => {
            let worse_by = match t.better {
                Better::Higher => b - v,
                Better::Lower => v - b,
            };
            let allowed = t.abs + t.rel * b.abs();
            if worse_by <= 0.0 {
                Verdict::Improved
            } else if worse_by <= allowed + 1e-12 {
                Verdict::WithinTolerance
            } else {
                Verdict::Regression
            }
        }
    }
}

/// Compares `now` (point, metric) -> value with the baseline.
pub fn compare(
    spec: &CheckSpec,
    baseline: &BTreeMap<(String, String), Value>,
    now: &BTreeMap<(String, String), Value>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for ((point, metric), &v) in now {
        let Some(t) = spec.metrics.get(metric) else {
            continue;
        };
        let b = baseline.get(&(point.clone(), metric.clone())).copied();
        rows.push(Row {
            point: point.clone(),
            metric: metric.clone(),
            baseline: b,
            now: v,
            verdict: b.map_or(Verdict::Missing, |b| verdict(t, b, v)),
        });
    }
    rows
}

/// Points of the baseline that `now` does not have (the sweep lost them),
/// with how many baseline values each has.
pub fn gone_points(
    baseline: &BTreeMap<(String, String), Value>,
    now: &BTreeMap<(String, String), Value>,
) -> Vec<(String, usize)> {
    let mut gone: BTreeMap<&str, usize> = BTreeMap::new();
    for (p, _) in baseline.keys() {
        if !now.keys().any(|(q, _)| q == p) {
            *gone.entry(p.as_str()).or_default() += 1;
        }
    }
    gone.into_iter().map(|(p, n)| (p.to_string(), n)).collect()
}

/// What failed, e.g. "2 metric(s) regressed, 1 value(s) not in the
/// baseline (new points or metrics)"; None when nothing did.
pub fn failure_summary(rows: &[Row], gone: &[(String, usize)]) -> Option<String> {
    let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count();
    let parts: Vec<String> = [
        (count(Verdict::Regression), "metric(s) regressed"),
        (
            count(Verdict::Missing),
            "value(s) not in the baseline (new points or metrics)",
        ),
        (
            count(Verdict::NotComparable),
            "value(s) not comparable (n/a on one side only)",
        ),
        (gone.len(), "baseline point(s) no longer in the sweep"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// One line per baseline point that is no longer in the sweep.
pub fn gone_lines(gone: &[(String, usize)]) -> String {
    gone.iter()
        .map(|(p, n)| {
            format!("baseline point {p}: not in the sweep any more ({n} baseline value(s) not checked)\n")
        })
        .collect()
}
