//! `meshsim sweep`, `merge` and `check`.

pub mod interop;

use crate::check;
use crate::load::{self, InputError};
use crate::output::write_atomic;
use crate::sweep::{self, ExecOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn parse_shard(s: &str) -> Result<(usize, usize), InputError> {
    let bad = || {
        InputError::Options(format!(
            "--shard {s}: expected I/N, shard I (counted from 0) of N, with 0 <= I < N, e.g. --shard 0/4 ... --shard 3/4"
        ))
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

fn install_ctrlc() {
    // Ctrl-C: finish the runs in flight, start no new ones, keep everything.
    let _ = ctrlc::set_handler(|| {
        if sweep::STOP.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: finishing the runs in flight (Ctrl-C again to quit now); finished runs are kept, --resume continues");
    });
}

/// Options of `meshsim sweep`.
pub struct SweepArgs {
    /// Experiment file.
    pub file: PathBuf,
    /// `--set` overrides.
    pub sets: Vec<String>,
    /// Parallel runs (None: one per core, or per `partitions` cores).
    pub jobs: Option<usize>,
    /// Output directory.
    pub out: Option<PathBuf>,
    /// Resume.
    pub resume: bool,
    /// Shard `I/N`.
    pub shard: Option<String>,
}

/// Makes the output directory `dir` (of option `option`) before anything
/// runs: one that cannot be made is bad input.
/// A point that would not fit in memory even alone is refused before the
/// output folder is made (the exact check, with the runs in parallel, is
/// made again before the first run).
fn refuse_oversized(plan: &sweep::Plan) -> Result<(), InputError> {
    for p in &plan.points {
        crate::estimate::check(&plan.loaded.label, &p.exp, 1, false)?;
    }
    Ok(())
}

pub fn make_out_dir(option: &str, dir: &Path) -> Result<(), InputError> {
    let why = if dir.exists() && !dir.is_dir() {
        Some("it exists and is not a directory".to_string())
    } else {
        std::fs::create_dir_all(dir)
            .err()
            .map(|e| format!("cannot create the directory: {e}"))
    };
    match why {
        None => Ok(()),
        Some(why) => Err(InputError::Options(format!(
            "{option} {}: {why}",
            dir.display()
        ))),
    }
}

/// Runs at once when `--jobs` is not given: one per core, or one per
/// `partitions` cores for partitioned runs (each uses that many threads,
/// which wait for each other every window: more threads than cores would
/// stall them).
fn default_jobs(plan: &sweep::Plan) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = plan
        .points
        .iter()
        .map(|p| usize::from(p.exp.partitions.max(1)))
        .max()
        .unwrap_or(1);
    (cores / threads).max(1)
}

/// `meshsim sweep`.
pub fn cmd_sweep(a: SweepArgs) -> anyhow::Result<ExitCode> {
    let loaded = load::load_full(Some(&a.file), &a.sets)?;
    sweep::refuse_swept_sets(&loaded, &a.sets)?;
    let shard = a.shard.as_deref().map(parse_shard).transpose()?;
    let plan = sweep::plan(loaded)?;
    for (p, why) in &plan.skipped {
        eprintln!("skipping invalid point {p}: {why}");
    }
    let option = if a.out.is_some() {
        "--out"
    } else {
        "output directory"
    };
    let out = a
        .out
        .unwrap_or_else(|| PathBuf::from("results").join(&plan.loaded.exp.name));
    refuse_oversized(&plan)?;
    make_out_dir(option, &out)?;
    let opts = ExecOptions {
        jobs: a.jobs.unwrap_or_else(|| default_jobs(&plan)),
        out: out.clone(),
        resume: a.resume,
        shard,
        progress: true,
        file_arg: Some(a.file.display().to_string()),
        sets: a.sets.clone(),
    };
    eprintln!(
        "sweep {}: {} points x {} seeds = {} runs{}, {} job{}, into {}",
        plan.loaded.exp.name,
        plan.points.len(),
        plan.loaded.sweep.as_ref().map_or(1, |s| s.seeds),
        plan.runs.len(),
        shard.map_or(String::new(), |(i, n)| format!(" (shard {i}/{n})")),
        opts.jobs,
        if opts.jobs == 1 { "" } else { "s" },
        out.display()
    );
    install_ctrlc();
    let wall = std::time::Instant::now();
    let rep = sweep::execute(&plan, &opts)?;
    let (ok, failed) = sweep::write_tables(&out, &plan.param_keys)?;
    eprintln!(
        "{} runs done, {} failed, {} already finished; {} results and {} failures in {} ({:.1} s)",
        rep.done,
        rep.failed,
        rep.skipped,
        ok,
        failed,
        out.display(),
        wall.elapsed().as_secs_f64()
    );
    if failed > 0 {
        eprintln!(
            "failed runs and how to reproduce them: {}",
            out.join("failures.csv").display()
        );
    }
    if rep.interrupted {
        return Ok(ExitCode::from(130));
    }
    Ok(if rep.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `meshsim merge`.
pub fn cmd_merge(out: &Path, dirs: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let (ok, failed) = sweep::merge(out, dirs)?;
    eprintln!(
        "merged {} directories: {ok} results, {failed} failures in {}",
        dirs.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Options of `meshsim check`.
pub struct CheckArgs {
    /// Experiment file.
    pub file: PathBuf,
    /// Baseline CSV.
    pub baseline: PathBuf,
    /// `--set` overrides.
    pub sets: Vec<String>,
    /// Markdown output file.
    pub markdown: Option<PathBuf>,
    /// Rewrite the baseline.
    pub update: bool,
    /// Worker threads.
    pub jobs: Option<usize>,
    /// Output directory for the runs.
    pub out: Option<PathBuf>,
}

/// Metric columns of `runs.csv` that can be checked.
pub fn checkable_metrics() -> Vec<&'static str> {
    crate::output::run_columns("x", &models::RunSummary::default())
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| {
            !matches!(
                *k,
                "run_id" | "experiment" | "seed" | "trace_hash" | "wall_seconds"
            )
        })
        .collect()
}

/// Each metric's value at each point (see [`check::mean`]), from the runs
/// of the points in `labels`.
pub fn point_means(
    records: &[sweep::RunRecord],
    labels: &BTreeMap<usize, String>,
) -> BTreeMap<(String, String), check::Value> {
    let mut runs: BTreeMap<(String, String), Vec<check::Value>> = BTreeMap::new();
    for r in records {
        let Some(point) = labels.get(&r.point_id) else {
            continue;
        };
        for (k, v) in check::run_values(&r.summary) {
            runs.entry((point.clone(), k.to_string()))
                .or_default()
                .push(v);
        }
    }
    runs.into_iter()
        .map(|(k, vs)| (k, check::mean(&vs)))
        .collect()
}

/// `meshsim check`.
pub fn cmd_check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = load::load_full(Some(&a.file), &a.sets)?;
    sweep::refuse_swept_sets(&loaded, &a.sets)?;
    let label = loaded.label.clone();
    let spec = loaded.check.clone().ok_or_else(|| InputError::Key {
        file: label.clone(),
        key: "check".into(),
        message: "the experiment has no [check] section naming the metrics to compare".into(),
    })?;
    check::validate(&label, &spec, &checkable_metrics())?;
    // Read the baseline first: a malformed one is bad input, before any run.
    let baseline = if a.update {
        None
    } else {
        Some(check::read_baseline(&a.baseline)?)
    };
    let plan = sweep::plan(loaded)?;
    let option = if a.out.is_some() {
        "--out"
    } else {
        "output directory"
    };
    let out = a.out.unwrap_or_else(|| {
        PathBuf::from("results").join(format!("{}-check", plan.loaded.exp.name))
    });
    refuse_oversized(&plan)?;
    make_out_dir(option, &out)?;
    let opts = ExecOptions {
        jobs: a.jobs.unwrap_or_else(|| default_jobs(&plan)),
        out: out.clone(),
        resume: false,
        shard: None,
        progress: true,
        file_arg: Some(a.file.display().to_string()),
        sets: a.sets.clone(),
    };
    let rep = sweep::execute(&plan, &opts)?;
    sweep::write_tables(&out, &plan.param_keys)?;
    if rep.failed > 0 {
        eprintln!(
            "{} runs failed; see {}",
            rep.failed,
            out.join("failures.csv").display()
        );
        return Ok(ExitCode::from(1));
    }
    let labels: BTreeMap<usize, String> = plan.points.iter().map(|p| (p.id, p.label())).collect();
    let now = point_means(&sweep::read_records(&out)?, &labels);
    if a.update {
        write_atomic(&a.baseline, &check::baseline_csv(&spec, &now)?)?;
        println!("baseline written: {}", a.baseline.display());
        return Ok(ExitCode::SUCCESS);
    }
    let baseline = baseline.expect("read above");
    let rows = check::compare(&spec, &baseline, &now);
    let gone = check::gone_points(&baseline, &now);
    print!("{}", check::text_table(&rows));
    print!("{}", check::gone_lines(&gone));
    if let Some(md) = &a.markdown {
        write_atomic(
            md,
            check::markdown_table(&rows, &gone, &plan.loaded.exp.name).as_bytes(),
        )?;
    }
    match check::failure_summary(&rows, &gone) {
        None => {
            let same = rows.iter().all(|r| r.verdict == check::Verdict::Same);
            println!(
                "check passed{}",
                if same {
                    ": every metric reproduces the baseline exactly"
                } else {
                    ": within tolerance"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(what) => {
            println!("check FAILED: {what} (if intended, rerun with --update)");
            Ok(ExitCode::from(1))
        }
    }
}
