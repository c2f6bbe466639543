//! The columns of `runs.csv`: one row per run, the same columns for
//! `meshsim run`, `sweep` (after its run and parameter columns) and
//! `interop`.

use models::RunSummary;

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
        ("data_bytes_per_peer", s.data_bytes_per_peer.to_string()),
        (
            "control_bytes_per_peer",
            s.control_bytes_per_peer.to_string(),
        ),
        ("partial_enabled", s.partial_enabled.to_string()),
        ("partial_parts_missing", s.partial_parts_missing.to_string()),
        (
            "partial_parts_received",
            s.partial_parts_received.to_string(),
        ),
        (
            "partial_parts_duplicate",
            s.partial_parts_duplicate.to_string(),
        ),
        (
            "partial_messages_with_parts",
            s.partial_messages_with_parts.to_string(),
        ),
        (
            "partial_messages_metadata_only",
            s.partial_messages_metadata_only.to_string(),
        ),
        ("partial_invalid", s.partial_invalid.to_string()),
        (
            "partial_data_bytes_per_peer",
            s.partial_data_bytes_per_peer.to_string(),
        ),
        (
            "partial_control_bytes_per_peer",
            s.partial_control_bytes_per_peer.to_string(),
        ),
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
