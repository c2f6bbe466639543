//! The commands of the `meshsim` command line, one file each: its options
//! (a `clap` struct, with the `--help` text) and what it does.
//!
//! - [`run`]: `meshsim run`, one experiment.
//! - [`sweep`]: `meshsim sweep`, every point of a `[sweep]` x its seeds.
//! - [`merge`]: `meshsim merge`, shard directories combined.
//! - [`check`]: `meshsim check`, metrics against a baseline.
//! - [`plot`]: `meshsim plot`, plots and `report.html` of a results directory.
//! - [`bench`]: `meshsim bench` and the internal `bench-one`.
//! - [`interop`]: `meshsim interop`, a test-plans `gossipsub-interop` folder.
//!
//! This file: what commands share: `--jobs`, output directories, how
//! `sweep` and `check` run a plan, the results line of `run` and `interop`.

pub mod bench;
pub mod check;
pub mod interop;
pub mod merge;
pub mod plot;
pub mod run;
pub mod sweep;

use crate::load::InputError;
use crate::sweep::{ExecOptions, Plan};
use std::path::{Path, PathBuf};

/// `--jobs`: at least one run at a time.
fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected the number of runs at once, at least 1".into()),
    }
}

/// Makes the output directory `dir` (of option `option`) before anything
/// runs: one that cannot be made is bad input.
pub fn make_out_dir(option: &str, dir: &Path) -> Result<(), InputError> {
    let why = if dir.exists() && !dir.is_dir() {
        Some("it exists and is not a directory".to_string())
    } else if let Err(e) = std::fs::create_dir_all(dir) {
        Some(format!("cannot create the directory: {e}"))
    } else {
        // A folder that exists but cannot be written to (read-only, another
        // user's) fails here, not after the first run.
        crate::output::AtomicFile::create(&dir.join("meta.json"))
            .err()
            .map(|e| format!("cannot write in the directory: {e}"))
    };
    match why {
        None => Ok(()),
        Some(why) => Err(InputError::Options(format!(
            "{option} {}: {why}",
            dir.display()
        ))),
    }
}

/// Checks before anything runs that the file `path` of option `option` can
/// be written (its folder made, a file created beside it): a results file
/// that cannot be written is bad input, not a lost run.
pub fn output_file(option: &str, path: &Path) -> Result<(), InputError> {
    let bad = |why: String| InputError::Options(format!("{option} {}: {why}", path.display()));
    if path.is_dir() {
        return Err(bad(format!(
            "is a directory; name a file, e.g. {option} {}",
            path.join("out").display()
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| bad(format!("cannot create {}: {e}", dir.display())))?;
    }
    // The temporary file is removed when the handle is dropped.
    crate::output::AtomicFile::create(path)
        .map(drop)
        .map_err(|e| bad(format!("cannot be written: {e}")))
}

/// The output directory of a plan (`--out`, else `results/<default_name>`),
/// made before anything runs. A point that would not fit in memory even
/// alone is refused before the folder is made (the exact check, with the
/// runs in parallel, is made again before the first run).
fn plan_out_dir(
    plan: &Plan,
    out: Option<PathBuf>,
    default_name: String,
) -> Result<PathBuf, InputError> {
    let option = if out.is_some() {
        "--out"
    } else {
        "output directory"
    };
    let out = out.unwrap_or_else(|| PathBuf::from("results").join(default_name));
    for p in &plan.points {
        crate::estimate::check(&p.source(&plan.loaded.label), &p.exp, 1, false)?;
    }
    make_out_dir(option, &out)?;
    Ok(out)
}

/// Refuses a plan whose outputs would not fit on the disk of `out`: each
/// run still to do (of shard `shard`, and not already finished there) and
/// the merged tables as much again.
fn check_disk(plan: &Plan, out: &Path, shard: Option<(usize, usize)>) -> Result<(), InputError> {
    let needed: u64 = plan
        .runs
        .iter()
        .enumerate()
        .filter(|(i, _)| shard.is_none_or(|(k, n)| i % n == k))
        .filter(|(_, r)| !crate::sweep::run_file(out, &r.run_id).exists())
        .map(|(_, r)| 2 * crate::output::disk::run_output_bytes(&plan.points[r.point].exp))
        .fold(0u64, u64::saturating_add);
    crate::output::disk::check_free("output directory", out, needed)
}

/// How to run a plan of experiment `file` with `sets` into `out`: `jobs` at
/// once (default [`default_jobs`]), every run, with a progress bar.
fn exec_options(
    plan: &Plan,
    file: &Path,
    sets: &[String],
    jobs: Option<usize>,
    out: &Path,
) -> ExecOptions {
    ExecOptions {
        jobs: jobs.unwrap_or_else(|| default_jobs(plan)),
        out: out.to_path_buf(),
        resume: false,
        shard: None,
        progress: true,
        file_arg: Some(file.display().to_string()),
        sets: sets.to_vec(),
    }
}

/// Runs at once when `--jobs` is not given: one per core, or one per
/// `partitions` cores for partitioned runs (each uses that many threads,
/// which wait for each other every window: more threads than cores would
/// stall them).
fn default_jobs(plan: &Plan) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = plan
        .points
        .iter()
        .map(|p| usize::from(p.exp.partitions.max(1)))
        .max()
        .unwrap_or(1);
    (cores / threads).max(1)
}

/// The summary's last line: the results directory `dir` and the files written there.
/// Draws `dir/plots/` and `dir/report.html` after a command wrote its
/// results (unless `--no-plots`), and says where the report is (on stdout,
/// or stderr when stdout carries JSON). A plot that cannot be drawn costs
/// no result: it is reported, and the command's exit code is unchanged.
fn plots_and_report(dir: &Path, json: bool) {
    let say = |line: String| {
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    match crate::plot::plot_dir(dir) {
        Ok(plots) => say(format!(
            "  report                {} ({} plots in {}/)",
            dir.join("report.html").display(),
            plots.len(),
            dir.join("plots").display()
        )),
        Err(e) => eprintln!(
            "warning: no plots: {e:#}; the results are written; draw them with `meshsim plot {}`",
            dir.display()
        ),
    }
}

fn print_written(dir: &Path, written: &[String]) {
    println!(
        "  results               {}/ ({})",
        dir.display(),
        written.join(", ")
    );
}
