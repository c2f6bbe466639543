//! The baseline CSV (`point,metric,value`): read before the runs (a
//! malformed one is bad input), written by `--update`.

use super::{value_text, Value, NA_METRICS, NEVER_METRICS};
use crate::load::InputError;
use crate::sections::CheckSpec;
use std::collections::BTreeMap;
use std::path::Path;

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
