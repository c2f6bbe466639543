//! `meshsim plot DIR`: plots (PNG and SVG) and `report.html` from the CSV
//! files of a results directory alone.
//!
//! - [`data`]: reading `runs.csv`, `deliveries.csv`, `timeseries.csv`;
//!   grouping runs into parameter points and swept axes.
//! - `chart`: drawing figures with `plotters` (embedded font, no system
//!   font library).
//! - [`report`]: the HTML page.
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
pub mod report;

use crate::output::write_atomic;
use anyhow::Context as _;
pub use chart::fmt_value;
use chart::{Body, Figure, Heatmap, Panel, Series, XAxis};
use data::{mean_std, Deliveries, Study, Timeseries};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// History-sync metrics shown against swept parameters when syncs happened.
pub const SYNC_METRICS: &[&str] = &[
    "sync_convergence_s",
    "sync_round_trips_p50",
    "sync_bytes_received",
    "messages_recovered_by_sync",
];

fn history_used(study: &Study) -> bool {
    (0..study.runs.rows.len()).any(|r| study.runs.num(r, "syncs").is_some_and(|x| x > 0.0))
}

/// Round trips against entries fetched, from `syncs.csv` (one series per point or run).
fn sync_rpcs_figure(
    dir: &Path,
    study: &Study,
    legend: &[String],
) -> anyhow::Result<Option<(PlotInfo, Figure)>> {
    let path = dir.join("syncs.csv");
    if !path.is_file() {
        return Ok(None);
    }
    let mut rdr =
        csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
    let headers = rdr.headers()?.clone();
    let idx = |n: &str| headers.iter().position(|h| h == n);
    let (Some(ri), Some(ei), Some(ti)) =
        (idx("run_id"), idx("entries_fetched"), idx("round_trips"))
    else {
        anyhow::bail!(
            "{}: needs columns run_id, entries_fetched, round_trips",
            path.display()
        );
    };
    // (series, entries) -> (sum of round trips, count)
    let mut acc: BTreeMap<(usize, u64), (f64, f64)> = BTreeMap::new();
    for (line, rec) in rdr.records().enumerate() {
        let rec = rec.with_context(|| format!("{} line {}", path.display(), line + 2))?;
        let Some(series) = study.points.iter().position(|p| {
            p.runs
                .iter()
                .any(|&r| study.runs.text(r, "run_id") == &rec[ri])
        }) else {
            continue;
        };
        let (Ok(e), Ok(t)) = (rec[ei].parse::<u64>(), rec[ti].parse::<f64>()) else {
            anyhow::bail!(
                "{} line {}: entries_fetched and round_trips must be numbers",
                path.display(),
                line + 2
            );
        };
        let a = acc.entry((series, e)).or_default();
        a.0 += t;
        a.1 += 1.0;
    }
    if acc.is_empty() {
        return Ok(None);
    }
    let mut series: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
    for ((k, e), (sum, n)) in acc {
        series.entry(k).or_default().push((e as f64, sum / n));
    }
    let panel = Panel {
        title: "Round trips per sync vs entries fetched".into(),
        x_label: "entries fetched by the sync".into(),
        y_label: "round trips".into(),
        x: XAxis::Numeric,
        series: series
            .into_iter()
            .map(|(key, points)| Series {
                key,
                points,
                err: Vec::new(),
                markers: true,
            })
            .collect(),
        y_from_zero: true,
        y_range: None,
        x_range: None,
    };
    Ok(Some((
        PlotInfo {
            name: "sync_rpcs_vs_entries".into(),
            title: "History sync: round trips vs missing entries".into(),
            description: "Each lockstep sync's round trips against the entries it fetched (mean over syncs with the same count), from syncs.csv.".into(),
        },
        Figure {
            title: "History sync: round trips vs entries fetched".into(),
            subtitle: "syncs.csv: mean round trips per entries-fetched value".into(),
            legend: legend.to_vec(),
            legend_markers: true,
            body: Body::Panels {
                panels: vec![panel],
                columns: 1,
            },
        },
    )))
}

/// Metrics shown against swept parameters and in heatmaps.
pub const SWEEP_METRICS: &[&str] = &[
    "delivery_ratio",
    "latency_ms_p99",
    "duplicates_per_delivery",
    "bytes_sent_per_peer",
];

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
    if let Some(f) = sync_rpcs_figure(dir, &study, &legend)? {
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
    if p.is_file() {
        load(&p).map(Some)
    } else {
        Ok(None)
    }
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
        if let Some(f) = latency_cdf(study, d, &legend, per) {
            out.push(f);
        }
    }
    if let Some(ts) = timeseries {
        out.extend(time_figures(study, ts, &legend, per));
    }
    if study.is_sweep {
        for (i, axis) in study.axes.iter().enumerate() {
            if history_used(study) {
                if let Some(f) = sweep_vs_axis(study, i, SYNC_METRICS) {
                    out.push((
                        PlotInfo {
                            name: format!("sync_vs_{}", file_safe(&axis.short)),
                            title: format!("History sync vs {}", axis.title()),
                            description: format!(
                                "Sync convergence time, round trips, bytes and messages recovered only by sync against {}: means over seeds, bars ±1 standard deviation.",
                                axis.title()
                            ),
                        },
                        f,
                    ));
                }
            }
            if let Some(f) = sweep_vs_axis(study, i, SWEEP_METRICS) {
                out.push((
                    PlotInfo {
                        name: format!("sweep_vs_{}", file_safe(&axis.short)),
                        title: format!("Metrics vs {}", axis.title()),
                        description: format!(
                            "Each metric against {}: points are means over seeds, bars ±1 standard deviation.",
                            axis.title()
                        ),
                    },
                    f,
                ));
            }
        }
        if study.axes.len() == 2 {
            out.extend(heatmaps(study));
        }
    }
    out
}

fn latency_cdf(
    study: &Study,
    d: &Deliveries,
    legend: &[String],
    per: &str,
) -> Option<(PlotInfo, Figure)> {
    let mut series = Vec::new();
    let mut total = 0;
    for (&p, (lat, rows)) in &d.by_point {
        let mut lat = lat.clone();
        lat.sort_by(f64::total_cmp);
        total += lat.len();
        if lat.is_empty() || *rows == 0 {
            continue;
        }
        let n = *rows as f64;
        let step = lat.len().div_ceil(MAX_CURVE_POINTS).max(1);
        let mut pts = vec![(lat[0], 0.0)];
        let mut k = step - 1;
        while k < lat.len() {
            pts.push((lat[k], (k + 1) as f64 / n));
            k += step;
        }
        if (lat.len() - 1) % step != 0 {
            pts.push((lat[lat.len() - 1], lat.len() as f64 / n));
        }
        series.push(Series {
            key: p,
            points: pts,
            err: Vec::new(),
            markers: false,
        });
    }
    if series.is_empty() {
        return None;
    }
    let pooled = if study.is_sweep { ", seeds pooled" } else { "" };
    let fig = Figure {
        title: "First-delivery latency (CDF)".into(),
        subtitle: format!("deliveries.csv: {total} deliveries; {per}{pooled}"),
        legend: legend.to_vec(),
        legend_markers: false,
        body: Body::Panels {
            panels: vec![Panel {
                title: String::new(),
                x_label: "first-delivery latency (ms)".into(),
                y_label: "fraction of deliveries".into(),
                x: XAxis::Numeric,
                series,
                y_from_zero: true,
                y_range: Some((0.0, 1.0)),
                x_range: None,
            }],
            columns: 1,
        },
    };
    let info = PlotInfo {
        name: "latency_cdf".into(),
        title: fig.title.clone(),
        description: format!(
            "Share of expected deliveries that arrived within a given latency ({per}{pooled}); a curve that ends below 1 means some deliveries never arrived."
        ),
    };
    Some((info, fig))
}

/// Panels for the given time-series metrics: one curve per point, the mean
/// over the point's runs at each sample time.
fn time_panels(ts: &Timeseries, metrics: &[&String]) -> Vec<Panel> {
    metrics
        .iter()
        .map(|m| {
            let by_point = &ts.metrics[*m];
            let series = by_point
                .iter()
                .map(|(&p, samples)| {
                    let pts: Vec<(f64, f64)> = samples
                        .iter()
                        .filter_map(|(t, v)| mean_std(v).map(|(mean, _)| (t.0, mean)))
                        .collect();
                    Series {
                        key: p,
                        points: thin(pts),
                        err: Vec::new(),
                        markers: false,
                    }
                })
                .collect();
            let is_ratio = m.ends_with("ratio")
                && by_point
                    .values()
                    .flat_map(|s| s.values().flatten())
                    .all(|v| (0.0..=1.0).contains(v));
            Panel {
                title: metric_label(m),
                x_label: "simulated time (s)".into(),
                y_label: metric_label(m),
                x: XAxis::Numeric,
                series,
                y_from_zero: true,
                y_range: is_ratio.then_some((0.0, 1.0)),
                x_range: None,
            }
        })
        .collect()
}

/// Keeps at most [`MAX_CURVE_POINTS`] evenly spaced points (and the last).
fn thin(pts: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if pts.len() <= MAX_CURVE_POINTS {
        return pts;
    }
    let step = pts.len().div_ceil(MAX_CURVE_POINTS);
    let last = pts[pts.len() - 1];
    let mut out: Vec<(f64, f64)> = pts.into_iter().step_by(step).collect();
    if out.last() != Some(&last) {
        out.push(last);
    }
    out
}

fn time_figures(
    study: &Study,
    ts: &Timeseries,
    legend: &[String],
    per: &str,
) -> Vec<(PlotInfo, Figure)> {
    let all: Vec<&String> = ts.metrics.keys().collect();
    // One time axis for every panel, so panels line up.
    let times: Vec<f64> = ts
        .metrics
        .values()
        .flat_map(|by_point| by_point.values().flat_map(|s| s.keys().map(|t| t.0)))
        .collect();
    let t_range = (!times.is_empty()).then(|| {
        let lo = times.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    });
    let seeds = if study.is_sweep {
        " (mean over seeds at each sample)"
    } else {
        ""
    };
    let delivery: Vec<&String> = all
        .iter()
        .copied()
        .filter(|m| *m == "delivery_ratio")
        .collect();
    let mut latency: Vec<&String> = all
        .iter()
        .copied()
        .filter(|m| m.starts_with("latency_ms_"))
        .collect();
    latency.sort_by_key(|m| percentile_rank(m));
    let mesh_order = [
        "mesh_degree_mean",
        "mesh_degree_min",
        "mesh_degree_max",
        "isolated_peers",
        "connections",
    ];
    let mesh: Vec<&String> = mesh_order
        .iter()
        .filter_map(|n| all.iter().copied().find(|m| m.as_str() == *n))
        .collect();
    let used: BTreeSet<&String> = delivery
        .iter()
        .chain(&latency)
        .chain(&mesh)
        .copied()
        .collect();
    let other: Vec<&String> = all.iter().copied().filter(|m| !used.contains(m)).collect();
    let other_cols = if other.len() > 1 { 2 } else { 1 };
    let groups = [
        (
            "delivery_over_time",
            "Delivery ratio over time",
            "Delivery ratio",
            delivery,
            1,
        ),
        (
            "latency_over_time",
            "Latency percentiles over time",
            "First-delivery latency percentiles",
            latency,
            1,
        ),
        (
            "mesh_over_time",
            "Mesh degree and isolated peers over time",
            "Mesh degree, isolated peers and connections",
            mesh,
            1,
        ),
        (
            "other_over_time",
            "Other metrics over time",
            "Other sampled metrics",
            other,
            other_cols,
        ),
    ];
    let mut out = Vec::new();
    for (name, title, what, metrics, columns) in groups {
        if metrics.is_empty() {
            continue;
        }
        let mut panels = time_panels(ts, &metrics);
        if panels.len() == 1 {
            panels[0].title.clear();
        }
        for p in &mut panels {
            p.x_range = t_range;
        }
        let fig = Figure {
            title: title.into(),
            subtitle: format!("timeseries.csv: {per}{seeds}"),
            legend: legend.to_vec(),
            legend_markers: false,
            body: Body::Panels { panels, columns },
        };
        out.push((
            PlotInfo {
                name: name.into(),
                title: title.into(),
                description: format!("{what} over simulated time, {per}{seeds}."),
            },
            fig,
        ));
    }
    out
}

/// Sort key for `latency_ms_p50` < `_p90` < `_p99` < `_p999` < `_max`.
fn percentile_rank(m: &str) -> (u32, String) {
    let tail = m.trim_start_matches("latency_ms_");
    let rank = match tail.strip_prefix('p').and_then(|d| d.parse::<u32>().ok()) {
        // p50 -> 500, p99 -> 990, p999 -> 999
        Some(d) if d < 100 => d * 10,
        Some(d) => d,
        None if tail == "max" => 10_000,
        None => 20_000,
    };
    (rank, m.to_string())
}

/// X positions and axis for an axis of the study: numeric values at their
/// value when evenly enough spread, else evenly spaced categories.
fn axis_positions(axis: &data::Axis) -> (XAxis, Vec<f64>) {
    let nums: Vec<f64> = axis
        .values
        .iter()
        .filter_map(|v| data::parse_num(v))
        .collect();
    let spread_ok = axis.numeric && {
        let lo = nums.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = nums.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        !(lo > 0.0 && hi / lo >= 50.0)
    };
    if spread_ok {
        (XAxis::Numeric, nums)
    } else {
        (
            XAxis::Categories(axis.values.clone()),
            (0..axis.values.len()).map(|i| i as f64).collect(),
        )
    }
}

fn sweep_vs_axis(study: &Study, ai: usize, which: &[&str]) -> Option<Figure> {
    let axis = &study.axes[ai];
    let metrics: Vec<&str> = which
        .iter()
        .copied()
        .filter(|m| study.runs.col(m).is_some())
        .collect();
    if metrics.is_empty() {
        return None;
    }
    let (x_axis, xs) = axis_positions(axis);
    let x_of = |v: &str| axis.values.iter().position(|x| x == v).map(|i| xs[i]);
    // Series: combinations of the other axes' values.
    let others: Vec<&data::Axis> = study
        .axes
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != ai)
        .map(|(_, a)| a)
        .collect();
    let mut combos: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    let mut combo_order: Vec<(Vec<String>, String)> = Vec::new();
    for p in &study.points {
        let r = p.runs[0];
        let key: Vec<String> = others
            .iter()
            .map(|a| study.runs.text(r, &a.params[0]).to_string())
            .collect();
        if !combos.contains_key(&key) {
            let label = others
                .iter()
                .zip(&key)
                .map(|(a, v)| format!("{}={v}", a.short))
                .collect::<Vec<_>>()
                .join(", ");
            combos.insert(key.clone(), combo_order.len());
            combo_order.push((key, label));
        }
    }
    let mut seeds_max = 0;
    let panels = metrics
        .iter()
        .map(|m| {
            // combo -> x -> values over seeds
            let mut acc: BTreeMap<usize, BTreeMap<usize, Vec<f64>>> = BTreeMap::new();
            for p in &study.points {
                let r = p.runs[0];
                let key: Vec<String> = others
                    .iter()
                    .map(|a| study.runs.text(r, &a.params[0]).to_string())
                    .collect();
                let xv = study.runs.text(r, &axis.params[0]);
                let Some(xi) = axis.values.iter().position(|x| x == xv) else {
                    continue;
                };
                acc.entry(combos[&key])
                    .or_default()
                    .entry(xi)
                    .or_default()
                    .extend(study.values(p, m));
            }
            // A ratio (every value in 0..=1) has its axis end at 1, and its
            // error bars stop there too.
            let is_ratio = m.ends_with("ratio")
                && acc
                    .values()
                    .flat_map(|by_x| by_x.values().flatten())
                    .all(|v| (0.0..=1.0).contains(v));
            let series: Vec<Series> = acc
                .into_iter()
                .map(|(c, by_x)| {
                    let mut points = Vec::new();
                    let mut err = Vec::new();
                    for (xi, vals) in by_x {
                        seeds_max = seeds_max.max(vals.len());
                        if let (Some((mean, sd)), Some(x)) =
                            (mean_std(&vals), x_of(&axis.values[xi]))
                        {
                            points.push((x, mean));
                            if is_ratio {
                                err.push(((mean - sd).max(0.0), (mean + sd).min(1.0)));
                            } else {
                                err.push((mean - sd, mean + sd));
                            }
                        }
                    }
                    Series {
                        key: c,
                        points,
                        err,
                        markers: true,
                    }
                })
                .collect();
            Panel {
                title: metric_label(m),
                x_label: axis.title(),
                y_label: metric_label(m),
                x: x_axis.clone(),
                y_range: is_ratio.then(|| ratio_y_range(&series)),
                series,
                y_from_zero: *m != "delivery_ratio",
                x_range: None,
            }
        })
        .collect();
    let legend = if others.is_empty() {
        Vec::new()
    } else {
        combo_order.into_iter().map(|(_, l)| l).collect()
    };
    Some(Figure {
        title: format!("Metrics vs {}", axis.short),
        subtitle: if seeds_max > 1 {
            format!("runs.csv: mean over seeds (up to {seeds_max} per point), bars ±1 standard deviation")
        } else {
            "runs.csv: one seed per point (no error bars)".to_string()
        },
        legend,
        legend_markers: true,
        body: Body::Panels { panels, columns: 2 },
    })
}

/// The y range of a ratio panel: it ends at 1, and starts at a round value
/// at or below the lowest value and error bar (0 when every value is 1).
fn ratio_y_range(series: &[Series]) -> (f64, f64) {
    let lo = series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.1)
                .chain(s.err.iter().map(|e| e.0))
        })
        .fold(1.0f64, f64::min)
        .max(0.0);
    if lo >= 1.0 {
        return (0.0, 1.0);
    }
    let (ticks, _) = chart::nice_ticks(lo, 1.0, 6);
    (ticks[0].clamp(0.0, lo), 1.0)
}

fn heatmaps(study: &Study) -> Vec<(PlotInfo, Figure)> {
    let (ax, ay) = (&study.axes[0], &study.axes[1]);
    let mut out = Vec::new();
    for m in SWEEP_METRICS.iter().filter(|m| study.runs.col(m).is_some()) {
        let mut acc: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
        for p in &study.points {
            let r = p.runs[0];
            let xi = ax
                .values
                .iter()
                .position(|v| v == study.runs.text(r, &ax.params[0]));
            let yi = ay
                .values
                .iter()
                .position(|v| v == study.runs.text(r, &ay.params[0]));
            if let (Some(xi), Some(yi)) = (xi, yi) {
                acc.entry((xi, yi)).or_default().extend(study.values(p, m));
            }
        }
        let cells = (0..ay.values.len())
            .map(|yi| {
                (0..ax.values.len())
                    .map(|xi| acc.get(&(xi, yi)).and_then(|v| mean_std(v)).map(|ms| ms.0))
                    .collect()
            })
            .collect();
        let title = format!("{}: mean over seeds", metric_label(m));
        let fig = Figure {
            title: title.clone(),
            subtitle: format!("runs.csv: by {} and {}", ax.short, ay.short),
            legend: Vec::new(),
            legend_markers: false,
            body: Body::Heatmap(Heatmap {
                x_label: ax.title(),
                y_label: ay.title(),
                x_cats: ax.values.clone(),
                y_cats: ay.values.clone(),
                cells,
                value_label: metric_label(m),
            }),
        };
        out.push((
            PlotInfo {
                name: format!("heatmap_{m}"),
                title,
                description: format!(
                    "{} (mean over seeds) for every combination of {} and {}; n/a marks a combination that was not run.",
                    metric_label(m),
                    ax.title(),
                    ay.title()
                ),
            },
            fig,
        ));
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

    /// The y axis (low, high) of the panel `metric` in the figure of `csv` against its first axis.
    fn sweep_axis(csv: &str, metric: &str) -> (f64, f64) {
        let mut rd = ::csv::Reader::from_reader(csv.as_bytes());
        let columns = rd.headers().unwrap().iter().map(String::from).collect();
        let rows = rd
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        let study = Study::new(data::Runs { columns, rows });
        let fig = sweep_vs_axis(&study, 0, SWEEP_METRICS).expect("a figure");
        let Body::Panels { panels, .. } = fig.body else {
            panic!("panels")
        };
        let p = panels
            .iter()
            .find(|p| p.title == metric_label(metric))
            .expect("the metric's panel");
        let (lo, hi, _, _) = chart::y_axis(p);
        (lo, hi)
    }

    #[test]
    fn sweep_delivery_ratio_axis_ends_at_one() {
        // Every run delivered everything: the axis is 0..1, not 0..2.
        let all = "run_id,seed,g.mesh_n,delivery_ratio,latency_ms_p99\n\
                   a,1,4,1,100\nb,2,4,1,110\nc,1,8,1,90\nd,2,8,1,95\n";
        assert_eq!(sweep_axis(all, "delivery_ratio"), (0.0, 1.0));
        // Spread over seeds: the error bars would pass 1; the axis still ends there
        // and starts at a round value below the lowest bar.
        let spread = "run_id,seed,g.mesh_n,delivery_ratio,latency_ms_p99\n\
                      a,1,4,0.9,100\nb,2,4,1,110\nc,1,8,0.99,90\nd,2,8,1,95\n";
        let (lo, hi) = sweep_axis(spread, "delivery_ratio");
        assert_eq!(hi, 1.0);
        // Point mesh_n=4: mean 0.95, standard deviation 0.071, bar from 0.879.
        assert!((0.85..=0.879).contains(&lo), "low end {lo}");
        // Other metrics keep their own range.
        let (lo, hi) = sweep_axis(all, "latency_ms_p99");
        assert!(lo == 0.0 && hi >= 110.0, "{lo}..{hi}");
    }

    #[test]
    fn count_axes_start_at_zero_and_leave_room_above_the_peak() {
        let panel = |ys: &[f64]| chart::Panel {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            x: chart::XAxis::Numeric,
            series: vec![chart::Series {
                key: 0,
                points: ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect(),
                err: Vec::new(),
                markers: false,
            }],
            y_from_zero: true,
            y_range: None,
            x_range: None,
        };
        // A count that stayed 0 is drawn on 0.., not on -1..1.
        let (lo, hi, _, _) = chart::y_axis(&panel(&[0.0, 0.0]));
        assert!(lo == 0.0 && hi >= 1.0, "{lo}..{hi}");
        // A peak on a round value is below the top of the frame.
        let (lo, hi, _, _) = chart::y_axis(&panel(&[0.0, 6.0, 2.0]));
        assert!(lo == 0.0 && hi > 6.0, "{lo}..{hi}");
    }

    #[test]
    fn percentiles_sort_numerically() {
        let mut v = vec![
            "latency_ms_max",
            "latency_ms_p99",
            "latency_ms_p50",
            "latency_ms_p999",
        ];
        v.sort_by_key(|m| percentile_rank(m));
        assert_eq!(
            v,
            [
                "latency_ms_p50",
                "latency_ms_p99",
                "latency_ms_p999",
                "latency_ms_max"
            ]
        );
    }
}
