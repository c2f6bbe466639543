//! The tables of a sweep's output directory: `points.csv` and
//! `experiment.toml` before the runs; `runs.csv`, `timing.csv`,
//! `failures.csv` and the concatenated detail tables from the per-run files
//! after them.

use super::records::{params_of, read_failures, read_records};
use super::Plan;
use crate::output::{self, write_atomic};
use std::collections::BTreeMap;
use std::path::Path;

/// The detail tables that `write_tables` writes when some run has them.
pub(super) const DETAIL_TABLES: [&str; 7] = [
    "timeseries.csv",
    "messages.csv",
    "deliveries.csv",
    "syncs.csv",
    "sync_convergence.csv",
    "peers.csv",
    "peer_timeseries.csv",
];

/// Writes `experiment.toml` (`text`: the experiment as planned) and `points.csv`.
pub(super) fn write_plan_files(plan: &Plan, out: &Path, text: &str) -> anyhow::Result<()> {
    write_atomic(&out.join("experiment.toml"), text.as_bytes())?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["point_id".to_string(), "label".to_string()];
    header.extend(plan.param_keys.iter().cloned());
    w.write_record(&header)?;
    for p in &plan.points {
        let mut row = vec![p.id.to_string(), p.label()];
        row.extend(param_cells(&params_of(p), &plan.param_keys));
        w.write_record(&row)?;
    }
    write_atomic(&out.join("points.csv"), &w.into_inner()?)?;
    Ok(())
}

/// Rewrites `runs.csv`, `timing.csv` and `failures.csv` of `dir` from its
/// per-run files (sorted by run id, so any order of completion, any number
/// of jobs and any sharding give the same bytes).
pub fn write_tables(dir: &Path, param_keys: &[String]) -> anyhow::Result<(usize, usize)> {
    let records = read_records(dir)?;
    let failures = read_failures(dir)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut t = csv::Writer::from_writer(Vec::new());
    t.write_record(["run_id", "wall_seconds", "sim_per_wall"])?;
    for (i, r) in records.iter().enumerate() {
        let cols: Vec<(&str, String)> = output::run_columns(&r.run_id, &r.summary);
        if i == 0 {
            let mut header = id_header(param_keys);
            header.extend(cols.iter().skip(1).map(|(k, _)| k.to_string()));
            w.write_record(&header)?;
        }
        let mut row = id_cells(&r.run_id, r.point_id, &r.params, param_keys);
        row.extend(cols.into_iter().skip(1).map(|(_, v)| v));
        w.write_record(&row)?;
        t.write_record([
            r.run_id.clone(),
            format!("{:.3}", r.summary.wall_seconds),
            format!(
                "{:.2}",
                r.summary.sim_seconds / r.summary.wall_seconds.max(1e-9)
            ),
        ])?;
    }
    write_atomic(&dir.join("runs.csv"), &w.into_inner()?)?;
    write_atomic(&dir.join("timing.csv"), &t.into_inner()?)?;
    // The same parameter columns as runs.csv, so failures join on them.
    let mut f = csv::Writer::from_writer(Vec::new());
    let mut header = id_header(param_keys);
    header.extend(["seed", "error", "reproduce"].map(String::from));
    f.write_record(&header)?;
    for x in &failures {
        let mut row = id_cells(&x.run_id, x.point_id, &x.params, param_keys);
        row.extend([x.seed.to_string(), x.error.clone(), x.reproduce.clone()]);
        f.write_record(&row)?;
    }
    write_atomic(&dir.join("failures.csv"), &f.into_inner()?)?;
    // Detail files of the finished runs, concatenated in run order.
    for name in DETAIL_TABLES {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        for r in &records {
            let f = dir.join("series").join(format!("{}.{name}", r.run_id));
            match std::fs::read(&f) {
                Ok(b) => parts.push(b),
                // A file the run wrote and that is gone: its rows would be lost.
                Err(e) if r.series.contains_key(name) => {
                    anyhow::bail!("{}: {e} (run {} wrote it)", f.display(), r.run_id)
                }
                Err(_) => {}
            }
        }
        if !parts.is_empty() {
            write_atomic(&dir.join(name), &output::concat_csv(&parts))?;
        }
    }
    Ok((records.len(), failures.len()))
}

/// The `runs.csv` column of swept key `k`: its dotted path; a top-level key
/// gets a `param.` prefix, so every parameter column contains a `.` and none
/// collides with a metric column such as `peers`.
pub fn param_column(k: &str) -> String {
    if k.contains('.') {
        k.to_string()
    } else {
        format!("param.{k}")
    }
}

/// The first columns of `runs.csv` and `failures.csv`: `run_id`,
/// `point_id` and the swept parameters.
fn id_header(param_keys: &[String]) -> Vec<String> {
    let mut header = vec!["run_id".to_string(), "point_id".to_string()];
    header.extend(param_keys.iter().map(|k| param_column(k)));
    header
}

/// A run's cells of the [`id_header`] columns.
fn id_cells(
    run_id: &str,
    point_id: usize,
    params: &BTreeMap<String, String>,
    param_keys: &[String],
) -> Vec<String> {
    let mut row = vec![run_id.to_string(), point_id.to_string()];
    row.extend(param_cells(params, param_keys));
    row
}

/// The values of the swept keys `param_keys`, in order (empty when unset).
fn param_cells<'a>(
    params: &'a BTreeMap<String, String>,
    param_keys: &'a [String],
) -> impl Iterator<Item = String> + 'a {
    param_keys
        .iter()
        .map(|k| params.get(k).cloned().unwrap_or_default())
}
