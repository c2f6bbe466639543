//! What a sweep's output directory already holds. Its `experiment.toml`
//! says which experiment made its results: the same one is resumed (finished
//! runs skipped) or redone; another one's results are removed first (or,
//! with `--resume`, refused).

use super::records::{failure_file, run_file};
use super::tables::{write_plan_files, DETAIL_TABLES};
use super::{ExecOptions, Plan, RunSpec};
use crate::load::InputError;
use std::path::Path;

/// Prepares `opts.out` for the plan and returns the runs to do (those of
/// this shard that are not finished, when resuming) and how many finished
/// ones were skipped. Another experiment's results are removed (refused with
/// `--resume`), `experiment.toml` and `points.csv` written, and without
/// `--resume` the old files of the runs to redo removed.
pub(super) fn runs_to_do(plan: &Plan, opts: &ExecOptions) -> anyhow::Result<(Vec<RunSpec>, usize)> {
    let as_planned = experiment_toml(plan)?;
    if let Ok(old) = std::fs::read_to_string(opts.out.join("experiment.toml")) {
        if let Some(diff) = first_difference(&old, &as_planned) {
            if opts.resume {
                return Err(InputError::Options(format!(
                    "--resume: {} holds the results of a different experiment ({diff}): resume with the file and --set options that made them, or use a new --out, or drop --resume to replace them",
                    opts.out.display()
                ))
                .into());
            }
            // A fresh sweep of another experiment replaces every old
            // result, also of points and seeds it does not have.
            remove_results(&opts.out)?;
        }
    }
    std::fs::create_dir_all(opts.out.join("runs"))?;
    std::fs::create_dir_all(opts.out.join("failures"))?;
    write_plan_files(plan, &opts.out, &as_planned)?;
    let mut todo = Vec::new();
    let mut skipped = 0;
    for (i, r) in plan.runs.iter().enumerate() {
        if let Some((k, n)) = opts.shard {
            if i % n != k {
                continue;
            }
        }
        let (done, failed) = (
            run_file(&opts.out, &r.run_id),
            failure_file(&opts.out, &r.run_id),
        );
        if done.exists() || failed.exists() {
            // A run's files that were cut or lost (a truncated JSON, a
            // missing detail file) are no finished run: it is done again.
            let whole =
                failed.exists() || super::records::record_problem(&opts.out, &r.run_id).is_none();
            if opts.resume && whole {
                skipped += 1;
                continue;
            }
            // A fresh (non-resumed) sweep replaces old results.
            let _ = std::fs::remove_file(done);
            let _ = std::fs::remove_file(failed);
        }
        todo.push(r.clone());
    }
    Ok((todo, skipped))
}

/// The `experiment.toml` of a sweep's output: the base experiment with its
/// sweep (and check). Equal text, equal runs.
fn experiment_toml(plan: &Plan) -> anyhow::Result<String> {
    let mut t = plan.loaded.base.clone();
    if let Some(s) = &plan.loaded.sweep {
        t.insert("sweep".into(), toml::Value::try_from(s)?);
    }
    if let Some(c) = &plan.loaded.check {
        t.insert("check".into(), toml::Value::try_from(c)?);
    }
    Ok(toml::to_string_pretty(&t)?)
}

/// None if two `experiment.toml` texts are the same experiment, else
/// where they first differ (for messages).
pub(super) fn first_difference(a: &str, b: &str) -> Option<String> {
    if a == b {
        return None;
    }
    let (mut la, mut lb) = (a.lines(), b.lines());
    for n in 1.. {
        match (la.next(), lb.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => {
                let show = |l: Option<&str>| l.map_or("(end)".to_string(), |l| format!("`{l}`"));
                return Some(format!(
                    "experiment.toml line {n}: {} there, {} here",
                    show(x),
                    show(y)
                ));
            }
        }
    }
    unreachable!("texts differ, so some line does")
}

/// Removes the per-run files and detail tables of an earlier sweep in `out`.
pub(super) fn remove_results(out: &Path) -> anyhow::Result<()> {
    for sub in ["runs", "failures", "series"] {
        let dir = out.join(sub);
        if dir.is_dir() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", dir.display()))?;
        }
    }
    for name in DETAIL_TABLES {
        let _ = std::fs::remove_file(out.join(name));
    }
    Ok(())
}
