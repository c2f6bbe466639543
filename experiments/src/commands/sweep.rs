//! `meshsim sweep`: every point of an experiment's `[sweep]` x its seeds,
//! in parallel (or one shard of them), into one output directory.

use super::{exec_options, parse_jobs, plan_out_dir};
use crate::load::{self, InputError};
use crate::sweep::{self, ExecOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run a parameter sweep: every point of the file's [sweep] section x its seeds, in parallel.
///
/// Each finished run is written at once to OUT/runs/<run_id>.json; at the end
/// OUT/runs.csv (one row per run, sorted by run id), timing.csv, failures.csv and
/// points.csv are written. A failed or panicking run is recorded with the command
/// that reproduces it, and the sweep goes on. Ctrl-C stops cleanly; --resume
/// continues without recomputing finished runs.
///
/// Examples:
///   meshsim sweep experiments/ci.toml --jobs 2
///   meshsim sweep big.toml --shard 0/8 --out results/big/shard0   # then: meshsim merge
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct SweepArgs {
    /// Experiment file with a [sweep] section.
    pub file: PathBuf,
    /// Override any key by its dotted path. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Parallel runs, at least 1 (default: one per core; for `partitions = N`, one per N cores).
    #[arg(long, value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Output directory (default: results/<experiment name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Skip runs already finished in the output directory (refused if they are of
    /// a different experiment: another file or --set). Without it, the runs are
    /// redone, and the results of a different experiment there are removed.
    #[arg(long)]
    pub resume: bool,
    /// Run only slice I of N (0 <= I < N, I counted from 0) of the sweep's runs:
    /// those whose index is I mod N.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Do not draw plots/ and report.html (draw them later with `meshsim plot DIR`).
    #[arg(long)]
    pub no_plots: bool,
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
    let out = plan_out_dir(&plan, a.out, plan.loaded.exp.name.clone())?;
    super::check_disk(&plan, &out, shard)?;
    let opts = ExecOptions {
        resume: a.resume,
        shard,
        ..exec_options(&plan, &a.file, &a.sets, a.jobs, &out)
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
    let wall = crate::wall::now();
    let rep = sweep::execute(&plan, &opts)?;
    let (ok, failed) = sweep::write_tables(&out, &plan.param_keys).map_err(|e| {
        e.context(format!(
            "writing the tables (every finished run is kept in {}; `--resume` writes them again)",
            out.join("runs").display()
        ))
    })?;
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
    if ok > 0 {
        print!(
            "{}",
            sweep::digest(&sweep::read_records(&out)?, &plan.param_keys)
        );
        if !a.no_plots {
            super::plots_and_report(&out, false);
        }
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
