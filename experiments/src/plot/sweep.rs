//! The plots of a sweep (`runs.csv`): each metric against each swept axis
//! (means over seeds, ±1 standard deviation), and heatmaps over two axes.

use super::chart::{self, Body, Figure, Heatmap, Panel, Series, XAxis};
use super::data::{self, mean_std, Study};
use super::{file_safe, metric_label, PlotInfo};
use std::collections::BTreeMap;

/// Metrics shown against swept parameters and in heatmaps.
pub const SWEEP_METRICS: &[&str] = &[
    "delivery_ratio",
    "latency_ms_p99",
    "duplicates_per_delivery",
    "bytes_sent_per_peer",
];

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

/// The figures of a sweep against its axes: each axis's metrics (and
/// history-sync metrics when syncs happened), and heatmaps over two axes.
pub(super) fn sweep_figures(study: &Study) -> Vec<(PlotInfo, Figure)> {
    let mut out = Vec::new();
    for (i, axis) in study.axes.iter().enumerate() {
        let title = axis.title();
        let mut kinds = Vec::new();
        if history_used(study) {
            kinds.push((
                "sync_vs",
                format!("History sync vs {title}"),
                format!(
                    "Sync convergence time, round trips, bytes and messages recovered only by sync against {title}: means over seeds, bars ±1 standard deviation."
                ),
                SYNC_METRICS,
            ));
        }
        kinds.push((
            "sweep_vs",
            format!("Metrics vs {title}"),
            format!(
                "Each metric against {title}: points are means over seeds, bars ±1 standard deviation."
            ),
            SWEEP_METRICS,
        ));
        for (stem, title, description, metrics) in kinds {
            if let Some(f) = sweep_vs_axis(study, i, metrics) {
                let name = format!("{stem}_{}", file_safe(&axis.short));
                out.push((
                    PlotInfo {
                        name,
                        title,
                        description,
                    },
                    f,
                ));
            }
        }
    }
    if study.axes.len() == 2 {
        out.extend(heatmaps(study));
    }
    out
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
    // A point's values of the other axes (from its first run).
    let key_of = |r: usize| -> Vec<String> {
        others
            .iter()
            .map(|a| study.runs.text(r, &a.params[0]).to_string())
            .collect()
    };
    let mut combos: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    let mut combo_order: Vec<(Vec<String>, String)> = Vec::new();
    for p in &study.points {
        let r = p.runs[0];
        let key = key_of(r);
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
                let key = key_of(r);
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
}
