//! `meshsim check`: compare an experiment's metrics with a committed baseline.
//!
//! ```toml
//! [check.metrics.delivery_ratio]
//! better = "higher"   # a fall is a regression
//! abs = 0.0           # allowed worsening, absolute
//! [check.metrics.latency_ms_p99]
//! better = "lower"
//! rel = 0.05          # may grow by at most 5%
//! ```
//!
//! The baseline is a CSV with columns `point,metric,value`: the mean of
//! each checked metric over the seeds of each sweep point. Runs are
//! deterministic, so an unchanged tree reproduces it exactly.

use crate::load::InputError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The `[check]` section.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Tolerance per metric (a `runs.csv` column).
    #[serde(default)]
    pub metrics: BTreeMap<String, Tolerance>,
}

/// Which direction is better, and how much worse is still acceptable.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tolerance {
    /// `higher` or `lower`.
    pub better: Better,
    /// Allowed worsening, absolute.
    #[serde(default)]
    pub abs: f64,
    /// Allowed worsening, relative to the baseline (0.05 = 5%).
    #[serde(default)]
    pub rel: f64,
}

/// Direction of improvement.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Bigger is better (delivery).
    Higher,
    /// Smaller is better (latency, convergence time).
    Lower,
}

/// One compared value.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Point label.
    pub point: String,
    /// Metric.
    pub metric: String,
    /// Baseline value (None: not in the baseline).
    pub baseline: Option<f64>,
    /// Value now.
    pub now: f64,
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
}

impl Verdict {
    fn text(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::Improved => "improved",
            Verdict::WithinTolerance => "ok (within tolerance)",
            Verdict::Regression => "REGRESSION",
            Verdict::Missing => "NOT IN BASELINE",
        }
    }

    /// Does this verdict fail the check?
    pub fn fails(self) -> bool {
        matches!(self, Verdict::Regression | Verdict::Missing)
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

/// Compares `now` (point, metric) -> value with the baseline.
pub fn compare(
    spec: &CheckSpec,
    baseline: &BTreeMap<(String, String), f64>,
    now: &BTreeMap<(String, String), f64>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for ((point, metric), &v) in now {
        let Some(t) = spec.metrics.get(metric) else {
            continue;
        };
        let b = baseline.get(&(point.clone(), metric.clone())).copied();
        let verdict = match b {
            None => Verdict::Missing,
            Some(b) if b == v || (b.is_nan() && v.is_nan()) => Verdict::Same,
            Some(b) => {
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
        };
        rows.push(Row {
            point: point.clone(),
            metric: metric.clone(),
            baseline: b,
            now: v,
            verdict,
        });
    }
    rows
}

/// Reads a baseline CSV (`point,metric,value`).
pub fn read_baseline(path: &Path) -> Result<BTreeMap<(String, String), f64>, InputError> {
    let bad = |m: String| {
        InputError::Sweep {
        file: path.display().to_string(),
        message: format!("malformed baseline: {m} (expected CSV columns point,metric,value; regenerate with --update)"),
    }
    };
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Read {
        file: path.to_path_buf(),
        source,
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
        let v: f64 = rec[2].parse().map_err(|_| {
            bad(format!(
                "line {}: value {:?} is not a number",
                i + 2,
                &rec[2]
            ))
        })?;
        out.insert((rec[0].to_string(), rec[1].to_string()), v);
    }
    Ok(out)
}

/// Baseline CSV text for `now`, restricted to the checked metrics.
pub fn baseline_csv(
    spec: &CheckSpec,
    now: &BTreeMap<(String, String), f64>,
) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["point", "metric", "value"])?;
    for ((p, m), v) in now {
        if spec.metrics.contains_key(m) {
            w.write_record([p.as_str(), m.as_str(), &v.to_string()])?;
        }
    }
    Ok(w.into_inner()?)
}

fn fmt_change(b: Option<f64>, v: f64) -> String {
    match b {
        None => "-".into(),
        Some(b) if b == v => "0".into(),
        Some(b) if b != 0.0 => format!("{:+.4} ({:+.2}%)", v - b, (v - b) / b.abs() * 100.0),
        Some(b) => format!("{:+.4}", v - b),
    }
}

fn fmt_num(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| {
        format!("{x:.6}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    })
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
pub fn markdown_table(rows: &[Row], title: &str) -> String {
    let failed = rows.iter().filter(|r| r.verdict.fails()).count();
    let mut out = format!(
        "### meshsim check: {title}\n\n{}\n\n| point | metric | baseline | now | change | verdict |\n|---|---|---|---|---|---|\n",
        if failed == 0 {
            "All metrics within tolerance.".to_string()
        } else {
            format!("**{failed} regression(s).**")
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
        let base: BTreeMap<_, _> = [(k("lat"), 100.0), (k("del"), 1.0)].into_iter().collect();
        let verdict = |lat: f64, del: f64| {
            let now: BTreeMap<_, _> = [(k("lat"), lat), (k("del"), del)].into_iter().collect();
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
}
