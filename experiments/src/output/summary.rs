//! The text summary `meshsim run` prints without `--json`.

use models::RunSummary;

/// The text summary `meshsim run` prints (without `--json`): one line per
/// quantity, the optional ones only when they apply. `partitions` is the
/// experiment's thread count, `transport` its transport model described.
pub fn summary_text(s: &RunSummary, partitions: u16, transport: &str) -> String {
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
    say!("  transport             {transport}");
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
    if s.partial_enabled {
        say!(
            "  partial messages      delivery = every part held; {} parts missing at publish, {} received ({} duplicates), {} invalid",
            s.partial_parts_missing,
            s.partial_parts_received,
            s.partial_parts_duplicate,
            s.partial_invalid
        );
        say!(
            "  partial on the wire   {} with parts, {} metadata only",
            s.partial_messages_with_parts,
            s.partial_messages_metadata_only
        );
        say!(
            "  partial bytes/peer    data {:.0}  control {:.0}",
            s.partial_data_bytes_per_peer,
            s.partial_control_bytes_per_peer
        );
    }
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
