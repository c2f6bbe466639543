//! GossipSub's own Prometheus metrics, aggregated across peers.
//!
//! With `measure.prometheus = true`, every peer's GossipSub records into a
//! `prometheus-client` registry (the crate's `metrics` feature). At the end
//! of the run the registries are encoded in the text exposition format and
//! summed sample by sample (same metric name and labels), which is what
//! `metrics.prom` holds: the network-wide totals operators already graph.

use std::collections::BTreeMap;

/// A registry in the Prometheus text exposition format.
pub fn encode(r: &prometheus_client::registry::Registry) -> String {
    let mut s = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut s, r);
    s
}

/// Sums the samples of several text expositions; `# HELP`/`# TYPE` lines
/// are kept once, in first-seen order.
pub fn aggregate<'a>(texts: impl IntoIterator<Item = &'a str>, peers: usize) -> String {
    let mut meta: Vec<String> = Vec::new();
    let mut order: Vec<String> = Vec::new();
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for t in texts {
        for line in t.lines() {
            if line.starts_with('#') {
                if line != "# EOF" && !meta.iter().any(|m| m == line) {
                    meta.push(line.to_string());
                }
                continue;
            }
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(v) = value.parse::<f64>() else {
                continue;
            };
            if !sums.contains_key(series) {
                order.push(series.to_string());
            }
            *sums.entry(series.to_string()).or_default() += v;
        }
    }
    let mut out = format!("# meshsim: GossipSub metrics summed over {peers} peers\n");
    for m in &meta {
        out.push_str(m);
        out.push('\n');
    }
    for s in &order {
        out.push_str(&format!("{s} {}\n", sums[s]));
    }
    out.push_str("# EOF\n");
    out
}

/// The summed value of every series whose name starts with `metric` (any labels).
pub fn total(text: &str, metric: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(metric)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_series_across_peers() {
        let a = "# HELP x_total help\n# TYPE x_total counter\nx_total{topic=\"t\"} 2\ny 1\n# EOF\n";
        let b = "# HELP x_total help\n# TYPE x_total counter\nx_total{topic=\"t\"} 3\n# EOF\n";
        let agg = aggregate([a, b], 2);
        assert!(agg.contains("x_total{topic=\"t\"} 5\n"), "{agg}");
        assert_eq!(agg.matches("# HELP x_total").count(), 1);
        assert_eq!(total(&agg, "x_total"), 5.0);
        assert_eq!(total(&agg, "y"), 1.0);
    }
}
