//! A sweep expanded into its [`Plan`]: the parameter points (every
//! combination of the axes' values, or a random sample of them) and the
//! runs (every point x its seeds).

use super::axis::axis_values;
use super::set_err;
use crate::load::{self, InputError, Loaded};
use crate::sections::{SweepMode, SweepSpec};
use models::Experiment;
use rand::seq::SliceRandom;

/// One parameter point.
#[derive(Clone, Debug)]
pub struct Point {
    /// Index in the plan.
    pub id: usize,
    /// (dotted key, value) assignments.
    pub assignments: Vec<(String, toml::Value)>,
    /// The experiment at this point.
    pub exp: Experiment,
}

impl Point {
    /// `FILE` for the base point, else `FILE (sweep point key=value,...)`:
    /// where an error about this point comes from.
    pub fn source(&self, file: &str) -> String {
        if self.assignments.is_empty() {
            file.to_string()
        } else {
            format!("{file} (sweep point {})", self.label())
        }
    }

    /// `key=value,key=value`, for tables and messages.
    pub fn label(&self) -> String {
        if self.assignments.is_empty() {
            return "base".into();
        }
        self.assignments
            .iter()
            .map(|(k, v)| format!("{k}={}", value_str(v)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A value as written in a CSV cell or `--set`.
pub fn value_str(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One run of a sweep.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// `p<point>-s<k>`.
    pub run_id: String,
    /// Index into the plan's points.
    pub point: usize,
    /// Seed.
    pub seed: u64,
}

/// A sweep expanded into points and runs.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The loaded file.
    pub loaded: Loaded,
    /// Valid points.
    pub points: Vec<Point>,
    /// Points dropped as invalid (with why), when `skip_invalid`.
    pub skipped: Vec<(String, String)>,
    /// Every run, in order.
    pub runs: Vec<RunSpec>,
    /// Swept keys, in axis order.
    pub param_keys: Vec<String>,
}

/// Refuses a `--set` of a swept key (or of a key inside one, or of a table
/// that holds one): the axis's values would replace it at every point.
pub fn refuse_swept_sets(loaded: &Loaded, sets: &[String]) -> Result<(), InputError> {
    let Some(spec) = &loaded.sweep else {
        return Ok(());
    };
    for arg in sets {
        let (parts, value) = load::split_set(arg)?;
        for (i, a) in spec.axes.iter().enumerate() {
            let keys = a.key.iter().chain(a.keys.iter().flatten());
            for swept in keys {
                let swept_parts: Vec<&str> = swept.split('.').collect();
                let hit = if swept_parts.len() <= parts.len() {
                    // The key itself, or a key inside it.
                    parts.iter().zip(&swept_parts).all(|(a, b)| a == b)
                } else {
                    // A table: does the value given hold the swept key?
                    swept_parts[..parts.len()]
                        .iter()
                        .zip(&parts)
                        .all(|(a, b)| a == b)
                        && swept_parts[parts.len()..]
                            .iter()
                            .try_fold(&value, |v, k| v.get(*k))
                            .is_some()
                };
                if hit {
                    return Err(InputError::Set {
                        arg: arg.clone(),
                        message: format!(
                            "`{swept}` is swept (sweep.axis[{i}] of {}), so every point would run the axis's values instead: edit that axis's values in [sweep], or drop this --set",
                            loaded.label
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Expands a loaded experiment into a plan (a file without `[sweep]` is one point).
pub fn plan(loaded: Loaded) -> Result<Plan, InputError> {
    let label = loaded.label.clone();
    let spec = loaded.sweep.clone().unwrap_or(SweepSpec {
        seeds: 1,
        mode: SweepMode::Grid,
        samples: None,
        skip_invalid: false,
        axes: Vec::new(),
    });
    if spec.seeds == 0 || spec.seeds > 100_000 {
        return Err(set_err(
            &label,
            "sweep.seeds",
            format!("{} is not allowed: an integer from 1 to 100000", spec.seeds),
        ));
    }
    let mut axes = Vec::new();
    let mut param_keys = Vec::new();
    for (i, a) in spec.axes.iter().enumerate() {
        let (keys, vals) = axis_values(&label, i, a)?;
        for k in &keys {
            if param_keys.contains(k) {
                return Err(set_err(
                    &label,
                    &format!("sweep.axis[{i}]"),
                    format!("key `{k}` is swept twice"),
                ));
            }
            param_keys.push(k.clone());
        }
        axes.push((keys, vals));
    }
    // Grid: the cartesian product, first axis slowest.
    let total: usize = axes.iter().map(|(_, v)| v.len()).product();
    if total > 1_000_000 {
        return Err(set_err(
            &label,
            "sweep",
            format!("{total} points is too many (at most 1000000)"),
        ));
    }
    let mut combos: Vec<Vec<usize>> = vec![Vec::new()];
    for (_, vals) in &axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                (0..vals.len()).map(move |j| {
                    let mut c = c.clone();
                    c.push(j);
                    c
                })
            })
            .collect();
    }
    if spec.mode == SweepMode::Random {
        let n = spec
            .samples
            .ok_or_else(|| set_err(&label, "sweep.samples", "required when mode = \"random\""))?
            as usize;
        if n == 0 {
            return Err(set_err(
                &label,
                "sweep.samples",
                "0 is not allowed: at least 1",
            ));
        }
        let mut rng = sim::Seeds::new(loaded.exp.seed).stream("sweep");
        let mut idx: Vec<usize> = (0..combos.len()).collect();
        idx.shuffle(&mut rng);
        idx.truncate(n);
        idx.sort_unstable();
        combos = idx.into_iter().map(|i| combos[i].clone()).collect();
    }
    let mut points = Vec::new();
    let mut skipped = Vec::new();
    let mut invalid = Vec::new();
    for c in combos {
        let mut table = loaded.base.clone();
        let mut assignments = Vec::new();
        for ((keys, vals), &j) in axes.iter().zip(&c) {
            for (k, v) in keys.iter().zip(&vals[j]) {
                let parts: Vec<&str> = k.split('.').collect();
                load::set_path(&mut table, &parts, v.clone()).map_err(|m| set_err(&label, k, m))?;
                assignments.push((k.clone(), v.clone()));
            }
        }
        let point_label = assignments
            .iter()
            .map(|(k, v)| format!("{k}={}", value_str(v)))
            .collect::<Vec<_>>()
            .join(",");
        match load::experiment_from_table(&label, table) {
            Ok(exp) => points.push(Point {
                id: points.len(),
                assignments,
                exp,
            }),
            // A key no experiment has is wrong at every value: say it once,
            // whatever `skip_invalid` says.
            Err(load::InputError::Key { key, message, .. })
                if message.starts_with("unknown field")
                    && assignments.iter().any(|(k, _)| *k == key) =>
            {
                return Err(InputError::Sweep {
                    file: label,
                    message: format!("[[sweep.axis]] key `{key}`: {message}"),
                });
            }
            Err(e) if spec.skip_invalid => skipped.push((point_label, e.to_string())),
            Err(e) => invalid.push(format!("  {point_label}: {e}")),
        }
    }
    if !invalid.is_empty() {
        return Err(InputError::Sweep {
            file: label,
            message: format!(
                "{} of the sweep's points are invalid (set `skip_invalid = true` in [sweep] to drop them):\n{}",
                invalid.len(),
                invalid.join("\n")
            ),
        });
    }
    if points.is_empty() {
        return Err(InputError::Sweep {
            file: label,
            message: "no valid points to run".into(),
        });
    }
    let base_seed = loaded.exp.seed;
    let runs = points
        .iter()
        .flat_map(|p| {
            (0..spec.seeds).map(move |k| RunSpec {
                run_id: format!("p{:04}-s{k:03}", p.id),
                point: p.id,
                seed: base_seed.wrapping_add(u64::from(k)),
            })
        })
        .collect();
    Ok(Plan {
        loaded,
        points,
        skipped,
        runs,
        param_keys,
    })
}
