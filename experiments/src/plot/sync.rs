//! History sync (`syncs.csv`): round trips per sync against the entries
//! it fetched.

use super::chart::{Body, Figure, Panel, Series, XAxis};
use super::data::Study;
use super::PlotInfo;
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::path::Path;

/// Round trips against entries fetched, from `syncs.csv` (one series per point or run).
pub(super) fn sync_rpcs_figure(
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
