//! One `[[sweep.axis]]`: its key (or zipped keys) and the values it takes
//! (`values`, a linear `range` or a geometric `log` range).

use super::set_err;
use crate::load::InputError;
use crate::sections::AxisSpec;

fn as_f64(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// The list of assignments each axis contributes.
pub(super) fn axis_values(
    label: &str,
    i: usize,
    a: &AxisSpec,
) -> Result<(Vec<String>, Vec<Vec<toml::Value>>), InputError> {
    let at = format!("sweep.axis[{i}]");
    let keys: Vec<String> = match (&a.key, &a.keys) {
        (Some(k), None) => vec![k.clone()],
        (None, Some(ks)) if !ks.is_empty() => ks.clone(),
        _ => {
            return Err(set_err(
                label,
                &at,
                "give exactly one of `key = \"a.b\"` or `keys = [\"a.b\", ...]`",
            ))
        }
    };
    let given = [a.values.is_some(), a.range.is_some(), a.log.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if given != 1 {
        return Err(set_err(
            label,
            &at,
            "give exactly one of `values`, `range` or `log`",
        ));
    }
    let single: Vec<toml::Value> = if let Some(vs) = &a.values {
        if vs.is_empty() {
            return Err(set_err(
                label,
                &format!("{at}.values"),
                "at least one value",
            ));
        }
        if keys.len() > 1 {
            let mut out = Vec::new();
            for (j, v) in vs.iter().enumerate() {
                match v {
                    toml::Value::Array(items) if items.len() == keys.len() => {
                        out.push(items.clone())
                    }
                    other => {
                        return Err(set_err(
                            label,
                            &format!("{at}.values[{j}]"),
                            format!(
                                "{other} is not an array of {} values (one per key)",
                                keys.len()
                            ),
                        ))
                    }
                }
            }
            return Ok((keys, out));
        }
        vs.clone()
    } else if let Some(r) = &a.range {
        let (Some(start), Some(stop), Some(step)) =
            (as_f64(&r.start), as_f64(&r.stop), as_f64(&r.step))
        else {
            return Err(set_err(
                label,
                &format!("{at}.range"),
                "start, stop and step must be numbers",
            ));
        };
        if !(step > 0.0 && stop >= start && ((stop - start) / step) < 100_000.0) {
            return Err(set_err(
                label,
                &format!("{at}.range"),
                format!("needs step > 0 and stop >= start (at most 100000 values), got start = {start}, stop = {stop}, step = {step}"),
            ));
        }
        let ints = matches!(
            (&r.start, &r.stop, &r.step),
            (
                toml::Value::Integer(_),
                toml::Value::Integer(_),
                toml::Value::Integer(_)
            )
        );
        let n = ((stop - start) / step + 1e-9).floor() as usize + 1;
        (0..n)
            .map(|k| {
                let x = start + step * k as f64;
                if ints {
                    toml::Value::Integer(x.round() as i64)
                } else {
                    toml::Value::Float(x)
                }
            })
            .collect()
    } else if let Some(l) = &a.log {
        if !(l.start > 0.0 && l.stop > 0.0 && l.points >= 2 && l.points <= 100_000) {
            return Err(set_err(
                label,
                &format!("{at}.log"),
                format!(
                    "needs start > 0, stop > 0 and 2 <= points <= 100000, got {}, {}, {}",
                    l.start, l.stop, l.points
                ),
            ));
        }
        let (a0, a1) = (l.start.ln(), l.stop.ln());
        let mut vals: Vec<toml::Value> = Vec::new();
        for k in 0..l.points {
            let x = (a0 + (a1 - a0) * f64::from(k) / f64::from(l.points - 1)).exp();
            let v = if l.integer {
                toml::Value::Integer(x.round() as i64)
            } else {
                toml::Value::Float(x)
            };
            if !vals.contains(&v) {
                vals.push(v);
            }
        }
        vals
    } else {
        unreachable!("checked above")
    };
    Ok((keys, single.into_iter().map(|v| vec![v]).collect()))
}
