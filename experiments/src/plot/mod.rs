//! `meshsim plot DIR`: plots (PNG and SVG) and `report.html` from the CSV
//! files of a results directory alone.
//!
//! - [`data`]: reading `runs.csv`, `deliveries.csv`, `timeseries.csv`;
//!   grouping runs into parameter points and swept axes.
//! - `chart`: drawing figures with `plotters` (embedded font, no system
//!   font library).
//! - `latency`, `time`, `sweep`, `sync`: the figures of `deliveries.csv`,
//!   `timeseries.csv`, a sweep's `runs.csv` and `syncs.csv`.
//! - [`report`]: the HTML page.
//! - this file: [`plot_dir`] (every figure, in report order) and
//!   [`metric_label`].
//!
//! Plots, each skipped when its input is absent:
//!
//! | file stem | input | content |
//! |---|---|---|
//! | `latency_cdf` | `deliveries.csv` | CDF of first-delivery latency, one curve per point (seeds pooled) or per run |
//! | `delivery_over_time` | `timeseries.csv` | `delivery_ratio` over time |
//! | `latency_over_time` | `timeseries.csv` | one panel per `latency_ms_*` metric |
//! | `mesh_over_time` | `timeseries.csv` | `mesh_degree_*`, `isolated_peers`, `connections` |
//! | `other_over_time` | `timeseries.csv` | every other time-series metric |
//! | `sweep_vs_<axis>` | `runs.csv` (sweeps) | delivery ratio, p99 latency, duplicates, bytes per peer vs the axis: mean and ±1 standard deviation over seeds |
//! | `heatmap_<metric>` | `runs.csv` (two swept axes) | the metric's mean over seeds on the grid of both axes |
mod chart;
pub mod data;
mod latency;
pub mod report;
mod sweep;
mod sync;
mod time;

pub use chart::fmt_value;
pub use sweep::{SWEEP_METRICS, SYNC_METRICS};

use crate::output::write_atomic;
use anyhow::Context as _;
use chart::Figure;
use data::{Deliveries, Study, Timeseries};
use std::collections::BTreeSet;
use std::path::Path;

/// Most points drawn on one curve (CDFs are sampled at this many quantiles).
const MAX_CURVE_POINTS: usize = 400;

/// A plot written to `DIR/plots/<name>.png` and `.svg`.
#[derive(Debug, Clone)]
pub struct PlotInfo {
    /// File stem, e.g. `latency_cdf`.
    pub name: String,
    pub title: String,
    /// One sentence on what the plot shows and how it was aggregated.
    pub description: String,
}

/// Writes every plot the CSV files of `dir` allow, removes stale `*.png` and
/// `*.svg` files from `dir/plots/`, and writes `dir/report.html`.
pub fn plot_dir(dir: &Path) -> anyhow::Result<Vec<PlotInfo>> {
    let runs_path = dir.join("runs.csv");
    // Bad input (exit 2), like a bad experiment file.
    let bad = |m: String| crate::load::InputError::Options(m);
    if !runs_path.is_file() {
        return Err(bad(format!(
            "{} not found: `meshsim plot DIR` needs the runs.csv that `meshsim run` or `meshsim sweep` writes",
            runs_path.display()
        ))
        .into());
    }
    let runs = data::Runs::load(&runs_path).map_err(|e| {
        let m = format!("{e:#}");
        let path = runs_path.display().to_string();
        bad(if m.contains(&path) {
            m
        } else {
            format!("{path}: {m}")
        })
    })?;
    let study = Study::new(runs);
    let deliveries = optional(dir, "deliveries.csv", |p| Deliveries::load(p, &study))?;
    let timeseries = optional(dir, "timeseries.csv", |p| Timeseries::load(p, &study))?;

    let mut figures = figures(&study, deliveries.as_ref(), timeseries.as_ref());
    let legend: Vec<String> = study.points.iter().map(|p| p.label.clone()).collect();
    if let Some(f) = sync::sync_rpcs_figure(dir, &study, &legend)? {
        figures.push(f);
    }
    let plot_dir = dir.join("plots");
    let mut infos = Vec::new();
    for (info, fig) in figures {
        let (png, svg) = chart::render(&fig).with_context(|| format!("plot {}", info.name))?;
        write_atomic(&plot_dir.join(format!("{}.png", info.name)), &png)
            .with_context(|| format!("writing {}", plot_dir.display()))?;
        write_atomic(&plot_dir.join(format!("{}.svg", info.name)), svg.as_bytes())
            .with_context(|| format!("writing {}", plot_dir.display()))?;
        infos.push(info);
    }
    remove_stale(&plot_dir, &infos)?;
    report::write_report(dir, &study, &infos)?;
    Ok(infos)
}

fn optional<T>(
    dir: &Path,
    name: &str,
    load: impl FnOnce(&Path) -> anyhow::Result<T>,
) -> anyhow::Result<Option<T>> {
    let p = dir.join(name);
    if !p.is_file() {
        return Ok(None);
    }
    // A file that is there but unreadable is bad input (exit 2), as runs.csv is.
    load(&p).map(Some).map_err(|e| {
        let m = format!("{e:#}");
        let path = p.display().to_string();
        crate::load::InputError::Options(if m.contains(&path) {
            m
        } else {
            format!("{path}: {m}")
        })
        .into()
    })
}

/// Removes plot files a previous `meshsim plot` wrote that this one did not.
fn remove_stale(plot_dir: &Path, infos: &[PlotInfo]) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(plot_dir) else {
        return Ok(());
    };
    let keep: BTreeSet<&str> = infos.iter().map(|i| i.name.as_str()).collect();
    for e in entries {
        let path = e?.path();
        let ext = path.extension().and_then(|e| e.to_str());
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if matches!(ext, Some("png" | "svg")) && !keep.contains(stem) {
            std::fs::remove_file(&path)
                .with_context(|| format!("removing stale {}", path.display()))?;
        }
    }
    Ok(())
}

/// A readable label with units for a metric column: `latency_ms_p99` ->
/// `latency p99 (ms)`, `bytes_sent_per_peer` -> `bytes sent per peer`.
pub fn metric_label(name: &str) -> String {
    match name {
        "mesh_degree_mean" => return "mean mesh degree (peers)".into(),
        "mesh_degree_min" => return "min mesh degree (peers)".into(),
        "mesh_degree_max" => return "max mesh degree (peers)".into(),
        "isolated_peers" => return "isolated peers (no mesh peer)".into(),
        "peers_below_d_lo" => return "peers below D_lo (mesh too small)".into(),
        _ => {}
    }
    let mut words = Vec::new();
    let mut unit = None;
    for (i, w) in name.split('_').enumerate() {
        match w {
            "ms" | "s" | "bytes" | "permille" | "kib" if i > 0 => unit = Some(w),
            _ => words.push(w),
        }
    }
    match unit {
        Some(u) => format!("{} ({u})", words.join(" ")),
        None => words.join(" "),
    }
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Every figure the inputs allow, in report order.
fn figures(
    study: &Study,
    deliveries: Option<&Deliveries>,
    timeseries: Option<&Timeseries>,
) -> Vec<(PlotInfo, Figure)> {
    let mut out = Vec::new();
    let legend: Vec<String> = study.points.iter().map(|p| p.label.clone()).collect();
    let per = if study.is_sweep {
        "one curve per parameter point"
    } else {
        "one curve per run"
    };
    if let Some(d) = deliveries {
        if let Some(f) = latency::latency_cdf(study, d, &legend, per) {
            out.push(f);
        }
    }
    if let Some(ts) = timeseries {
        out.extend(time::time_figures(study, ts, &legend, per));
    }
    if study.is_sweep {
        out.extend(sweep::sweep_figures(study));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_labels_carry_units() {
        assert_eq!(metric_label("latency_ms_p99"), "latency p99 (ms)");
        assert_eq!(metric_label("bytes_sent_per_peer"), "bytes sent per peer");
        assert_eq!(metric_label("convergence_time_s"), "convergence time (s)");
        assert_eq!(metric_label("delivery_ratio"), "delivery ratio");
        assert_eq!(
            metric_label("peers_below_d_lo"),
            "peers below D_lo (mesh too small)"
        );
    }
}
