//! `meshsim check`: compare an experiment's metrics with a committed baseline.
//!
//! The tolerances are the `[check]` section ([`crate::sections::CheckSpec`]).
//!
//! The baseline is a CSV with columns `point,metric,value`: the mean of
//! each checked metric over the seeds of each sweep point. Runs are
//! deterministic, so an unchanged tree reproduces it exactly.
//!
//! Some metrics have no number in some runs (see [`Value`]): a time until
//! something that did not happen by the end (`convergence_s` = -1) is
//! `never`, worse than any time; a metric that does not apply (no attacker
//! peers, no sync event) is `n/a`. The baseline stores these words.
//!
//! - this file: metric values ([`Value`]) of runs and points, and the
//!   validation of the `[check]` section.
//! - `compare`: each value against the baseline ([`compare`], [`Verdict`]).
//! - `baseline`: the baseline CSV, read and written.
//! - `tables`: the comparison as a text and a Markdown table.

mod baseline;
mod compare;
mod tables;

pub use baseline::{baseline_csv, read_baseline};
pub use compare::{compare, failure_summary, gone_lines, gone_points, Row, Verdict};
pub use tables::{markdown_table, text_table};

use crate::load::InputError;
use crate::sections::{Better, CheckSpec};
use crate::sweep::RunRecord;
use std::collections::BTreeMap;

/// A metric's value at a point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A number (the mean over the point's seeds).
    Num(f64),
    /// A time until something that did not happen by the end (in a run of
    /// any of the point's seeds): worse than any time.
    Never,
    /// The metric does not apply (no peers of another behaviour, no return
    /// or healing to sync after).
    NotApplicable,
}

/// Times until something happens, -1 (an empty cell for the `sync_` ones)
/// when it did not happen by the end: lower is better, and never is worst.
pub const NEVER_METRICS: &[&str] = &[
    "convergence_s",
    "delivery_recovered_s",
    "sync_convergence_s",
    "sync_convergence_max_s",
];

/// Metrics that are -1 when they do not apply (no peers of another
/// behaviour; no probe messages).
pub const NA_METRICS: &[&str] = &[
    "attacker_delivery_ratio",
    "attacker_bytes_sent_per_peer",
    "attacker_isolated_s_mean",
    "probe_full_delivery_ratio",
];

/// The metric columns of `runs.csv` for one run, as values: -1 or an empty
/// cell becomes [`Value::Never`] or [`Value::NotApplicable`].
pub fn run_values(s: &models::RunSummary) -> Vec<(&'static str, Value)> {
    crate::output::run_columns("", s)
        .into_iter()
        .filter_map(|(k, v)| {
            let x = v.parse::<f64>().ok();
            let value = if NEVER_METRICS.contains(&k) {
                match x {
                    // `sync_convergence_*` are empty also without any
                    // return or healing to converge after.
                    None if s.convergence.is_empty() => Value::NotApplicable,
                    Some(x) if x >= 0.0 => Value::Num(x),
                    _ => Value::Never,
                }
            } else if NA_METRICS.contains(&k) {
                match x? {
                    x if x < 0.0 => Value::NotApplicable,
                    x => Value::Num(x),
                }
            } else {
                Value::Num(x?)
            };
            Some((k, value))
        })
        .collect()
}

/// The value of a point from those of its runs: never if any run never got
/// there, else the mean of the runs where the metric applies.
pub fn mean(values: &[Value]) -> Value {
    if values.contains(&Value::Never) {
        return Value::Never;
    }
    let nums: Vec<f64> = values
        .iter()
        .filter_map(|v| match v {
            Value::Num(x) => Some(*x),
            _ => None,
        })
        .collect();
    if nums.is_empty() {
        Value::NotApplicable
    } else {
        Value::Num(nums.iter().sum::<f64>() / nums.len() as f64)
    }
}

/// Metric columns of `runs.csv` that can be checked.
pub fn checkable_metrics() -> Vec<&'static str> {
    crate::output::run_columns("x", &models::RunSummary::default())
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| {
            !matches!(
                *k,
                "run_id" | "experiment" | "seed" | "trace_hash" | "wall_seconds"
            )
        })
        .collect()
}

/// Each metric's value at each point (see [`mean`]), from the runs
/// of the points in `labels`.
pub fn point_means(
    records: &[RunRecord],
    labels: &BTreeMap<usize, String>,
) -> BTreeMap<(String, String), Value> {
    let mut runs: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for r in records {
        let Some(point) = labels.get(&r.point_id) else {
            continue;
        };
        for (k, v) in run_values(&r.summary) {
            runs.entry((point.clone(), k.to_string()))
                .or_default()
                .push(v);
        }
    }
    runs.into_iter().map(|(k, vs)| (k, mean(&vs))).collect()
}

/// Checks the section against the metrics `runs.csv` has.
pub fn validate(label: &str, spec: &CheckSpec, known: &[&str]) -> Result<(), InputError> {
    if spec.metrics.is_empty() {
        return Err(InputError::Key {
            file: label.into(),
            key: "check.metrics".into(),
            message: "name at least one metric to check, e.g. [check.metrics.delivery_ratio] better = \"higher\"".into(),
        });
    }
    for (m, t) in &spec.metrics {
        if !known.contains(&m.as_str()) {
            return Err(InputError::Key {
                file: label.into(),
                key: format!("check.metrics.{m}"),
                message: format!("unknown metric; one of: {}", known.join(", ")),
            });
        }
        if t.better == Better::Higher && NEVER_METRICS.contains(&m.as_str()) {
            return Err(InputError::Key {
                file: label.into(),
                key: format!("check.metrics.{m}.better"),
                message: "\"higher\" is not allowed: this is a time until something happens (never when it did not), so only better = \"lower\"".into(),
            });
        }
        for (k, v) in [("abs", t.abs), ("rel", t.rel)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(InputError::Key {
                    file: label.into(),
                    key: format!("check.metrics.{m}.{k}"),
                    message: format!("{v} is not allowed: a finite number >= 0"),
                });
            }
        }
    }
    Ok(())
}

fn value_text(v: Value) -> String {
    match v {
        Value::Num(x) => x.to_string(),
        Value::Never => "never".into(),
        Value::NotApplicable => "n/a".into(),
    }
}

#[cfg(test)]
mod tests;
