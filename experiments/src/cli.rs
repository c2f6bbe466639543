//! The command-line interface.

use crate::{bench, load, output};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use models::RunSummary;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// meshsim runs real libp2p GossipSub peers (the unmodified `libp2p-gossipsub`
/// crate inside real `libp2p-swarm` swarms) over a virtual network in virtual
/// time. The same experiment file and seed always give the same results.
#[derive(Parser)]
#[command(name = "meshsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one experiment and print its summary.
    ///
    /// Examples:
    ///   meshsim run                                   # the built-in quickstart (200 peers, 60 s)
    ///   meshsim run experiments/quickstart.toml --seed 7 --json
    ///   meshsim run --set peers=500 --set gossipsub.mesh_n=8
    ///   meshsim run experiments/large.toml            # 10,000 peers on 2 threads (`partitions = 2`)
    #[command(verbatim_doc_comment)]
    Run {
        /// Experiment file (TOML). Without it, the built-in quickstart runs.
        file: Option<PathBuf>,
        /// Master seed (default: the file's `seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Override any key by its dotted path, e.g. `--set gossipsub.mesh_n=8`. Repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Output directory (default: results/<experiment name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the summary as one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Write no files (not with --out).
        #[arg(long, conflicts_with = "out")]
        no_write: bool,
        /// Write the event trace as JSON Lines to FILE (schema in the README).
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Run even if the estimated memory exceeds the limit (see `limits.max_memory_mib`).
        #[arg(long)]
        force: bool,
        /// Verify every ed25519 signature again at every peer instead of
        /// remembering successful verifications: slower, with the same
        /// results and trace hash (only `memo_hits`/`memo_misses` in
        /// --json differ, both 0); for checking exactly that.
        #[arg(long)]
        no_memo: bool,
    },
    /// Benchmark the engine on the DESIGN.md section 4 scenario (degree 8,
    /// uniform 20-80 ms, 1 msg/s of 1 KiB, 62 simulated s), signed and
    /// unsigned: wall time, simulated/wall ratio, events/s, peak memory.
    /// Each case runs in its own process so peak memory is its own.
    Bench {
        /// Peer counts to run.
        #[arg(long, value_delimiter = ',', default_value = "100,1000")]
        peers: Vec<u32>,
        /// Signing modes to run: ed25519, none.
        #[arg(long, value_delimiter = ',', default_value = "none,ed25519")]
        signing: Vec<String>,
        /// Simulated seconds.
        #[arg(long, default_value_t = 62.0)]
        seconds: f64,
        /// Print results as JSON lines.
        #[arg(long)]
        json: bool,
        /// Also report wall time per phase: swarm polls, engine, metrics, scenario.
        #[arg(long)]
        phases: bool,
        /// Sweep throughput instead: the same sweep of equal runs (first
        /// `--peers` value, first `--signing` mode) with --jobs 1 and --jobs 2.
        #[arg(long)]
        sweep: bool,
        /// Runs in the `--sweep` benchmark.
        #[arg(long, default_value_t = 8)]
        sweep_runs: u32,
        /// Run every case this many times (each in its own process) and
        /// report the run with the median CPU time, with the CPU range:
        /// before/after comparisons on a shared machine need it. With
        /// `--sweep`: run the (--jobs 1, --jobs 2) pair this many times and
        /// report the median speedup.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
        repeat: u32,
        /// Split each case's peers into this many disjoint networks (the same
        /// seeded random 8-regular graph each, one message per second each):
        /// `--peers 10000 --components 10` does ten times the work of
        /// `--peers 1000` in one process, so its cost per event against that
        /// run shows what the larger working set alone costs.
        #[arg(long, default_value_t = 1)]
        components: u32,
        /// Verify every ed25519 signature again at every peer instead of
        /// remembering successful verifications: the cost without the memo
        /// (signed cases; the same trace hashes).
        #[arg(long)]
        no_memo: bool,
        /// Run each case as this many partitions, one thread each (the
        /// experiment key `partitions`): on a machine with that many free
        /// cores, large networks run up to that many times faster. Results
        /// (and trace hashes) differ from one partition's, as between seeds.
        /// A list (`1,2,4`) runs every case at each count: the speedup curve
        /// of this machine.
        #[arg(long, value_delimiter = ',', default_value = "1")]
        partitions: Vec<u16>,
    },
    /// Regenerate DIR/plots/*.png, DIR/plots/*.svg and DIR/report.html from
    /// the CSV files in DIR (runs.csv; deliveries.csv and timeseries.csv if present).
    Plot {
        /// Results directory (as written by `meshsim run`).
        dir: PathBuf,
    },
    /// Run a libp2p test-plans `gossipsub-interop` experiment folder
    /// (params.json, shadow.yaml, graph.gml) without Shadow.
    ///
    /// Prints reliability, dissemination latency and duplicates per message
    /// and overall, and writes analysis.txt, interop.csv, runs.csv,
    /// messages.csv, peers.csv, deliveries.csv, timeseries.csv and
    /// meta.json. Warnings (messages published too close to the end,
    /// messages nobody else subscribed to, publishes after stop_time) are
    /// printed and appended to analysis.txt. Exit code 2 on bad or
    /// unsupported input. A sample folder: experiments/interop-sample/.
    ///
    /// Example:
    ///   meshsim interop experiments/interop-sample --seed 3 --no-write
    #[command(verbatim_doc_comment)]
    Interop {
        /// The experiment folder.
        dir: PathBuf,
        /// Output directory (default: results/interop-<folder name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed (the scenario is fixed by the files; the seed drives meshsim's own randomness).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Print the summary as one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Write no files (not with --out).
        #[arg(long, conflicts_with = "out")]
        no_write: bool,
    },
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
    #[command(verbatim_doc_comment)]
    Sweep {
        /// Experiment file with a [sweep] section.
        file: PathBuf,
        /// Override any key by its dotted path. Repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Parallel runs, at least 1 (default: one per core; for `partitions = N`, one per N cores).
        #[arg(long, value_parser = parse_jobs)]
        jobs: Option<usize>,
        /// Output directory (default: results/<experiment name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Skip runs already finished in the output directory (refused if they are of
        /// a different experiment: another file or --set). Without it, the runs are
        /// redone, and the results of a different experiment there are removed.
        #[arg(long)]
        resume: bool,
        /// Run only slice I of N (0 <= I < N, I counted from 0) of the sweep's runs:
        /// those whose index is I mod N.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
    },
    /// Combine the output directories of sweep shards into one.
    ///
    /// Refuses (exit code 2, nothing written) a directory named twice, two
    /// directories that hold the same run (the same shard twice), directories of
    /// different experiments, and directories that together miss runs of the sweep
    /// (a shard missing or unfinished: finish it with `sweep --resume`).
    Merge {
        /// Where the merged results go.
        #[arg(long)]
        out: PathBuf,
        /// Shard output directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Run an experiment and compare its metrics with a baseline CSV.
    ///
    /// Exit code 0 when every metric is within the tolerances of the file's [check]
    /// section, 1 on a regression, 2 on bad input (including a malformed or missing
    /// baseline). The baseline must match the sweep: a point or metric that it does
    /// not have ("NOT IN BASELINE"), and a baseline point that is no longer swept,
    /// also fail the check (exit 1, counted apart from regressions); rerun with
    /// --update when the change is intended. Baseline rows of metrics no longer in
    /// [check] are ignored.
    ///
    /// A time that is -1 in runs.csv because it never happened (convergence_s,
    /// delivery_recovered_s; an empty sync_convergence_s or sync_convergence_max_s
    /// after a return or healing) is "never": worse than any time, whatever the
    /// tolerance; a point is never if any of its seeds is. A metric that does not
    /// apply (-1 attacker_* without attacker peers, sync convergence without a
    /// return or healing) is "n/a", comparable only with n/a.
    ///
    /// Example:
    ///   meshsim check experiments/ci.toml --baseline results/baselines/ci.csv --markdown check.md
    #[command(verbatim_doc_comment)]
    Check {
        /// Experiment file with a [check] section (and usually a [sweep]).
        file: PathBuf,
        /// Baseline CSV (point,metric,value).
        #[arg(long)]
        baseline: PathBuf,
        /// Override any key by its dotted path. Repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Also write the comparison as a Markdown table.
        #[arg(long)]
        markdown: Option<PathBuf>,
        /// Rewrite the baseline from this run (deliberately).
        #[arg(long)]
        update: bool,
        /// Parallel runs, at least 1 (default: one per core; for `partitions = N`, one per N cores).
        #[arg(long, value_parser = parse_jobs)]
        jobs: Option<usize>,
        /// Output directory for the runs (default: results/<name>-check).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// (internal) Run one benchmark case and print JSON.
    #[command(hide = true)]
    BenchOne {
        #[arg(long)]
        peers: u32,
        #[arg(long)]
        signing: String,
        #[arg(long)]
        seconds: f64,
        #[arg(long)]
        phases: bool,
        #[arg(long, default_value_t = 1)]
        components: u32,
        #[arg(long)]
        no_memo: bool,
        #[arg(long, default_value_t = 1)]
        partitions: u16,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Run {
            file,
            seed,
            sets,
            out,
            json,
            no_write,
            trace,
            force,
            no_memo,
        } => cmd_run(
            file.as_deref(),
            seed,
            &sets,
            out,
            json,
            no_write,
            models::RunOptions {
                trace,
                // The process exits after this run: do not spend seconds
                // freeing the simulated network at its end.
                skip_teardown: true,
                no_memo,
                progress: None,
            },
            force,
        ),
        Cmd::Bench {
            peers,
            signing,
            seconds,
            json,
            phases,
            sweep,
            sweep_runs,
            repeat,
            components,
            no_memo,
            partitions,
        } => bench::cmd_bench(&bench::BenchArgs {
            peers,
            signing,
            seconds,
            json,
            phases,
            sweep,
            sweep_runs,
            repeat,
            components,
            no_memo,
            partitions,
        }),
        Cmd::BenchOne {
            peers,
            signing,
            seconds,
            phases,
            components,
            no_memo,
            partitions,
        } => bench::cmd_bench_one(
            peers, &signing, seconds, phases, components, no_memo, partitions,
        ),
        Cmd::Sweep {
            file,
            sets,
            jobs,
            out,
            resume,
            shard,
        } => crate::commands::cmd_sweep(crate::commands::SweepArgs {
            file,
            sets,
            jobs,
            out,
            resume,
            shard,
        }),
        Cmd::Merge { out, dirs } => crate::commands::cmd_merge(&out, &dirs),
        Cmd::Check {
            file,
            baseline,
            sets,
            markdown,
            update,
            jobs,
            out,
        } => crate::commands::cmd_check(crate::commands::CheckArgs {
            file,
            baseline,
            sets,
            markdown,
            update,
            jobs,
            out,
        }),
        Cmd::Plot { dir } => crate::plot::cmd_plot(&dir),
        Cmd::Interop {
            dir,
            out,
            seed,
            json,
            no_write,
        } => crate::commands::interop::cmd_interop(&dir, out, seed, json, no_write),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            if let Some(ie) = e.downcast_ref::<load::InputError>() {
                eprintln!("error: {ie}");
                ExitCode::from(2)
            } else {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        }
    }
}

/// `--jobs`: at least one run at a time.
fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected the number of runs at once, at least 1".into()),
    }
}

#[allow(clippy::too_many_arguments)]
fn cmd_run(
    file: Option<&Path>,
    seed: Option<u64>,
    sets: &[String],
    out: Option<PathBuf>,
    json: bool,
    no_write: bool,
    opts: models::RunOptions,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let loaded = load::load_full(file, sets)?;
    let ignored: Vec<&str> = [
        (
            loaded.sweep.is_some(),
            "[sweep] (`meshsim sweep` runs every point)",
        ),
        (
            loaded.check.is_some(),
            "[check] (`meshsim check` compares with a baseline)",
        ),
    ]
    .into_iter()
    .filter_map(|(has, what)| has.then_some(what))
    .collect();
    if !ignored.is_empty() && !json {
        eprintln!(
            "note: `meshsim run` runs the base point of {} once, without its {}",
            loaded.label,
            ignored.join(" and ")
        );
    }
    let (exp, label) = (loaded.exp, loaded.label);
    crate::estimate::check(&label, &exp, 1, force)?;
    let seed = seed.unwrap_or(exp.seed);
    // Output paths are checked before the run, not after it.
    let out = (!no_write).then(|| {
        let option = if out.is_some() {
            "--out"
        } else {
            "results directory"
        };
        let dir = out.unwrap_or_else(|| PathBuf::from("results").join(&exp.name));
        (option, dir)
    });
    if let Some((option, dir)) = &out {
        crate::commands::make_out_dir(option, dir)?;
    }
    if let Some(t) = &opts.trace {
        if t.is_dir() {
            return Err(load::InputError::Options(format!(
                "--trace {}: is a directory; name a file, e.g. --trace {}",
                t.display(),
                t.join("trace.jsonl").display()
            ))
            .into());
        }
        // The trace's folder is made like the results folder.
        if let Some(dir) = t.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                load::InputError::Options(format!(
                    "--trace {}: cannot create {}: {e}",
                    t.display(),
                    dir.display()
                ))
            })?;
        }
    }
    let mut opts = opts;
    let progress = RunProgress::start(exp.duration_s);
    // Only when a bar is drawn (the engine then stores its clock at every step).
    opts.progress = progress.thread.is_some().then(|| progress.reached.clone());
    let wall = std::time::Instant::now();
    let result = models::run_with(&exp, seed, sim::EntropyMode::Seeded, &opts);
    let wall_s = wall.elapsed().as_secs_f64();
    progress.finish();
    let output = match result {
        Ok(s) => s,
        // The run went well; an output could not be written: rerunning is no help.
        Err(e @ models::RunFailure::Output(_)) => anyhow::bail!("{e}"),
        Err(e) => {
            let mut cmd = format!(
                "meshsim run {} --seed {seed}",
                file.map_or(String::new(), |f| f.display().to_string())
            );
            for s in sets {
                cmd.push_str(&format!(" --set {s}"));
            }
            anyhow::bail!("{e}\nnote: rerun with `{cmd}`");
        }
    };
    let mut summary = output.summary.clone();
    summary.wall_seconds = wall_s;
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", output::summary_text(&summary, exp.partitions));
    }
    if let Some((_, dir)) = out {
        let written = write_run(&dir, &exp, &label, seed, &summary, &output)
            .with_context(|| format!("writing {}", dir.display()))?;
        if !json {
            println!(
                "  results               {}/ ({})",
                dir.display(),
                written.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar for one long run, on stderr when it is a terminal: the
/// simulated seconds reached, drawn from the second second of wall time on
/// (short runs show none).
struct RunProgress {
    reached: std::sync::Arc<std::sync::atomic::AtomicU64>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunProgress {
    fn start(duration_s: f64) -> RunProgress {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::Arc;
        let reached = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let thread = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
            let (reached, done) = (reached.clone(), done.clone());
            std::thread::spawn(move || {
                let start = std::time::Instant::now();
                let tick = std::time::Duration::from_millis(100);
                for _ in 0..10 {
                    if done.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(tick);
                }
                let total_ms = (duration_s * 1000.0) as u64;
                let bar = indicatif::ProgressBar::new(total_ms.max(1));
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{bar:30} {msg}  eta {eta}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                while !done.load(Ordering::Relaxed) {
                    let ms = reached.load(Ordering::Relaxed) / 1_000_000;
                    let speed = ms as f64 / 1000.0 / start.elapsed().as_secs_f64().max(1e-9);
                    bar.set_position(ms.min(total_ms));
                    bar.set_message(format!(
                        "{:.1}/{duration_s} s simulated, {speed:.2}x real time",
                        ms as f64 / 1000.0
                    ));
                    std::thread::sleep(tick);
                }
                bar.finish_and_clear();
            })
        });
        RunProgress {
            reached,
            done,
            thread,
        }
    }

    fn finish(mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn write_run(
    dir: &Path,
    exp: &models::Experiment,
    label: &str,
    seed: u64,
    s: &RunSummary,
    detail: &models::RunOutput,
) -> anyhow::Result<Vec<String>> {
    // The seed actually used (`--seed` overrides the file's): the file
    // reproduces the run as it is.
    let mut exp = exp.clone();
    exp.seed = seed;
    let as_run = toml::to_string_pretty(&exp)?;
    let exp_hash = blake3::hash(as_run.as_bytes()).to_hex()[..16].to_string();
    output::write_atomic(&dir.join("experiment.toml"), as_run.as_bytes())?;
    let meta = serde_json::json!({
        "meshsim_version": env!("CARGO_PKG_VERSION"),
        "git_commit": output::git_commit(),
        "allocator": crate::alloc::allocator(),
        "experiment_file": label,
        "experiment_hash": exp_hash,
        "seed": seed,
        "trace_hash": s.trace_hash,
    });
    output::write_atomic(
        &dir.join("meta.json"),
        serde_json::to_string_pretty(&meta)?.as_bytes(),
    )?;
    let run_id = format!("{}-s{seed}", exp.name);
    let mut written: Vec<String> = ["experiment.toml", "meta.json", "runs.csv", "timing.csv"]
        .map(String::from)
        .to_vec();
    for (name, bytes) in output::detail_files(&run_id, detail)? {
        output::write_atomic(&dir.join(name), &bytes)?;
        written.push(name.to_string());
    }
    output::write_atomic(
        &dir.join("runs.csv"),
        &output::runs_csv(&[(run_id.clone(), s.clone())])?,
    )?;
    output::write_atomic(
        &dir.join("timing.csv"),
        format!(
            "run_id,wall_seconds,sim_per_wall\n{run_id},{:.3},{:.2}\n",
            s.wall_seconds,
            s.sim_seconds / s.wall_seconds.max(1e-9)
        )
        .as_bytes(),
    )?;
    Ok(written)
}
