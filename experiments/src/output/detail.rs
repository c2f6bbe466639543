//! A run's detail tables, one CSV text each, and their concatenation over
//! the runs of a sweep.

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
