//! Writing results: every file atomically (temp file + rename), so a killed
//! run never leaves a truncated file behind.

use models::RunSummary;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
        std::process::id()
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// The columns of `runs.csv`, in order, for one run.
pub fn run_columns(run_id: &str, s: &RunSummary) -> Vec<(&'static str, String)> {
    vec![
        ("run_id", run_id.to_string()),
        ("experiment", s.experiment.clone()),
        ("seed", s.seed.to_string()),
        ("peers", s.peers.to_string()),
        ("sim_seconds", s.sim_seconds.to_string()),
        ("trace_hash", s.trace_hash.clone()),
        ("messages_published", s.messages_published.to_string()),
        ("deliveries", s.deliveries.to_string()),
        ("deliveries_expected", s.deliveries_expected.to_string()),
        ("delivery_ratio", s.delivery_ratio.to_string()),
        ("latency_ms_p50", s.latency_ms.p50.to_string()),
        ("latency_ms_p90", s.latency_ms.p90.to_string()),
        ("latency_ms_p99", s.latency_ms.p99.to_string()),
        ("latency_ms_max", s.latency_ms.max.to_string()),
        (
            "duplicates_per_delivery",
            s.duplicates_per_delivery.to_string(),
        ),
        ("bytes_sent_per_peer", s.bytes_sent_per_peer.to_string()),
        ("mesh_degree_min", s.mesh_degree.min.to_string()),
        ("mesh_degree_mean", s.mesh_degree.mean.to_string()),
        ("mesh_degree_max", s.mesh_degree.max.to_string()),
        ("initial_components", s.initial_components.to_string()),
        ("graft", s.graft.to_string()),
        ("prune", s.prune.to_string()),
        ("ihave", s.ihave.to_string()),
        ("iwant", s.iwant.to_string()),
        ("idontwant", s.idontwant.to_string()),
        ("publish_errors", s.publish_errors.to_string()),
        ("convergence_s", s.convergence_s.to_string()),
        ("isolated_peers_max", s.isolated_peers_max.to_string()),
        ("isolated_peers_end", s.isolated_peers_end.to_string()),
        (
            "disconnected_peers_end",
            s.disconnected_peers_end.to_string(),
        ),
        ("delivery_recovered_s", s.delivery_recovered_s.to_string()),
        (
            "probe_full_delivery_ratio",
            s.probe_full_delivery_ratio.to_string(),
        ),
        ("connections_opened", s.connections_opened.to_string()),
        ("connections_closed", s.connections_closed.to_string()),
        ("impossible_edges", s.impossible_edges.to_string()),
        (
            "control_overhead_ratio",
            s.control_overhead_ratio.to_string(),
        ),
        ("dialer_dials", s.dialer_dials.to_string()),
        ("dialer_failures", s.dialer_failures.to_string()),
        ("dialer_given_up", s.dialer_given_up.to_string()),
        ("dialer_px_learned", s.dialer_px_learned.to_string()),
        ("honest_delivery_ratio", s.honest_delivery_ratio.to_string()),
        (
            "attacker_delivery_ratio",
            s.attacker_delivery_ratio.to_string(),
        ),
        (
            "min_class_delivery_ratio",
            s.min_class_delivery_ratio.to_string(),
        ),
        (
            "attacker_bytes_sent_per_peer",
            s.attacker_bytes_sent_per_peer.to_string(),
        ),
        (
            "honest_isolated_s_mean",
            s.honest_isolated_s_mean.to_string(),
        ),
        (
            "attacker_isolated_s_mean",
            s.attacker_isolated_s_mean.to_string(),
        ),
        (
            "max_class_isolated_s_mean",
            s.max_class_isolated_s_mean.to_string(),
        ),
        (
            "honest_prunes_received_per_peer",
            s.honest_prunes_received_per_peer.to_string(),
        ),
        ("forged_ihave_ids", s.forged_ihave_ids.to_string()),
        ("forged_grafts", s.forged_grafts.to_string()),
        ("graylisted_honest_max", s.graylisted_honest_max.to_string()),
        ("score_min_honest", s.score_min_honest.to_string()),
        ("syncs", s.syncs.to_string()),
        ("syncs_completed", s.syncs_completed.to_string()),
        ("syncs_aborted", s.syncs_aborted.to_string()),
        ("sync_round_trips_p50", s.sync_round_trips.p50.to_string()),
        ("sync_round_trips_max", s.sync_round_trips.max.to_string()),
        ("sync_duration_ms_p50", s.sync_duration_ms.p50.to_string()),
        ("sync_duration_ms_max", s.sync_duration_ms.max.to_string()),
        ("sync_bytes_sent", s.sync_bytes_sent.to_string()),
        ("sync_bytes_received", s.sync_bytes_received.to_string()),
        ("sync_entries_fetched", s.sync_entries_fetched.to_string()),
        (
            "sync_convergence_s",
            s.sync_convergence_s
                .map_or(String::new(), |x| x.to_string()),
        ),
        (
            "sync_convergence_max_s",
            s.sync_convergence_max_s
                .map_or(String::new(), |x| x.to_string()),
        ),
        // What the two empty-able cells above cannot say on their own: how
        // many returns and healings there were, and how many never converged.
        ("sync_events", s.sync_events.to_string()),
        ("sync_unconverged", s.sync_unconverged.to_string()),
        (
            "messages_recovered_by_sync",
            s.messages_recovered_by_sync.to_string(),
        ),
        ("final_distinct_roots", s.final_distinct_roots.to_string()),
        ("events", s.events.to_string()),
        ("entropy_os_fallbacks", s.entropy_os_fallbacks.to_string()),
    ]
}

/// The text summary `meshsim run` prints (without `--json`): one line per
/// quantity, the optional ones only when they apply. `partitions` is the
/// experiment's thread count.
pub fn summary_text(s: &RunSummary, partitions: u16) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    // Writing to a String cannot fail.
    macro_rules! say {
        ($($a:tt)*) => {{
            let _ = writeln!(o, $($a)*);
        }};
    }
    say!("meshsim run: {} (seed {})", s.experiment, s.seed);
    if partitions > 1 {
        say!(
            "  peers                 {}  ({partitions} partitions, one thread each)",
            s.peers
        );
    } else {
        say!("  peers                 {}", s.peers);
    }
    say!(
        "  simulated / wall      {:.1} s / {:.2} s  ({:.1}x real time)",
        s.sim_seconds,
        s.wall_seconds,
        s.sim_seconds / s.wall_seconds.max(1e-9)
    );
    if s.deliveries_expected == 0 {
        // The ratio is 1 by convention (nothing was missed), which says nothing.
        say!(
            "  delivery              n/a  ({} of {} deliveries, {} messages)",
            s.deliveries,
            s.deliveries_expected,
            s.messages_published
        );
        if s.messages_published == 0 {
            say!("  WARNING               no message was published: delivery and latency measure nothing (workload.start_s after the end, or workload.rate_per_s = 0?)");
        } else {
            say!("  WARNING               no delivery was expected (no other live subscriber when the messages were published): delivery and latency measure nothing");
        }
    } else {
        say!(
            "  delivery              {:.4}  ({} of {} deliveries, {} messages)",
            s.delivery_ratio,
            s.deliveries,
            s.deliveries_expected,
            s.messages_published
        );
    }
    if s.publish_errors > 0 {
        say!(
            "  publish errors        {} publishes refused by GossipSub (no peers to send to, or a message larger than gossipsub.max_transmit_size)",
            s.publish_errors
        );
    }
    if s.deliveries == 0 {
        say!("  latency ms            n/a (no deliveries)");
    } else {
        say!(
            "  latency ms            p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
            s.latency_ms.p50,
            s.latency_ms.p90,
            s.latency_ms.p99,
            s.latency_ms.max
        );
    }
    say!("  duplicates/delivery   {:.2}", s.duplicates_per_delivery);
    say!("  bytes sent per peer   {:.0}", s.bytes_sent_per_peer);
    say!(
        "  mesh degree           min {:.0}  mean {:.2}  max {:.0}",
        s.mesh_degree.min,
        s.mesh_degree.mean,
        s.mesh_degree.max
    );
    say!(
        "  control               GRAFT {}  PRUNE {}  IHAVE {}  IWANT {}  IDONTWANT {}",
        s.graft,
        s.prune,
        s.ihave,
        s.iwant,
        s.idontwant
    );
    if s.initial_components > 1 {
        say!(
            "  WARNING               the initial graph has {} components (not connected)",
            s.initial_components
        );
    }
    if s.convergence_s >= 0.0 {
        say!("  mesh converged at     {:.2} s", s.convergence_s);
    } else {
        say!("  mesh converged at     NOT CONVERGED by the end");
    }
    if s.isolated_peers_max > 0 || s.disconnected_peers_end > 0 {
        say!(
            "  isolated peers        max {} during the run, {} at the end ({} with no connection at all)",
            s.isolated_peers_max,
            s.isolated_peers_end,
            s.disconnected_peers_end
        );
    }
    if s.delivery_recovered_s < 0.0 {
        say!("  delivery recovered    NO: the last messages did not reach every live subscriber");
    } else if s.delivery_ratio < 1.0 {
        say!("  delivery recovered    from messages published at {:.2} s on, every one reached every live subscriber", s.delivery_recovered_s);
    }
    // -1: no probe message (not applicable).
    if s.probe_full_delivery_ratio >= 0.0 {
        say!(
            "  probes                {:.3} of probe messages reached every other live probe",
            s.probe_full_delivery_ratio
        );
    }
    if s.history_enabled {
        say!(
            "  history syncs         {} ({} completed, {} aborted, {} failed); round trips p50 {:.0} max {:.0}; {} entries fetched",
            s.syncs,
            s.syncs_completed,
            s.syncs_aborted,
            s.syncs_failed,
            s.sync_round_trips.p50,
            s.sync_round_trips.max,
            s.sync_entries_fetched
        );
        say!(
            "  sync convergence      {}; {} messages recovered only by sync; {} distinct roots at the end",
            match s.sync_convergence_s {
                Some(x) => format!("{x:.2} s after the last return/heal"),
                None if s.convergence.is_empty() => "n/a (no peer returned, no partition healed)".to_string(),
                None => "NOT CONVERGED after the last return/heal".to_string(),
            },
            s.messages_recovered_by_sync,
            s.final_distinct_roots
        );
    }
    say!("  events                {}", s.events);
    say!("  trace hash            {}", s.trace_hash);
    o
}

/// `runs.csv` text for the given runs.
pub fn runs_csv(runs: &[(String, RunSummary)]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if let Some((id, s)) = runs.first() {
        w.write_record(run_columns(id, s).iter().map(|(k, _)| *k))?;
    }
    for (id, s) in runs {
        w.write_record(run_columns(id, s).iter().map(|(_, v)| v.as_str()))?;
    }
    Ok(w.into_inner()?)
}

/// The git commit meshsim was built from, if built from a git checkout (for `meta.json`).
pub fn git_commit() -> Option<String> {
    // Recorded when meshsim was built (build.rs): the commit of meshsim's
    // own source, not of whatever repository the run happens in.
    Some(env!("MESHSIM_GIT_COMMIT"))
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}

/// The detail files of one run: `timeseries.csv` (long: run_id, t_s, metric,
/// value), `messages.csv` (one row per published message) and, when kept,
/// `deliveries.csv` (one row per first delivery). Returns (name, bytes).
pub fn detail_files(
    run_id: &str,
    out: &models::RunOutput,
) -> anyhow::Result<Vec<(&'static str, Vec<u8>)>> {
    let mut files = Vec::new();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["run_id", "t_s", "metric", "value"])?;
    for s in &out.samples {
        for (m, v) in s.metrics() {
            w.write_record([run_id, &s.t_s.to_string(), m, &v.to_string()])?;
        }
        for (m, v) in &s.extra {
            w.write_record([run_id, &s.t_s.to_string(), m, &v.to_string()])?;
        }
    }
    // Delivery per publish second: share of expected deliveries of the messages published in it.
    let mut per_s: std::collections::BTreeMap<u64, (u64, u64)> = std::collections::BTreeMap::new();
    for m in out.messages.iter().filter(|m| !m.probe) {
        let e = per_s.entry(m.published_ns / 1_000_000_000).or_default();
        e.0 += u64::from(m.delivered);
        e.1 += u64::from(m.expected);
    }
    for (sec, (d, e)) in per_s {
        if e > 0 {
            w.write_record([
                run_id,
                &(sec as f64).to_string(),
                "delivery_ratio",
                &(d as f64 / e as f64).to_string(),
            ])?;
        }
    }
    // Probes per round (every live probe publishes at the same instant): one
    // row per publish time and metric, so (run_id, t_s, metric) stays unique.
    // (delivered, expected, slowest first delivery ns) of each round.
    let mut rounds: std::collections::BTreeMap<u64, (u64, u64, u64)> =
        std::collections::BTreeMap::new();
    for m in out.messages.iter().filter(|m| m.probe) {
        let r = rounds.entry(m.published_ns).or_default();
        r.0 += u64::from(m.delivered);
        r.1 += u64::from(m.expected);
        r.2 = r.2.max(m.latency_max_ns);
    }
    for (ns, (d, e, lat)) in rounds {
        let t = (ns as f64 / 1e9).to_string();
        let ratio = if e == 0 { 1.0 } else { d as f64 / e as f64 };
        w.write_record([run_id, &t, "probe_delivery_ratio", &ratio.to_string()])?;
        w.write_record([
            run_id,
            &t,
            "probe_latency_ms_max",
            &(lat as f64 / 1e6).to_string(),
        ])?;
    }
    for r in &out.summary.root_series {
        w.write_record([
            run_id,
            &r.t_s.to_string(),
            "distinct_roots",
            &r.distinct_roots.to_string(),
        ])?;
    }
    files.push(("timeseries.csv", w.into_inner()?));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "run_id",
        "msg_seq",
        "publisher",
        "topic",
        "probe",
        "published_s",
        "expected",
        "delivered",
        "copies_received",
        "latency_ms_max",
    ])?;
    for (i, m) in out.messages.iter().enumerate() {
        w.write_record([
            run_id.to_string(),
            i.to_string(),
            m.publisher.to_string(),
            m.topic.to_string(),
            m.probe.to_string(),
            (m.published_ns as f64 / 1e9).to_string(),
            m.expected.to_string(),
            m.delivered.to_string(),
            m.copies.to_string(),
            (m.latency_max_ns as f64 / 1e6).to_string(),
        ])?;
    }
    files.push(("messages.csv", w.into_inner()?));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "run_id",
        "peer",
        "class",
        "region",
        "up",
        "mesh_degree",
        "connections",
        "isolated_s",
        "bytes_sent",
        "bytes_received",
        "data_bytes_sent",
        "data_bytes_received",
        "control_bytes_sent",
        "control_bytes_received",
        "messages_received",
        "ihave_received",
        "iwant_received",
        "graft_received",
        "prune_received",
        "idontwant_received",
    ])?;
    for (i, p) in out.peers.iter().enumerate() {
        let c = &p.wire;
        w.write_record([
            run_id.to_string(),
            i.to_string(),
            p.class.clone(),
            p.region.clone(),
            p.up.to_string(),
            p.mesh_degree.to_string(),
            p.connections.to_string(),
            p.isolated_s.to_string(),
            p.bytes_sent.to_string(),
            p.bytes_received.to_string(),
            c.data_bytes_sent.to_string(),
            c.data_bytes_received.to_string(),
            c.control_bytes_sent.to_string(),
            c.control_bytes_received.to_string(),
            c.messages_received.to_string(),
            c.ihave_received.to_string(),
            c.iwant_received.to_string(),
            c.graft_received.to_string(),
            c.prune_received.to_string(),
            c.idontwant_received.to_string(),
        ])?;
    }
    files.push(("peers.csv", w.into_inner()?));
    if !out.peer_samples.is_empty() {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["run_id", "t_s", "peer", "mesh_degree", "connections"])?;
        for &(t, p, m, c) in &out.peer_samples {
            w.write_record([
                run_id.to_string(),
                t.to_string(),
                p.to_string(),
                m.to_string(),
                c.to_string(),
            ])?;
        }
        files.push(("peer_timeseries.csv", w.into_inner()?));
    }
    if let Some(prom) = &out.metrics_prom {
        files.push(("metrics.prom", prom.clone().into_bytes()));
    }
    let h = &out.summary;
    if h.history_enabled {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "run_id",
            "client",
            "server",
            "trigger",
            "outcome",
            "started_s",
            "duration_ms",
            "round_trips",
            "bytes_sent",
            "bytes_received",
            "entries_fetched",
        ])?;
        for r in &h.sync_records {
            w.write_record([
                run_id.to_string(),
                r.client.to_string(),
                r.server.to_string(),
                r.trigger.clone(),
                r.outcome.clone(),
                r.started_s.to_string(),
                r.duration_ms.to_string(),
                r.round_trips.to_string(),
                r.bytes_sent.to_string(),
                r.bytes_received.to_string(),
                r.entries_fetched.to_string(),
            ])?;
        }
        files.push(("syncs.csv", w.into_inner()?));
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["run_id", "kind", "peer", "at_s", "converged_after_s"])?;
        for c in &h.convergence {
            w.write_record([
                run_id.to_string(),
                c.kind.clone(),
                c.peer.map_or(String::new(), |p| p.to_string()),
                c.at_s.to_string(),
                c.converged_after_s.map_or(String::new(), |x| x.to_string()),
            ])?;
        }
        files.push(("sync_convergence.csv", w.into_inner()?));
    }
    if let Some(d) = &out.deliveries {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "run_id",
            "msg_seq",
            "peer",
            "published_s",
            "delivered_s",
            "latency_ms",
        ])?;
        for &(seq, peer, t) in d {
            let p = out.messages.get(seq as usize).map_or(0, |m| m.published_ns);
            w.write_record([
                run_id.to_string(),
                seq.to_string(),
                peer.to_string(),
                (p as f64 / 1e9).to_string(),
                (t as f64 / 1e9).to_string(),
                (t.saturating_sub(p) as f64 / 1e6).to_string(),
            ])?;
        }
        files.push(("deliveries.csv", w.into_inner()?));
    }
    Ok(files)
}

/// Concatenates CSV texts with the same header (the first one's header kept).
pub fn concat_csv(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let body = if i == 0 {
            &p[..]
        } else {
            match p.iter().position(|&b| b == b'\n') {
                Some(n) => &p[n + 1..],
                None => &[][..],
            }
        };
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> RunSummary {
        RunSummary {
            experiment: "t".into(),
            peers: 50,
            sim_seconds: 10.0,
            wall_seconds: 1.0,
            messages_published: 20,
            deliveries: 980,
            deliveries_expected: 980,
            delivery_ratio: 1.0,
            probe_full_delivery_ratio: -1.0,
            ..RunSummary::default()
        }
    }

    fn msg(
        published_s: f64,
        expected: u32,
        delivered: u32,
        probe: bool,
    ) -> models::collector::MsgRecord {
        models::collector::MsgRecord {
            publisher: 0,
            topic: 0,
            published_ns: (published_s * 1e9) as u64,
            expected,
            delivered,
            copies: 0,
            latency_max_ns: (published_s * 1e6) as u64,
            probe,
        }
    }

    /// The (t_s, metric, value) rows of `timeseries.csv`.
    fn timeseries(out: &models::RunOutput) -> Vec<(String, String, String)> {
        let files = detail_files("r", out).unwrap();
        let (_, bytes) = files.iter().find(|(n, _)| *n == "timeseries.csv").unwrap();
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        r.records()
            .map(|x| {
                let x = x.unwrap();
                (x[1].to_string(), x[2].to_string(), x[3].to_string())
            })
            .collect()
    }

    #[test]
    fn timeseries_has_one_row_per_time_and_metric() {
        let out = models::RunOutput {
            summary: summary(),
            samples: vec![models::series::Sample {
                t_s: 2.0,
                ..Default::default()
            }],
            // Two probe rounds of three probes each, and workload messages.
            messages: vec![
                msg(2.0, 2, 2, true),
                msg(2.0, 2, 1, true),
                msg(2.0, 2, 2, true),
                msg(2.5, 10, 10, false),
                msg(4.0, 2, 2, true),
                msg(4.0, 0, 0, true),
                msg(4.0, 2, 2, true),
            ],
            ..Default::default()
        };
        let rows = timeseries(&out);
        let mut keys: Vec<(&str, &str)> = rows
            .iter()
            .map(|(t, m, _)| (t.as_str(), m.as_str()))
            .collect();
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), n, "(t_s, metric) repeats: {rows:?}");
        let get = |t: &str, m: &str| {
            rows.iter()
                .find(|r| r.0 == t && r.1 == m)
                .map(|r| r.2.clone())
        };
        // A round: delivered over expected of all its probe messages, the slowest delivery.
        assert_eq!(
            get("2", "probe_delivery_ratio").as_deref(),
            Some("0.8333333333333334")
        );
        assert_eq!(get("2", "probe_latency_ms_max").as_deref(), Some("2"));
        assert_eq!(get("4", "probe_delivery_ratio").as_deref(), Some("1"));
        assert_eq!(get("2", "delivery_ratio").as_deref(), Some("1"));
    }

    #[test]
    fn probes_line_shows_whenever_there_were_probes() {
        let t = summary_text(&summary(), 1);
        assert!(!t.contains("probes "), "no probes: {t}");
        let s = RunSummary {
            probe_full_delivery_ratio: 0.0,
            ..summary()
        };
        let t = summary_text(&s, 1);
        assert!(
            t.contains("  probes                0.000 of probe messages"),
            "{t}"
        );
    }

    #[test]
    fn text_summary_shows_publish_errors_only_when_there_are_some() {
        let ok = summary_text(&summary(), 1);
        assert!(!ok.contains("publish errors"), "{ok}");
        let s = RunSummary {
            messages_published: 4,
            publish_errors: 4,
            deliveries: 0,
            deliveries_expected: 196,
            delivery_ratio: 0.0,
            ..summary()
        };
        let t = summary_text(&s, 1);
        assert!(
            t.contains("  publish errors        4 publishes refused by GossipSub"),
            "{t}"
        );
        assert!(
            t.contains("  delivery              0.0000  (0 of 196"),
            "{t}"
        );
        assert!(
            t.contains("  latency ms            n/a (no deliveries)"),
            "{t}"
        );
    }

    #[test]
    fn text_summary_warns_when_nothing_was_published() {
        let s = RunSummary {
            messages_published: 0,
            deliveries: 0,
            deliveries_expected: 0,
            delivery_ratio: 1.0,
            ..summary()
        };
        let t = summary_text(&s, 1);
        assert!(!t.contains("1.0000"), "no ratio of 1 for nothing: {t}");
        assert!(
            t.contains("  delivery              n/a  (0 of 0 deliveries, 0 messages)"),
            "{t}"
        );
        assert!(
            t.contains("WARNING               no message was published"),
            "{t}"
        );
        // A normal run: the ratio, no warning.
        let t = summary_text(&summary(), 2);
        assert!(t.contains("  delivery              1.0000  (980 of 980 deliveries, 20 messages)"));
        assert!(t.contains("(2 partitions, one thread each)"));
        assert!(!t.contains("WARNING"), "{t}");
    }

    #[test]
    fn text_summary_tells_no_sync_convergence_event_from_no_convergence() {
        use models::history::metrics::ConvergenceRecord;
        let on = RunSummary {
            history_enabled: true,
            ..summary()
        };
        let t = summary_text(&on, 1);
        assert!(
            t.contains("sync convergence      n/a (no peer returned"),
            "{t}"
        );
        let stuck = RunSummary {
            convergence: vec![ConvergenceRecord {
                kind: "heal".into(),
                peer: None,
                at_s: 5.0,
                converged_after_s: None,
            }],
            ..on
        };
        let t = summary_text(&stuck, 1);
        assert!(
            t.contains("sync convergence      NOT CONVERGED after"),
            "{t}"
        );
    }

    #[test]
    fn sync_convergence_cells_are_empty_when_not_applicable() {
        // Sync off (and likewise no return/heal, or not converged): empty cells,
        // which pandas reads as NaN and the sync plots skip, while the counts read 0.
        let cols = run_columns("r", &summary());
        let cell = |k: &str| cols.iter().find(|(c, _)| *c == k).map(|(_, v)| v.as_str());
        assert_eq!(cell("sync_convergence_s"), Some(""));
        assert_eq!(cell("sync_convergence_max_s"), Some(""));
        assert_eq!(cell("syncs"), Some("0"));
        assert_eq!(cell("final_distinct_roots"), Some("0"));
        let on = RunSummary {
            history_enabled: true,
            sync_convergence_s: Some(1.5),
            sync_convergence_max_s: Some(2.5),
            ..summary()
        };
        let cols = run_columns("r", &on);
        let cell = |k: &str| cols.iter().find(|(c, _)| *c == k).map(|(_, v)| v.clone());
        assert_eq!(cell("sync_convergence_s").as_deref(), Some("1.5"));
        assert_eq!(cell("sync_convergence_max_s").as_deref(), Some("2.5"));
    }

    #[test]
    fn sync_event_counts_tell_no_event_from_no_convergence() {
        let rec = |after: Option<f64>| models::history::metrics::ConvergenceRecord {
            kind: "return".into(),
            peer: Some(1),
            at_s: 10.0,
            converged_after_s: after,
        };
        let counts = |s: &RunSummary| {
            let cols = run_columns("r", s);
            let cell = |k: &str| {
                cols.iter()
                    .find(|(c, _)| *c == k)
                    .map(|(_, v)| v.clone())
                    .unwrap()
            };
            (cell("sync_events"), cell("sync_unconverged"))
        };
        // No return or heal: 0 events; one that converged and one that did not.
        assert_eq!(counts(&summary()), ("0".into(), "0".into()));
        let s = RunSummary {
            history_enabled: true,
            convergence: vec![rec(Some(1.0)), rec(None)],
            sync_events: 2,
            sync_unconverged: 1,
            ..summary()
        };
        assert_eq!(counts(&s), ("2".into(), "1".into()));
        // The same two numbers are in the JSON summary.
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(
            (j["sync_events"].as_u64(), j["sync_unconverged"].as_u64()),
            (Some(2), Some(1))
        );
    }
}
