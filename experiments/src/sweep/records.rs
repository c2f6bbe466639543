//! The per-run files of a sweep's output directory: `runs/<run_id>.json`
//! for a finished run, `failures/<run_id>.json` for a failed one. A run
//! counts as finished once its file exists; the tables are made from them.

use super::{value_str, Point};
use crate::output::write_atomic;
use models::RunSummary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What one finished run leaves in `runs/<run_id>.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    /// Run id.
    pub run_id: String,
    /// Point index.
    pub point_id: usize,
    /// Swept parameters (dotted key -> value as text).
    pub params: BTreeMap<String, String>,
    /// Seed.
    pub seed: u64,
    /// The summary (its `wall_seconds` goes to `timing.csv`, not `runs.csv`).
    pub summary: RunSummary,
    /// The detail files it wrote to `series/` (`<run_id>.<name>`), with
    /// their sizes in bytes: a run is finished only while they are there whole.
    #[serde(default)]
    pub series: BTreeMap<String, u64>,
}

/// Why a run's files in a sweep directory are not a finished run.
pub(super) fn record_problem(dir: &Path, run_id: &str) -> Option<String> {
    let f = run_file(dir, run_id);
    let rec: RunRecord = match std::fs::read(&f)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => return Some(format!("{}: {e}", f.display())),
    };
    if rec.run_id != run_id {
        return Some(format!(
            "{}: it holds run {} (a file renamed or copied?)",
            f.display(),
            rec.run_id
        ));
    }
    for (name, len) in &rec.series {
        let s = dir.join("series").join(format!("{run_id}.{name}"));
        match std::fs::metadata(&s) {
            Ok(m) if m.len() == *len => {}
            Ok(m) => {
                return Some(format!(
                    "{}: {} bytes, but the run wrote {len}",
                    s.display(),
                    m.len()
                ))
            }
            Err(e) => return Some(format!("{}: {e}", s.display())),
        }
    }
    None
}

/// What a failed run leaves in `failures/<run_id>.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FailureRecord {
    /// Run id.
    pub run_id: String,
    /// Point index.
    pub point_id: usize,
    /// Swept parameters.
    pub params: BTreeMap<String, String>,
    /// Seed.
    pub seed: u64,
    /// What went wrong.
    pub error: String,
    /// The command that reproduces it.
    pub reproduce: String,
}

/// `runs/<run_id>.json` of the output directory `out`.
pub fn run_file(out: &Path, run_id: &str) -> PathBuf {
    out.join("runs").join(format!("{run_id}.json"))
}

/// `failures/<run_id>.json` of the output directory `out`.
pub(super) fn failure_file(out: &Path, run_id: &str) -> PathBuf {
    out.join("failures").join(format!("{run_id}.json"))
}

/// Writes a run's record (pretty JSON) to `path`.
pub(super) fn write_record(path: &Path, rec: &impl Serialize) -> anyhow::Result<()> {
    write_atomic(path, &serde_json::to_vec_pretty(rec)?)?;
    Ok(())
}

/// The swept parameters of a point: dotted key -> value as text.
pub(super) fn params_of(p: &Point) -> BTreeMap<String, String> {
    p.assignments
        .iter()
        .map(|(k, v)| (k.clone(), value_str(v)))
        .collect()
}

/// Reads every `runs/*.json` of `dir`, sorted by run id.
pub fn read_records(dir: &Path) -> anyhow::Result<Vec<RunRecord>> {
    read_dir_json(&dir.join("runs"))
}

/// Reads every `failures/*.json` of `dir`, sorted by run id.
pub fn read_failures(dir: &Path) -> anyhow::Result<Vec<FailureRecord>> {
    read_dir_json(&dir.join("failures"))
}

/// The `*.json` files in `dir`, unsorted (none if it does not exist).
fn json_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(rd) => Ok(rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn read_dir_json<T: for<'de> Deserialize<'de>>(dir: &Path) -> anyhow::Result<Vec<T>> {
    let mut files = json_files(dir)?;
    files.sort();
    files
        .iter()
        .map(|f| {
            let b = std::fs::read(f)?;
            serde_json::from_slice(&b).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))
        })
        .collect()
}

/// The run ids of the `*.json` files in `dir` (none if it does not exist).
pub(super) fn run_ids_in(dir: &Path) -> anyhow::Result<Vec<String>> {
    let files = json_files(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let mut ids: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    ids.sort();
    Ok(ids)
}
