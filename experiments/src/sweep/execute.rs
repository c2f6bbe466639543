//! Running a plan: the runs in parallel (those of this shard, not yet
//! finished when resuming), each result written as soon as it finishes, a
//! progress bar, and Ctrl-C ([`STOP`]) that lets the runs in flight finish.

use super::records::{failure_file, params_of, run_file, write_record, FailureRecord, RunRecord};
use super::{resume, Plan, Point};
use crate::output::{self, write_atomic};
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How to run a plan.
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// Worker threads.
    pub jobs: usize,
    /// Output directory.
    pub out: PathBuf,
    /// Skip runs that already have a result or failure file.
    pub resume: bool,
    /// Run only runs `i` with `i % n == shard.0`.
    pub shard: Option<(usize, usize)>,
    /// Show a progress bar (only drawn on a terminal).
    pub progress: bool,
    /// The experiment file path as the user gave it (for reproduction commands).
    pub file_arg: Option<String>,
    /// `--set` arguments the user gave (for reproduction commands).
    pub sets: Vec<String>,
}

/// Outcome counts of an execution.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExecReport {
    /// Runs done now.
    pub done: usize,
    /// Runs failed now.
    pub failed: usize,
    /// Runs skipped because they were already finished (`--resume`).
    pub skipped: usize,
    /// Whether Ctrl-C stopped the sweep early.
    pub interrupted: bool,
}

/// Set by Ctrl-C: no new runs start.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// The `meshsim run` command that reproduces a run of the plan.
pub fn reproduce_cmd(opts: &ExecOptions, p: &Point, seed: u64) -> String {
    let mut cmd = String::from("meshsim run");
    if let Some(f) = &opts.file_arg {
        cmd.push(' ');
        cmd.push_str(f);
    }
    cmd.push_str(&format!(" --seed {seed}"));
    for s in &opts.sets {
        cmd.push_str(&format!(" --set '{s}'"));
    }
    for (k, v) in &p.assignments {
        cmd.push_str(&format!(" --set '{k}={v}'"));
    }
    cmd
}

/// Runs the plan's runs (those of this shard, not yet finished when
/// resuming) in parallel; each result is written as soon as it finishes.
pub fn execute(plan: &Plan, opts: &ExecOptions) -> anyhow::Result<ExecReport> {
    // Half-written files of an earlier sweep that was killed.
    for sub in ["", "runs", "series", "failures"] {
        output::remove_stale_temporaries(&opts.out.join(sub));
    }
    let (todo, skipped) = resume::runs_to_do(plan, opts)?;
    // Memory safety valve: refuse before anything runs (see `estimate`).
    let parallel = opts.jobs.max(1).min(todo.len().max(1));
    for r in &todo {
        let p = &plan.points[r.point];
        crate::estimate::check(&p.source(&plan.loaded.label), &p.exp, parallel, false)?;
    }
    let bar = progress_bar(opts.progress, todo.len());
    let done = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let sim_s = Mutex::new(0.0f64);
    let started = crate::wall::now();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let note_error = |run_id: &str, e: anyhow::Error| {
        errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("{run_id}: {e}"));
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()?;
    pool.install(|| {
        todo.par_iter().for_each(|r| {
            if STOP.load(Ordering::SeqCst) {
                return;
            }
            let p = &plan.points[r.point];
            let wall = crate::wall::now();
            let result = models::run_full(&p.exp, r.seed, sim::EntropyMode::Seeded);
            let wall_s = wall.elapsed().as_secs_f64();
            let write = match result {
                Ok(out) => {
                    let mut s = out.summary.clone();
                    s.wall_seconds = wall_s;
                    // Detail files first: a run counts as finished once its
                    // JSON exists (and the files it lists are whole).
                    let mut series = std::collections::BTreeMap::new();
                    let detail = output::detail_files(&r.run_id, &out).and_then(|files| {
                        for (name, bytes) in files {
                            write_atomic(
                                &opts.out.join("series").join(format!("{}.{name}", r.run_id)),
                                &bytes,
                            )?;
                            series.insert(name.to_string(), bytes.len() as u64);
                        }
                        Ok(())
                    });
                    *sim_s.lock().unwrap_or_else(|e| e.into_inner()) += s.sim_seconds;
                    // Without its detail files the run is not recorded as
                    // finished: `--resume` runs it again.
                    if let Err(e) = detail {
                        note_error(&r.run_id, e);
                        bar.inc(1);
                        return;
                    }
                    let rec = RunRecord {
                        run_id: r.run_id.clone(),
                        point_id: r.point,
                        params: params_of(p),
                        seed: r.seed,
                        summary: s,
                        series,
                    };
                    done.fetch_add(1, Ordering::SeqCst);
                    write_record(&run_file(&opts.out, &r.run_id), &rec)
                }
                Err(e) => {
                    let rec = FailureRecord {
                        run_id: r.run_id.clone(),
                        point_id: r.point,
                        params: params_of(p),
                        seed: r.seed,
                        error: e.to_string(),
                        reproduce: reproduce_cmd(opts, p, r.seed),
                    };
                    failed.fetch_add(1, Ordering::SeqCst);
                    if opts.progress {
                        bar.println(format!(
                            "run {} failed: {}\n  note: rerun with `{}`",
                            r.run_id, rec.error, rec.reproduce
                        ));
                    }
                    write_record(&failure_file(&opts.out, &r.run_id), &rec)
                }
            };
            if let Err(e) = write {
                note_error(&r.run_id, e);
            }
            let el = started.elapsed().as_secs_f64().max(1e-9);
            let speed = *sim_s.lock().unwrap_or_else(|e| e.into_inner()) / el;
            bar.set_message(format!(
                "failed {}  {speed:.1}x real time",
                failed.load(Ordering::SeqCst)
            ));
            bar.inc(1);
        });
    });
    bar.finish_and_clear();
    let errs = errors.lock().unwrap_or_else(|e| e.into_inner());
    if !errs.is_empty() {
        anyhow::bail!(
            "could not write the results of {} runs (they are not recorded as finished; once \
             the cause is fixed, `meshsim sweep ... --resume --out {}` runs them again): {}",
            errs.len(),
            opts.out.display(),
            first_errors(&errs)
        );
    }
    Ok(ExecReport {
        done: done.into_inner(),
        failed: failed.into_inner(),
        skipped,
        interrupted: STOP.load(Ordering::SeqCst),
    })
}

/// The first three errors, and how many more.
fn first_errors(errs: &[String]) -> String {
    let mut s = errs.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
    if errs.len() > 3 {
        s.push_str(&format!("; and {} more", errs.len() - 3));
    }
    s
}

fn progress_bar(show: bool, n: usize) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    // Drawn on stderr, and only when it is a terminal.
    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} runs  {msg}  elapsed {elapsed}  eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
