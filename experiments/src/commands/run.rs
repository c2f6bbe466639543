//! `meshsim run`: one experiment, its summary printed and its results
//! written (`experiment.toml`, `meta.json`, `runs.csv`, `timing.csv` and the
//! detail tables).

use crate::load;
use crate::output;
use anyhow::Context as _;
use models::RunSummary;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Run one experiment and print its summary.
///
/// Examples:
///   meshsim run                                   # the built-in quickstart (200 peers, 60 s)
///   meshsim run experiments/quickstart.toml --seed 7 --json
///   meshsim run --set peers=500 --set gossipsub.mesh_n=8
///   meshsim run experiments/large.toml            # 10,000 peers on 2 threads (`partitions = 2`)
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    /// Experiment file (TOML). Without it, the built-in quickstart runs.
    pub file: Option<PathBuf>,
    /// Master seed (default: the file's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override any key by its dotted path, e.g. `--set gossipsub.mesh_n=8`. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Output directory (default: results/<experiment name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the summary as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write no files (not with --out).
    #[arg(long, conflicts_with = "out")]
    pub no_write: bool,
    /// Write the event trace as JSON Lines to FILE (schema in the README).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Run even if the estimated memory exceeds the limit (see `limits.max_memory_mib`).
    #[arg(long)]
    pub force: bool,
    /// Verify every ed25519 signature again at every peer instead of
    /// remembering successful verifications: slower, with the same
    /// results and trace hash (only `memo_hits`/`memo_misses` in
    /// --json differ, both 0); for checking exactly that.
    #[arg(long)]
    pub no_memo: bool,
    /// Do not draw plots/ and report.html (draw them later with `meshsim plot DIR`).
    #[arg(long)]
    pub no_plots: bool,
}

/// `meshsim run`.
pub fn cmd_run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let RunArgs {
        file,
        seed,
        sets,
        out,
        json,
        no_write,
        trace,
        force,
        no_memo,
        no_plots,
    } = a;
    let (file, sets) = (file.as_deref(), &sets[..]);
    let opts = models::RunOptions {
        trace: trace
            .as_deref()
            .map(|t| std::sync::Arc::new(crate::output::FileTrace::new(t)) as std::sync::Arc<_>),
        // The process exits after this run: do not spend seconds
        // freeing the simulated network at its end.
        skip_teardown: true,
        no_memo,
        progress: None,
    };
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
        super::make_out_dir(option, dir)?;
        crate::output::disk::check_free(option, dir, crate::output::disk::run_output_bytes(&exp))?;
    }
    if let Some(t) = &trace {
        super::output_file("--trace", t)?;
    }
    let mut opts = opts;
    let progress = RunProgress::start(exp.duration_s);
    // Only when a bar is drawn (the engine then stores its clock at every step).
    opts.progress = progress.thread.is_some().then(|| progress.reached.clone());
    let wall = crate::wall::now();
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
        print!(
            "{}",
            output::summary_text(&summary, exp.partitions, &exp.network.transport.describe())
        );
    }
    if let Some((_, dir)) = out {
        let written = write_run(&dir, &exp, &label, seed, &summary, &output)
            .with_context(|| format!("writing {}", dir.display()))?;
        if !json {
            super::print_written(&dir, &written);
        }
        if !no_plots {
            super::plots_and_report(&dir, json);
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
                let start = crate::wall::now();
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
        "experiment_file": label,
        "experiment_hash": exp_hash,
    });
    output::write_atomic(
        &dir.join("meta.json"),
        &output::meta_json(seed, &s.trace_hash, meta)?,
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
