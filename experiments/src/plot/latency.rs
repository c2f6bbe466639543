//! The latency CDF (`deliveries.csv`): one curve per point (seeds pooled)
//! or per run.

use super::chart::{Body, Figure, Panel, Series, XAxis};
use super::data::{Deliveries, Study};
use super::{PlotInfo, MAX_CURVE_POINTS};

/// The CDF of first-delivery latency.
pub(super) fn latency_cdf(
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
