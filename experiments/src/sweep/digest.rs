//! The table `meshsim sweep` prints at its end: one row per point with its
//! swept values and the headline metrics (mean over its seeds), and a flag
//! on the metrics where the point differs from the other points by more
//! than seed noise explains.
//!
//! Seed noise: the pooled standard deviation `s` of a metric across the
//! seeds of each point (every point's runs around its own mean). The
//! typical value is the median of the points' means (one outlier does not
//! move it). A point with `n` runs whose mean is more than `3 s sqrt(2/n)`
//! from it is flagged (a two-sample z test, the typical point taken as
//! having `n` runs too: about 0.3% false alarms per metric and point).
//! Without two seeds at some point there is no noise to compare with, and
//! nothing is flagged.

use super::RunRecord;
use models::RunSummary;
use std::collections::BTreeMap;

/// A headline metric: column header, value, decimals.
struct Metric {
    header: &'static str,
    value: fn(&RunSummary) -> f64,
    decimals: usize,
}

const METRICS: [Metric; 6] = [
    Metric {
        header: "delivery",
        value: |s| s.delivery_ratio,
        decimals: 4,
    },
    Metric {
        header: "p50_ms",
        value: |s| s.latency_ms.p50,
        decimals: 1,
    },
    Metric {
        header: "p99_ms",
        value: |s| s.latency_ms.p99,
        decimals: 1,
    },
    Metric {
        header: "dup/deliv",
        value: duplicates,
        decimals: 2,
    },
    Metric {
        header: "KB_sent/peer",
        value: |s| s.bytes_sent_per_peer / 1000.0,
        decimals: 1,
    },
    // -1 (never converged) is kept apart: see `Cell`.
    Metric {
        header: "converged_s",
        value: |s| s.convergence_s,
        decimals: 2,
    },
];

/// Duplicates per delivery; for partial messages, duplicate parts per
/// part taken (a part is then what a message is for full messages).
fn duplicates(s: &RunSummary) -> f64 {
    if s.partial_enabled {
        let new = s
            .partial_parts_received
            .saturating_sub(s.partial_parts_duplicate);
        if new == 0 {
            0.0
        } else {
            s.partial_parts_duplicate as f64 / new as f64
        }
    } else {
        s.duplicates_per_delivery
    }
}

/// Most rows printed; flagged points are printed even beyond.
const MAX_ROWS: usize = 40;

/// How many standard errors make a difference.
const Z: f64 = 3.0;

/// The digest of the finished runs `records`: the points' swept values in
/// `param_keys` order. Empty when there are no runs.
pub fn digest(records: &[RunRecord], param_keys: &[String]) -> String {
    // Point id -> its runs.
    let mut points: BTreeMap<usize, Vec<&RunRecord>> = BTreeMap::new();
    for r in records {
        points.entry(r.point_id).or_default().push(r);
    }
    if points.is_empty() {
        return String::new();
    }
    let flags = flags(&points);
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(param_keys.iter().map(|k| short_key(k)));
    header.push("seeds".into());
    header.extend(METRICS.iter().map(|m| m.header.to_string()));
    header.push("beyond seed noise (+ above, - below the median point)".into());
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut hidden = 0;
    for (i, (id, runs)) in points.iter().enumerate() {
        let flagged = flags.get(id).filter(|f| !f.is_empty());
        if i >= MAX_ROWS && flagged.is_none() {
            hidden += 1;
            continue;
        }
        let mut row = vec![id.to_string()];
        row.extend(
            param_keys
                .iter()
                .map(|k| runs[0].params.get(k).cloned().unwrap_or_default()),
        );
        row.push(runs.len().to_string());
        for (mi, m) in METRICS.iter().enumerate() {
            row.push(cell(m, mi, runs));
        }
        row.push(flagged.map(|f| f.join(" ")).unwrap_or_default());
        rows.push(row);
    }
    let mut out = table(&header, &rows);
    if hidden > 0 {
        out.push_str(&format!(
            "... and {hidden} more points (every run is in runs.csv; report.html plots them all)\n"
        ));
    }
    if records.iter().any(|r| r.summary.partial_enabled) {
        out.push_str("dup/deliv of partial-message points: duplicate parts per part delivered\n");
    }
    if !points.values().any(|r| r.len() >= 2) {
        out.push_str("one seed per point: no seed noise to judge differences by (use seeds >= 2 for flags)\n");
    }
    out
}

/// A dotted key as a column header: its last part when the full key is long.
fn short_key(k: &str) -> String {
    if k.len() <= 24 {
        k.to_string()
    } else {
        k.rsplit('.').next().unwrap_or(k).to_string()
    }
}

/// The mean of metric `m` over `runs`; for convergence, over the runs that
/// converged, or how many never did.
fn cell(m: &Metric, mi: usize, runs: &[&RunRecord]) -> String {
    let vals: Vec<f64> = runs.iter().map(|r| (m.value)(&r.summary)).collect();
    if is_convergence(mi) {
        let never = vals.iter().filter(|v| **v < 0.0).count();
        if never == vals.len() {
            return "never".into();
        }
        if never > 0 {
            let ok: Vec<f64> = vals.iter().copied().filter(|v| *v >= 0.0).collect();
            return format!("{:.*} ({never} never)", m.decimals, mean(&ok));
        }
    }
    format!("{:.*}", m.decimals, mean(&vals))
}

fn is_convergence(mi: usize) -> bool {
    METRICS[mi].header == "converged_s"
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Point id -> the metrics on which it differs from the typical point, e.g.
/// `p99_ms+` (higher) or `delivery-` (lower).
fn flags(points: &BTreeMap<usize, Vec<&RunRecord>>) -> BTreeMap<usize, Vec<String>> {
    let mut out: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    if points.len() < 2 {
        return out;
    }
    for (mi, m) in METRICS.iter().enumerate() {
        // Per point: its runs' values; a point where convergence was never
        // reached in some run has no comparable mean and is left out.
        let vals: BTreeMap<usize, Vec<f64>> = points
            .iter()
            .map(|(id, runs)| (*id, runs.iter().map(|r| (m.value)(&r.summary)).collect()))
            .filter(|(_, v): &(usize, Vec<f64>)| !is_convergence(mi) || v.iter().all(|x| *x >= 0.0))
            .collect();
        let Some(s) = pooled_sd(&vals) else { continue };
        let mut means: Vec<f64> = vals.values().map(|v| mean(v)).collect();
        means.sort_by(f64::total_cmp);
        let typical = if means.len() % 2 == 1 {
            means[means.len() / 2]
        } else {
            (means[means.len() / 2 - 1] + means[means.len() / 2]) / 2.0
        };
        for (id, v) in &vals {
            let diff = mean(v) - typical;
            let se = s * (2.0 / v.len() as f64).sqrt();
            // With no noise at all, only a difference beyond rounding counts.
            let floor = 1e-9 * typical.abs().max(1e-12);
            if diff.abs() > Z * se && diff.abs() > floor {
                let sign = if diff > 0.0 { "+" } else { "-" };
                out.entry(*id)
                    .or_default()
                    .push(format!("{}{sign}", m.header));
            }
        }
    }
    out
}

/// The pooled within-point standard deviation, if some point has 2 runs.
fn pooled_sd(vals: &BTreeMap<usize, Vec<f64>>) -> Option<f64> {
    let (mut ss, mut df) = (0.0, 0usize);
    for v in vals.values() {
        let m = mean(v);
        ss += v.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
        df += v.len().saturating_sub(1);
    }
    (df > 0).then(|| (ss / df as f64).sqrt())
}

/// Left-aligned text columns, two spaces apart.
fn table(header: &[String], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect::<Vec<_>>()
            .join("  ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(header);
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(point: usize, seed: u64, delivery: f64, p99: f64) -> RunRecord {
        let mut summary = RunSummary {
            delivery_ratio: delivery,
            convergence_s: 1.0,
            ..RunSummary::default()
        };
        summary.latency_ms.p99 = p99;
        RunRecord {
            run_id: format!("p{point:04}-s{seed:03}"),
            point_id: point,
            params: [("gossipsub.mesh_n".to_string(), (4 + point).to_string())].into(),
            seed,
            summary,
            series: BTreeMap::new(),
        }
    }

    #[test]
    fn a_point_far_beyond_seed_noise_is_flagged_and_the_others_are_not() {
        // Points 0-2: p99 around 100 ms +-1; point 3: 200 ms.
        let mut r = Vec::new();
        for p in 0..4 {
            for (s, d) in [(0, -1.0), (1, 0.0), (2, 1.0)] {
                let base = if p == 3 { 200.0 } else { 100.0 };
                r.push(rec(p, s, 1.0, base + d));
            }
        }
        let keys = vec!["gossipsub.mesh_n".to_string()];
        let t = digest(&r, &keys);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        assert!(
            lines[0].starts_with("point  gossipsub.mesh_n  seeds"),
            "{t}"
        );
        assert!(lines[4].ends_with("p99_ms+"), "{t}");
        for l in &lines[1..4] {
            assert!(!l.contains("p99_ms"), "{l}");
        }
        // Same delivery everywhere: no noise, no difference, no flag.
        assert!(!t.contains("delivery+") && !t.contains("delivery-"), "{t}");
    }

    #[test]
    fn within_noise_nothing_is_flagged_and_one_seed_says_why() {
        let mut r = Vec::new();
        for p in 0..3 {
            for (s, d) in [(0, -5.0), (1, 5.0)] {
                r.push(rec(p, s, 1.0, 100.0 + d + p as f64));
            }
        }
        let t = digest(&r, &["gossipsub.mesh_n".to_string()]);
        assert!(!t.contains("p99_ms+") && !t.contains("p99_ms-"), "{t}");
        let one: Vec<RunRecord> = (0..3)
            .map(|p| rec(p, 0, 1.0, 100.0 * (p + 1) as f64))
            .collect();
        let t = digest(&one, &["gossipsub.mesh_n".to_string()]);
        assert!(t.contains("one seed per point"), "{t}");
        assert!(!t.contains("p99_ms+"), "{t}");
    }

    #[test]
    fn never_converged_runs_are_counted_not_averaged() {
        let mut a = rec(0, 0, 1.0, 1.0);
        a.summary.convergence_s = -1.0;
        let mut b = rec(0, 1, 1.0, 1.0);
        b.summary.convergence_s = 3.0;
        let t = digest(&[a, b], &[]);
        assert!(t.contains("3.00 (1 never)"), "{t}");
    }
}
