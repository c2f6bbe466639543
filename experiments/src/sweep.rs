//! Parameter sweeps: the `[sweep]` section's expansion into points and
//! runs, parallel execution with one result file per finished run, resume,
//! shards and merging.
//!
//! The `[sweep]` section is [`crate::sections::SweepSpec`].

use crate::load::{self, InputError, Loaded};
use crate::output::{self, write_atomic};
use crate::sections::{AxisSpec, SweepMode, SweepSpec};
use models::{Experiment, RunSummary};
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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

fn set_err(label: &str, key: &str, m: impl Into<String>) -> InputError {
    InputError::Key {
        file: label.to_string(),
        key: key.to_string(),
        message: m.into(),
    }
}

fn as_f64(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// The list of assignments each axis contributes.
fn axis_values(
    label: &str,
    i: usize,
    a: &AxisSpec,
) -> Result<(Vec<String>, Vec<Vec<toml::Value>>), InputError> {
    let at = format!("sweep.axis[{i}]");
    let keys: Vec<String> = match (&a.key, &a.keys) {
        (Some(k), None) => vec![k.clone()],
        (None, Some(ks)) if !ks.is_empty() => ks.clone(),
        _ => {
            return Err(set_err(
                label,
                &at,
                "give exactly one of `key = \"a.b\"` or `keys = [\"a.b\", ...]`",
            ))
        }
    };
    let given = [a.values.is_some(), a.range.is_some(), a.log.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if given != 1 {
        return Err(set_err(
            label,
            &at,
            "give exactly one of `values`, `range` or `log`",
        ));
    }
    let single: Vec<toml::Value> = if let Some(vs) = &a.values {
        if vs.is_empty() {
            return Err(set_err(
                label,
                &format!("{at}.values"),
                "at least one value",
            ));
        }
        if keys.len() > 1 {
            let mut out = Vec::new();
            for (j, v) in vs.iter().enumerate() {
                match v {
                    toml::Value::Array(items) if items.len() == keys.len() => {
                        out.push(items.clone())
                    }
                    other => {
                        return Err(set_err(
                            label,
                            &format!("{at}.values[{j}]"),
                            format!(
                                "{other} is not an array of {} values (one per key)",
                                keys.len()
                            ),
                        ))
                    }
                }
            }
            return Ok((keys, out));
        }
        vs.clone()
    } else if let Some(r) = &a.range {
        let (Some(start), Some(stop), Some(step)) =
            (as_f64(&r.start), as_f64(&r.stop), as_f64(&r.step))
        else {
            return Err(set_err(
                label,
                &format!("{at}.range"),
                "start, stop and step must be numbers",
            ));
        };
        if !(step > 0.0 && stop >= start && ((stop - start) / step) < 100_000.0) {
            return Err(set_err(
                label,
                &format!("{at}.range"),
                format!("needs step > 0 and stop >= start (at most 100000 values), got start = {start}, stop = {stop}, step = {step}"),
            ));
        }
        let ints = matches!(
            (&r.start, &r.stop, &r.step),
            (
                toml::Value::Integer(_),
                toml::Value::Integer(_),
                toml::Value::Integer(_)
            )
        );
        let n = ((stop - start) / step + 1e-9).floor() as usize + 1;
        (0..n)
            .map(|k| {
                let x = start + step * k as f64;
                if ints {
                    toml::Value::Integer(x.round() as i64)
                } else {
                    toml::Value::Float(x)
                }
            })
            .collect()
    } else if let Some(l) = &a.log {
        if !(l.start > 0.0 && l.stop > 0.0 && l.points >= 2 && l.points <= 100_000) {
            return Err(set_err(
                label,
                &format!("{at}.log"),
                format!(
                    "needs start > 0, stop > 0 and 2 <= points <= 100000, got {}, {}, {}",
                    l.start, l.stop, l.points
                ),
            ));
        }
        let (a0, a1) = (l.start.ln(), l.stop.ln());
        let mut vals: Vec<toml::Value> = Vec::new();
        for k in 0..l.points {
            let x = (a0 + (a1 - a0) * f64::from(k) / f64::from(l.points - 1)).exp();
            let v = if l.integer {
                toml::Value::Integer(x.round() as i64)
            } else {
                toml::Value::Float(x)
            };
            if !vals.contains(&v) {
                vals.push(v);
            }
        }
        vals
    } else {
        unreachable!("checked above")
    };
    Ok((keys, single.into_iter().map(|v| vec![v]).collect()))
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

fn params_of(p: &Point) -> BTreeMap<String, String> {
    p.assignments
        .iter()
        .map(|(k, v)| (k.clone(), value_str(v)))
        .collect()
}

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
    let runs_dir = opts.out.join("runs");
    let fail_dir = opts.out.join("failures");
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
    std::fs::create_dir_all(&runs_dir)?;
    std::fs::create_dir_all(&fail_dir)?;
    write_plan_files(plan, &opts.out, &as_planned)?;
    let mut todo = Vec::new();
    let mut skipped = 0;
    for (i, r) in plan.runs.iter().enumerate() {
        if let Some((k, n)) = opts.shard {
            if i % n != k {
                continue;
            }
        }
        let finished = runs_dir.join(format!("{}.json", r.run_id)).exists()
            || fail_dir.join(format!("{}.json", r.run_id)).exists();
        if finished {
            if opts.resume {
                skipped += 1;
                continue;
            }
            // A fresh (non-resumed) sweep replaces old results.
            let _ = std::fs::remove_file(runs_dir.join(format!("{}.json", r.run_id)));
            let _ = std::fs::remove_file(fail_dir.join(format!("{}.json", r.run_id)));
        }
        todo.push(r.clone());
    }
    // Memory safety valve: refuse before anything runs (see `estimate`).
    let parallel = opts.jobs.max(1).min(todo.len().max(1));
    for r in &todo {
        crate::estimate::check(
            &plan.loaded.label,
            &plan.points[r.point].exp,
            parallel,
            false,
        )?;
    }
    let bar = progress_bar(opts.progress, todo.len());
    let done = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let sim_s = Mutex::new(0.0f64);
    let started = std::time::Instant::now();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()?;
    pool.install(|| {
        todo.par_iter().for_each(|r| {
            if STOP.load(Ordering::SeqCst) {
                return;
            }
            let p = &plan.points[r.point];
            let wall = std::time::Instant::now();
            let result = models::run_full(&p.exp, r.seed, sim::EntropyMode::Seeded);
            let wall_s = wall.elapsed().as_secs_f64();
            let write = match result {
                Ok(out) => {
                    let mut s = out.summary.clone();
                    s.wall_seconds = wall_s;
                    // Detail files first: a run counts as finished once its JSON exists.
                    let detail = output::detail_files(&r.run_id, &out).and_then(|files| {
                        for (name, bytes) in files {
                            write_atomic(
                                &opts.out.join("series").join(format!("{}.{name}", r.run_id)),
                                &bytes,
                            )?;
                        }
                        Ok(())
                    });
                    if let Err(e) = detail {
                        errors
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(format!("{}: {e}", r.run_id));
                    }
                    *sim_s.lock().unwrap_or_else(|e| e.into_inner()) += s.sim_seconds;
                    let rec = RunRecord {
                        run_id: r.run_id.clone(),
                        point_id: r.point,
                        params: params_of(p),
                        seed: r.seed,
                        summary: s,
                    };
                    done.fetch_add(1, Ordering::SeqCst);
                    serde_json::to_vec_pretty(&rec)
                        .map_err(anyhow::Error::from)
                        .and_then(|b| {
                            Ok(write_atomic(
                                &runs_dir.join(format!("{}.json", r.run_id)),
                                &b,
                            )?)
                        })
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
                    serde_json::to_vec_pretty(&rec)
                        .map_err(anyhow::Error::from)
                        .and_then(|b| {
                            Ok(write_atomic(
                                &fail_dir.join(format!("{}.json", r.run_id)),
                                &b,
                            )?)
                        })
                }
            };
            if let Err(e) = write {
                errors
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{}: {e}", r.run_id));
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
        anyhow::bail!("could not write results: {}", errs.join("; "));
    }
    Ok(ExecReport {
        done: done.into_inner(),
        failed: failed.into_inner(),
        skipped,
        interrupted: STOP.load(Ordering::SeqCst),
    })
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
fn first_difference(a: &str, b: &str) -> Option<String> {
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

/// The detail tables that `write_tables` writes when some run has them.
const DETAIL_TABLES: [&str; 7] = [
    "timeseries.csv",
    "messages.csv",
    "deliveries.csv",
    "syncs.csv",
    "sync_convergence.csv",
    "peers.csv",
    "peer_timeseries.csv",
];

/// Removes the per-run files and detail tables of an earlier sweep in `out`.
fn remove_results(out: &Path) -> anyhow::Result<()> {
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

/// Writes `experiment.toml` (`text`, from [`experiment_toml`]) and `points.csv`.
fn write_plan_files(plan: &Plan, out: &Path, text: &str) -> anyhow::Result<()> {
    write_atomic(&out.join("experiment.toml"), text.as_bytes())?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["point_id".to_string(), "label".to_string()];
    header.extend(plan.param_keys.iter().cloned());
    w.write_record(&header)?;
    for p in &plan.points {
        let params = params_of(p);
        let mut row = vec![p.id.to_string(), p.label()];
        row.extend(
            plan.param_keys
                .iter()
                .map(|k| params.get(k).cloned().unwrap_or_default()),
        );
        w.write_record(&row)?;
    }
    write_atomic(&out.join("points.csv"), &w.into_inner()?)?;
    Ok(())
}

/// Reads every `runs/*.json` of `dir`, sorted by run id.
pub fn read_records(dir: &Path) -> anyhow::Result<Vec<RunRecord>> {
    read_dir_json(&dir.join("runs"))
}

/// Reads every `failures/*.json` of `dir`, sorted by run id.
pub fn read_failures(dir: &Path) -> anyhow::Result<Vec<FailureRecord>> {
    read_dir_json(&dir.join("failures"))
}

fn read_dir_json<T: for<'de> Deserialize<'de>>(dir: &Path) -> anyhow::Result<Vec<T>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    files.sort();
    files
        .iter()
        .map(|f| {
            let b = std::fs::read(f)?;
            serde_json::from_slice(&b).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))
        })
        .collect()
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
            let mut header = vec!["run_id".to_string(), "point_id".to_string()];
            header.extend(param_keys.iter().map(|k| param_column(k)));
            header.extend(cols.iter().skip(1).map(|(k, _)| k.to_string()));
            w.write_record(&header)?;
        }
        let mut row = vec![r.run_id.clone(), r.point_id.to_string()];
        row.extend(
            param_keys
                .iter()
                .map(|k| r.params.get(k).cloned().unwrap_or_default()),
        );
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
    let mut header = vec!["run_id".to_string(), "point_id".to_string()];
    header.extend(param_keys.iter().map(|k| param_column(k)));
    header.extend(["seed", "error", "reproduce"].map(String::from));
    f.write_record(&header)?;
    for x in &failures {
        let mut row = vec![x.run_id.clone(), x.point_id.to_string()];
        row.extend(
            param_keys
                .iter()
                .map(|k| x.params.get(k).cloned().unwrap_or_default()),
        );
        row.extend([x.seed.to_string(), x.error.clone(), x.reproduce.clone()]);
        f.write_record(&row)?;
    }
    write_atomic(&dir.join("failures.csv"), &f.into_inner()?)?;
    // Detail files of the finished runs, concatenated in run order.
    for name in DETAIL_TABLES {
        let parts: Vec<Vec<u8>> = records
            .iter()
            .filter_map(|r| {
                std::fs::read(dir.join("series").join(format!("{}.{name}", r.run_id))).ok()
            })
            .collect();
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

/// The run ids of the `*.json` files in `dir` (none if it does not exist).
fn run_ids_in(dir: &Path) -> anyhow::Result<Vec<String>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => anyhow::bail!("{}: {e}", dir.display()),
    };
    let mut ids: Vec<String> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
        .collect();
    ids.sort();
    Ok(ids)
}

/// `meshsim merge --out OUT DIR...`: combines shard directories. Refuses
/// (bad input, before writing anything) a directory given twice, two
/// directories holding the same run (the same shard twice), directories of
/// different experiments, and a set of directories that misses runs of the
/// sweep (a missing or unfinished shard).
pub fn merge(out: &Path, dirs: &[PathBuf]) -> anyhow::Result<(usize, usize)> {
    let bad = |m: String| -> anyhow::Error { InputError::Options(format!("merge: {m}")).into() };
    if dirs.is_empty() {
        return Err(bad("name at least one directory to merge".into()));
    }
    let mut experiment: Option<String> = None;
    let mut seen: Vec<PathBuf> = Vec::new();
    // Run id -> the directory that holds it.
    let mut holder: BTreeMap<String, &Path> = BTreeMap::new();
    for d in dirs {
        let e = std::fs::read_to_string(d.join("experiment.toml")).map_err(|e| {
            bad(format!(
                "{}: not a sweep output directory ({e})",
                d.display()
            ))
        })?;
        let canonical = d.canonicalize().unwrap_or_else(|_| d.clone());
        if let Some(i) = seen.iter().position(|c| *c == canonical) {
            return Err(bad(format!(
                "{} is given twice (also as {}): name each shard's directory once",
                d.display(),
                dirs[i].display()
            )));
        }
        seen.push(canonical);
        match &experiment {
            None => experiment = Some(e),
            Some(x) => {
                if let Some(diff) = first_difference(x, &e) {
                    return Err(bad(format!(
                        "{}: a different experiment than {} ({diff})",
                        d.display(),
                        dirs[0].display()
                    )));
                }
            }
        }
        for sub in ["runs", "failures"] {
            for id in run_ids_in(&d.join(sub))? {
                match holder.get(&id) {
                    Some(other) if *other != d.as_path() => {
                        return Err(bad(format!(
                            "run {id} is in both {} and {}: the same shard twice? Name each shard's directory once",
                            other.display(),
                            d.display()
                        )))
                    }
                    _ => {
                        holder.insert(id, d);
                    }
                }
            }
        }
    }
    let exp = experiment.expect("at least one directory");
    let loaded = load::parse_full(
        &dirs[0].join("experiment.toml").display().to_string(),
        &exp,
        &[],
    )?;
    let plan = plan(loaded)?;
    let missing: Vec<&str> = plan
        .runs
        .iter()
        .filter(|r| !holder.contains_key(&r.run_id))
        .map(|r| r.run_id.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "{} of the sweep's {} runs are in none of these directories ({}{}): a shard is missing or unfinished. Name the directories of every shard (--shard I/N for each I from 0 to N-1); finish an interrupted one with `meshsim sweep FILE --resume --shard I/N --out DIR`",
            missing.len(),
            plan.runs.len(),
            missing[..missing.len().min(5)].join(", "),
            if missing.len() > 5 { ", ..." } else { "" }
        )));
    }
    if let Ok(old) = std::fs::read_to_string(out.join("experiment.toml")) {
        if first_difference(&old, &exp).is_some() {
            // Like a fresh sweep: another experiment's results go.
            remove_results(out)?;
        }
    }
    std::fs::create_dir_all(out.join("runs"))?;
    std::fs::create_dir_all(out.join("failures"))?;
    for d in dirs {
        for sub in ["runs", "failures", "series"] {
            let src = d.join(sub);
            if let Ok(rd) = std::fs::read_dir(&src) {
                let mut files: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
                files.sort();
                for f in files
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "csv"))
                {
                    let name = f.file_name().expect("file name");
                    write_atomic(&out.join(sub).join(name), &std::fs::read(&f)?)?;
                }
            }
        }
        for f in ["points.csv"] {
            if let Ok(b) = std::fs::read(d.join(f)) {
                write_atomic(&out.join(f), &b)?;
            }
        }
    }
    write_atomic(&out.join("experiment.toml"), exp.as_bytes())?;
    write_tables(out, &plan.param_keys)
}
