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

use crate::load::InputError;
use crate::sections::{Better, CheckSpec, Tolerance};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

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
    fn text(self) -> &'static str {
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

fn value_text(v: Value) -> String {
    match v {
        Value::Num(x) => x.to_string(),
        Value::Never => "never".into(),
        Value::NotApplicable => "n/a".into(),
    }
}

/// Reads a baseline CSV (`point,metric,value`).
pub fn read_baseline(path: &Path) -> Result<BTreeMap<(String, String), Value>, InputError> {
    let bad = |m: String| {
        InputError::Sweep {
        file: path.display().to_string(),
        message: format!("malformed baseline: {m} (expected CSV columns point,metric,value; regenerate with --update)"),
    }
    };
    let text = std::fs::read_to_string(path).map_err(|e| InputError::Sweep {
        file: path.display().to_string(),
        message: format!(
            "cannot read the baseline: {e} (to create it from this run, add --update)"
        ),
    })?;
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = r.headers().map_err(|e| bad(e.to_string()))?.clone();
    if headers.iter().collect::<Vec<_>>() != ["point", "metric", "value"] {
        return Err(bad(format!(
            "header is {:?}",
            headers.iter().collect::<Vec<_>>()
        )));
    }
    let mut out = BTreeMap::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        let metric = &rec[1];
        let v = match &rec[2] {
            "never" => Value::Never,
            "n/a" => Value::NotApplicable,
            text => {
                let x: f64 = text.parse().map_err(|_| {
                    bad(format!(
                        "line {}: value {text:?} is not a number, never or n/a",
                        i + 2
                    ))
                })?;
                // Baselines written before the words: -1 for these.
                if x < 0.0 && NEVER_METRICS.contains(&metric) {
                    Value::Never
                } else if x < 0.0 && NA_METRICS.contains(&metric) {
                    Value::NotApplicable
                } else {
                    Value::Num(x)
                }
            }
        };
        out.insert((rec[0].to_string(), metric.to_string()), v);
    }
    Ok(out)
}

/// Baseline CSV text for `now`, restricted to the checked metrics.
pub fn baseline_csv(
    spec: &CheckSpec,
    now: &BTreeMap<(String, String), Value>,
) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["point", "metric", "value"])?;
    for ((p, m), v) in now {
        if spec.metrics.contains_key(m) {
            w.write_record([p.as_str(), m.as_str(), &value_text(*v)])?;
        }
    }
    Ok(w.into_inner()?)
}

fn fmt_change(b: Option<Value>, v: Value) -> String {
    let (Some(Value::Num(b)), Value::Num(v)) = (b, v) else {
        // Never and n/a have no difference to print.
        return "-".into();
    };
    match b {
        b if b == v => "0".into(),
        b if b != 0.0 => format!("{:+.4} ({:+.2}%)", v - b, (v - b) / b.abs() * 100.0),
        b => format!("{:+.4}", v - b),
    }
}

fn fmt_num(x: Option<Value>) -> String {
    match x {
        None => "-".into(),
        Some(Value::Num(x)) => format!("{x:.6}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        Some(v) => value_text(v),
    }
}

/// The comparison as an aligned text table.
pub fn text_table(rows: &[Row]) -> String {
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.point.clone(),
                r.metric.clone(),
                fmt_num(r.baseline),
                fmt_num(Some(r.now)),
                fmt_change(r.baseline, r.now),
                r.verdict.text().to_string(),
            ]
        })
        .collect();
    let head = ["point", "metric", "baseline", "now", "change", "verdict"];
    let mut width = head.map(str::len);
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, c: &[&str]| {
        for (i, s) in c.iter().enumerate() {
            let _ = write!(out, "{:<w$}  ", s, w = width[i]);
        }
        out.push('\n');
    };
    line(&mut out, &head);
    for c in &cells {
        line(&mut out, &c.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out
}

/// The comparison as a Markdown table (for a CI comment).
pub fn markdown_table(rows: &[Row], gone: &[(String, usize)], title: &str) -> String {
    let mut out = format!(
        "### meshsim check: {title}\n\n{}\n\n| point | metric | baseline | now | change | verdict |\n|---|---|---|---|---|---|\n",
        match failure_summary(rows, gone) {
            None => "All metrics within tolerance.".to_string(),
            Some(s) => format!("**Failed: {s}.**"),
        }
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.point,
            r.metric,
            fmt_num(r.baseline),
            fmt_num(Some(r.now)),
            fmt_change(r.baseline, r.now),
            r.verdict.text()
        );
    }
    if !gone.is_empty() {
        out.push('\n');
        for l in gone_lines(gone).lines() {
            let _ = writeln!(out, "- {l}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_direction_and_tolerance() {
        let spec = CheckSpec {
            metrics: [
                (
                    "lat".to_string(),
                    Tolerance {
                        better: Better::Lower,
                        abs: 0.0,
                        rel: 0.05,
                    },
                ),
                (
                    "del".to_string(),
                    Tolerance {
                        better: Better::Higher,
                        abs: 0.0,
                        rel: 0.0,
                    },
                ),
            ]
            .into_iter()
            .collect(),
        };
        let k = |m: &str| ("p".to_string(), m.to_string());
        let base: BTreeMap<_, _> = [(k("lat"), Value::Num(100.0)), (k("del"), Value::Num(1.0))]
            .into_iter()
            .collect();
        let verdict = |lat: f64, del: f64| {
            let now: BTreeMap<_, _> = [(k("lat"), Value::Num(lat)), (k("del"), Value::Num(del))]
                .into_iter()
                .collect();
            compare(&spec, &base, &now)
                .into_iter()
                .map(|r| r.verdict)
                .collect::<Vec<_>>()
        };
        assert_eq!(verdict(100.0, 1.0), vec![Verdict::Same, Verdict::Same]);
        assert_eq!(
            verdict(104.0, 1.0),
            vec![Verdict::Same, Verdict::WithinTolerance]
        );
        assert_eq!(
            verdict(106.0, 0.99),
            vec![Verdict::Regression, Verdict::Regression]
        );
        assert_eq!(verdict(90.0, 1.0), vec![Verdict::Same, Verdict::Improved]);
    }

    #[test]
    fn never_is_worse_than_any_time_and_n_a_compares_only_with_n_a() {
        let spec = CheckSpec {
            metrics: [(
                "convergence_s".to_string(),
                Tolerance {
                    better: Better::Lower,
                    abs: 0.0,
                    rel: 0.5,
                },
            )]
            .into_iter()
            .collect(),
        };
        let verdict = |b: Value, v: Value| {
            let key = || ("p".to_string(), "convergence_s".to_string());
            let base: BTreeMap<_, _> = [(key(), b)].into_iter().collect();
            let now: BTreeMap<_, _> = [(key(), v)].into_iter().collect();
            compare(&spec, &base, &now)[0].verdict
        };
        use Value::{Never, NotApplicable, Num};
        assert_eq!(verdict(Num(1.0), Never), Verdict::Regression);
        assert_eq!(verdict(Num(1000.0), Never), Verdict::Regression);
        assert_eq!(verdict(Never, Num(1000.0)), Verdict::Improved);
        assert_eq!(verdict(Never, Never), Verdict::Same);
        assert_eq!(verdict(NotApplicable, NotApplicable), Verdict::Same);
        assert_eq!(verdict(NotApplicable, Num(1.0)), Verdict::NotComparable);
        assert_eq!(verdict(Num(1.0), NotApplicable), Verdict::NotComparable);
        // A seed that never converged makes its point never converge.
        assert_eq!(mean(&[Num(1.0), Never, Num(3.0)]), Never);
        assert_eq!(mean(&[Num(1.0), NotApplicable, Num(3.0)]), Num(2.0));
        assert_eq!(mean(&[NotApplicable, NotApplicable]), NotApplicable);
        let never_row = compare(
            &spec,
            &[(("p".into(), "convergence_s".into()), Num(1.0))].into(),
            &[(("p".into(), "convergence_s".into()), Never)].into(),
        );
        let table = text_table(&never_row);
        assert!(table.contains("never") && !table.contains('%') && !table.contains("-1"));
    }

    #[test]
    fn runs_code_never_and_not_applicable_as_words() {
        let mut s = models::RunSummary {
            convergence_s: -1.0,
            delivery_recovered_s: 2.5,
            attacker_delivery_ratio: -1.0,
            ..Default::default()
        };
        let get = |s: &models::RunSummary, m: &str| {
            run_values(s)
                .into_iter()
                .find(|(k, _)| *k == m)
                .map(|(_, v)| v)
        };
        assert_eq!(get(&s, "convergence_s"), Some(Value::Never));
        assert_eq!(get(&s, "delivery_recovered_s"), Some(Value::Num(2.5)));
        assert_eq!(
            get(&s, "attacker_delivery_ratio"),
            Some(Value::NotApplicable)
        );
        // No return or healing: sync convergence does not apply; one that
        // did not converge: never.
        assert_eq!(get(&s, "sync_convergence_s"), Some(Value::NotApplicable));
        s.convergence = vec![Default::default()];
        assert_eq!(get(&s, "sync_convergence_s"), Some(Value::Never));
        assert_eq!(get(&s, "sync_convergence_max_s"), Some(Value::Never));
        s.sync_convergence_s = Some(4.0);
        assert_eq!(get(&s, "sync_convergence_s"), Some(Value::Num(4.0)));
    }
}
