//! Metrics over simulated time (`timeseries.csv`): delivery, latency
//! percentiles, mesh and other metrics, one curve per point (the mean over
//! its runs at each sample) or per run.

use super::chart::{Body, Figure, Panel, Series, XAxis};
use super::data::{mean_std, Study, Timeseries};
use super::{metric_label, PlotInfo, MAX_CURVE_POINTS};
use std::collections::BTreeSet;

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

/// The figures over time: delivery, latency, mesh and other metrics.
pub(super) fn time_figures(
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

#[cfg(test)]
mod tests {
    use super::*;

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
