//! `meshsim check`: runs an experiment's sweep and compares each point's
//! metrics with a baseline CSV (or rewrites it with `--update`).

use super::{exec_options, parse_jobs, plan_out_dir};
use crate::check;
use crate::load::{self, InputError};
use crate::output::write_atomic;
use crate::sweep;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

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
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct CheckArgs {
    /// Experiment file with a [check] section (and usually a [sweep]).
    pub file: PathBuf,
    /// Baseline CSV (point,metric,value).
    #[arg(long)]
    pub baseline: PathBuf,
    /// Override any key by its dotted path. Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Also write the comparison as a Markdown table.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Rewrite the baseline from this run (deliberately).
    #[arg(long)]
    pub update: bool,
    /// Parallel runs, at least 1 (default: one per core; for `partitions = N`, one per N cores).
    #[arg(long, value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Output directory for the runs (default: results/<name>-check).
    #[arg(long)]
    pub out: Option<PathBuf>,
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
    check::validate(&label, &spec, &check::checkable_metrics())?;
    // Read the baseline first: a malformed one is bad input, before any run.
    let baseline = if a.update {
        None
    } else {
        Some(check::read_baseline(&a.baseline)?)
    };
    // The files written after the runs must be writable before them.
    if let Some(md) = &a.markdown {
        super::output_file("--markdown", md)?;
    }
    if a.update {
        super::output_file("--baseline", &a.baseline)?;
    }
    let plan = sweep::plan(loaded)?;
    let out = plan_out_dir(&plan, a.out, format!("{}-check", plan.loaded.exp.name))?;
    super::check_disk(&plan, &out, None)?;
    let opts = exec_options(&plan, &a.file, &a.sets, a.jobs, &out);
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
    let now = check::point_means(&sweep::read_records(&out)?, &labels);
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
