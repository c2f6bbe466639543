//! The memory safety valve: before a run (or a sweep) starts, estimate its
//! peak memory from its size and workload, and refuse it when the estimate
//! exceeds the limit, rather than being killed for lack of memory mid-sweep.
//!
//! The model (bytes), fitted on `meshsim bench` peak RSS of the `meshsim`
//! binary, which allocates with mimalloc (degree 8, 1 KiB messages at
//! 1 msg/s: 183-208 KiB per peer from 100,000 down to 1,000 peers; glibc
//! malloc needs 10-15% less):
//!
//! ```text
//! peak = BASE
//!      + peers x (PER_PEER + connections_per_peer x PER_CONNECTION_END)
//!      + peers x subscribe_share x (
//!            rate x duplicate_cache_s x PER_SEEN_ID
//!          + rate x (history_length x heartbeat_s + 1) x (message_bytes + PER_MESSAGE)
//!          + IN_FLIGHT_COPIES x max(1, rate x WAVE_S) x (message_bytes + PER_MESSAGE)
//!            (with partial messages: no message cache term, and
//!             PARTIAL_COPIES in place of IN_FLIGHT_COPIES)
//!          + with partial messages: rate x duration_s x PER_PARTIAL_GROUP)
//!      + rate x duration_s x peers x subscribe_share x PER_DELIVERY_RECORD
//!      + peers x PER_BACKOFF_SLOT x (backoff slots beyond the default 60)
//!      + (partitions - 1) x peers x PER_PARTITION_PEER
//! ```
//!
//! with `connections_per_peer` the topology's mean degree (for a graph file,
//! its real degree: the file is read before the estimate), `rate` the
//! workload's messages per second plus the health-check probes', and
//! backoff slots `max(prune_backoff, unsubscribe_backoff) / heartbeat`
//! (GossipSub keeps a set per heartbeat of its longest backoff).
//!
//! The in-flight term is what large messages cost besides the message cache:
//! the copies GossipSub queues for its mesh peers and the frames being
//! encoded and decoded while a message crosses the network (the codec holds
//! large frames packed, so their zero padding costs nothing). Fitted on 1 MB
//! messages, 10 publishers 4 s apart, degree 16, mesh_n 8 (peak RSS, tcp:
//! 100 peers 255 MiB, 500 peers 1,132 MiB, 2,000 peers 4,460 MiB; ideal:
//! 500 peers 1,132 MiB, 2,000 peers 4,626 MiB): 0.6 copies per subscriber.
//! Within 12% too at degree 32 (D = 12) and degree 8 (D = 4).
//!
//! With partial messages GossipSub caches no whole message (the message
//! cache term is left out) and what a subscriber holds is the parts on
//! their way: `PARTIAL_COPIES` (by transport model) in place of the
//! in-flight copies.
//!
//! It is an estimate (within about 30% on the benchmark and the
//! large-message scenarios), meant to catch runs that are off by integer
//! factors.
//!
//! The limit is `limits.max_memory_mib` when set, else 90% of the machine's
//! memory (`MemTotal`) divided among the runs that run at once. `--force`
//! skips the check.

use crate::load::InputError;
use models::Experiment;

/// Process baseline: binary, allocator, thread stacks.
pub const BASE: u64 = 24 << 20;
/// Per peer: swarm, GossipSub behaviour, key, engine state.
pub const PER_PEER: u64 = 24 << 10;
/// Per connection end: handler, two substreams with their codec buffers, pipes.
pub const PER_CONNECTION_END: u64 = 18 << 10;
/// Per message id in a peer's duplicate cache.
pub const PER_SEEN_ID: u64 = 160;
/// Overhead per cached message besides its payload.
pub const PER_MESSAGE: u64 = 400;
/// Per first delivery kept by the collector (latency sample and trace).
pub const PER_DELIVERY_RECORD: u64 = 16;
/// Copies of a message each subscriber holds while it crosses the network
/// (either transport model).
pub const IN_FLIGHT_COPIES: f64 = 0.6;
/// How long a wave of a large message lasts, s (messages closer than this overlap).
pub const WAVE_S: f64 = 2.0;
/// With partial messages, the copies of a message's parts a subscriber
/// holds on their way, under the `tcp` and the `ideal` model: 1 MiB
/// messages of `experiments/partial.toml` (200 peers, 8 parts, nothing
/// held), peak RSS 456 MiB (tcp) and 150 MiB (ideal); full messages of the
/// same experiment 684 and 716 MiB.
pub const PARTIAL_COPIES: [f64; 2] = [2.0, 0.5];
/// Per subscriber and message: the parts a peer keeps of each group (its
/// bitmap and keys), never dropped during a run.
pub const PER_PARTIAL_GROUP: u64 = 200;
/// Per heartbeat slot of GossipSub's backoff storage (an empty set).
pub const PER_BACKOFF_SLOT: u64 = 48;

/// Per peer and partition beyond the first: every partition holds every
/// peer's address, key and an inert stand-in, and each thread its own
/// allocator pools (10,000 peers, 2 partitions: 2,005 against 1,884 MiB).
pub const PER_PARTITION_PEER: u64 = 12 << 10;

/// A run's estimated peak memory, bytes.
pub fn estimate_bytes(exp: &Experiment) -> u64 {
    let peers = f64::from(exp.peers);
    let degree = mean_degree(exp);
    let g = &exp.gossipsub;
    let w = &exp.workload;
    let heartbeat_s = g.heartbeat_interval_ms.unwrap_or(1000) as f64 / 1000.0;
    let history = g.history_length.unwrap_or(5) as f64;
    let dup_s = g.duplicate_cache_time_ms.unwrap_or(60_000) as f64 / 1000.0;
    let probe_rate = if exp.probes.count > 0 {
        f64::from(exp.probes.count) * 1000.0 / exp.probes.interval_ms.max(1) as f64
    } else {
        0.0
    };
    let rate = w.rate_per_s.max(0.0) + probe_rate;
    let share = w.subscribe_share.clamp(0.0, 1.0);
    // The mean message size, probes included.
    let msg = if rate > 0.0 {
        (w.rate_per_s.max(0.0) * w.message_bytes as f64
            + probe_rate * exp.probes.message_bytes as f64)
            / rate
    } else {
        w.message_bytes as f64
    };
    let cached = rate * (history * heartbeat_s + 1.0) * (msg + PER_MESSAGE as f64);
    let (cached, copies, groups) = match w.partial() {
        Some(_) => {
            let copies = match exp.network.transport.model {
                models::spec::TransportModel::Tcp => PARTIAL_COPIES[0],
                models::spec::TransportModel::Ideal => PARTIAL_COPIES[1],
            };
            (
                0.0,
                copies,
                rate * exp.duration_s * PER_PARTIAL_GROUP as f64,
            )
        }
        None => (cached, IN_FLIGHT_COPIES, 0.0),
    };
    let per_subscriber = rate * dup_s.min(exp.duration_s) * PER_SEEN_ID as f64
        + cached
        + copies * (rate * WAVE_S).max(1.0) * (msg + PER_MESSAGE as f64)
        + groups;
    let backoff_ms = g
        .prune_backoff_ms
        .unwrap_or(60_000)
        .max(g.unsubscribe_backoff_ms.unwrap_or(10_000)) as f64;
    let slots = backoff_ms / (heartbeat_s * 1000.0).max(1.0);
    let backoff = peers * PER_BACKOFF_SLOT as f64 * (slots - 60.0).max(0.0);
    let records = rate * exp.duration_s * peers * share * PER_DELIVERY_RECORD as f64;
    let total = BASE as f64
        + peers * (PER_PEER as f64 + degree * PER_CONNECTION_END as f64)
        + peers * share * per_subscriber
        + records
        + backoff
        + f64::from(exp.partitions.saturating_sub(1)) * peers * PER_PARTITION_PEER as f64;
    total.min(u64::MAX as f64) as u64
}

/// Mean connections per peer of the experiment's initial topology.
fn mean_degree(exp: &Experiment) -> f64 {
    let t = &exp.topology;
    let n = f64::from(exp.peers.max(1));
    match format!("{:?}", t.kind).to_ascii_lowercase().as_str() {
        "chain" => 2.0,
        "edges" => 2.0 * t.edges.len() as f64 / n,
        "erdos_renyi" | "erdosrenyi" => t.p.unwrap_or(0.0) * (n - 1.0),
        "barabasi_albert" | "barabasialbert" => 2.0 * f64::from(t.m.unwrap_or(t.degree / 2)),
        _ => f64::from(t.degree),
    }
    .clamp(0.0, n - 1.0)
    .max(1.0)
}

/// Total memory of this machine, bytes (`MemTotal`), if known.
pub fn machine_memory_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = s
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The memory limit for one run, MiB, and where it comes from.
pub fn limit_mib(exp: &Experiment, parallel_runs: usize) -> Option<(u64, String)> {
    if let Some(l) = exp.limits.max_memory_mib {
        return Some((l, "limits.max_memory_mib".into()));
    }
    let total = machine_memory_bytes()?;
    let runs = parallel_runs.max(1) as u64;
    let l = (total / 10 * 9 / runs) >> 20;
    Some((
        l,
        format!(
            "90% of this machine's {} MiB{}",
            total >> 20,
            if runs > 1 {
                format!(" shared by {runs} parallel runs")
            } else {
                String::new()
            }
        ),
    ))
}

/// Refuses `exp` (labelled `label`) when its estimate exceeds the limit.
pub fn check(
    label: &str,
    exp: &Experiment,
    parallel_runs: usize,
    force: bool,
) -> Result<(), InputError> {
    if force {
        return Ok(());
    }
    let Some((limit, source)) = limit_mib(exp, parallel_runs) else {
        return Ok(());
    };
    let est = estimate_bytes(exp) >> 20;
    if est <= limit {
        return Ok(());
    }
    Err(InputError::Key {
        file: label.to_string(),
        key: "limits.max_memory_mib".into(),
        message: format!(
            "this run would need about {est} MiB ({} peers, about {} KiB each), \
             more than the limit of {limit} MiB ({source}); \
             reduce peers or the workload, raise limits.max_memory_mib, \
             or (meshsim run only) pass --force",
            exp.peers,
            ((estimate_bytes(exp) - BASE) / u64::from(exp.peers.max(1))) >> 10
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(sets: &[&str]) -> Experiment {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        crate::load::parse("<test>", "", &sets).expect("valid")
    }

    #[test]
    fn benchmark_scenario_is_near_its_measured_rss() {
        // Measured (bench, mimalloc): 1,000 peers, degree 8: 203 MiB peak RSS.
        let e = exp(&["peers=1000", "topology.degree=8"]);
        let mib = estimate_bytes(&e) >> 20;
        assert!((160..=260).contains(&mib), "{mib} MiB");
        // Measured (bench, README Speed, mimalloc): 10,000 peers for 60 s:
        // 1,881 MiB; 100,000 peers for 30 s: 17,842 MiB. Within 15% either way.
        for (peers, secs, measured) in [(10_000, 60, 1_881u64), (100_000, 30, 17_842)] {
            let e = exp(&[
                &format!("peers={peers}"),
                "topology.degree=8",
                &format!("duration_s={secs}"),
                "workload.message_bytes=1024",
            ]);
            let mib = estimate_bytes(&e) >> 20;
            assert!(
                mib * 100 >= measured * 85 && mib * 100 <= measured * 115,
                "{peers} peers: estimate {mib} MiB, measured {measured} MiB"
            );
        }
    }

    #[test]
    fn large_messages_are_near_their_measured_rss() {
        // 1 MB messages, 10 publishers one message each 4 s apart
        // (experiments/idontwant.toml's setup; peak RSS of meshsim run,
        // mimalloc): degree 16 with D = 8/6/12, and at 500 peers under tcp
        // degree 32 with D = 12/9/18 and degree 8 with D = 4/3/6 (slower
        // waves overlap more). Within 30% either way.
        for (model, peers, d, measured) in [
            ("tcp", 100u32, [16, 8, 6, 12], 255u64),
            ("tcp", 500, [16, 8, 6, 12], 1_132),
            ("tcp", 2_000, [16, 8, 6, 12], 4_460),
            ("ideal", 500, [16, 8, 6, 12], 1_132),
            ("ideal", 2_000, [16, 8, 6, 12], 4_626),
            ("tcp", 500, [32, 12, 9, 18], 1_384),
            ("tcp", 500, [8, 4, 3, 6], 1_264),
        ] {
            let e = exp(&[
                &format!("peers={peers}"),
                &format!("network.transport.model={model}"),
                "duration_s=50",
                &format!("topology.degree={}", d[0]),
                &format!("gossipsub.mesh_n={}", d[1]),
                &format!("gossipsub.mesh_n_low={}", d[2]),
                &format!("gossipsub.mesh_n_high={}", d[3]),
                "gossipsub.mesh_outbound_min=2",
                "gossipsub.max_transmit_size=2097152",
                "workload.publishers=10",
                "workload.rate_per_s=0.25",
                "workload.message_bytes=1000000",
            ]);
            let mib = estimate_bytes(&e) >> 20;
            assert!(
                mib * 100 >= measured * 70 && mib * 100 <= measured * 130,
                "{model}, {peers} peers, degree {}: estimate {mib} MiB, measured {measured} MiB",
                d[0]
            );
        }
    }

    #[test]
    fn partial_messages_are_near_their_measured_rss() {
        // experiments/partial.toml at 1 MiB, nothing held (peak RSS of
        // meshsim run, mimalloc).
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/partial.toml");
        for (model, enabled, measured) in [
            ("tcp", "false", 684u64),
            ("tcp", "true", 456),
            ("ideal", "false", 716),
            ("ideal", "true", 150),
        ] {
            let sets = vec![
                "workload.message_bytes=1048576".to_string(),
                format!("workload.partial.enabled={enabled}"),
                format!("network.transport.model={model}"),
            ];
            let e = crate::load::load_full(Some(std::path::Path::new(path)), &sets)
                .expect("valid")
                .exp;
            let mib = estimate_bytes(&e) >> 20;
            assert!(
                mib * 100 >= measured * 70 && mib * 100 <= measured * 130,
                "{model}, partial {enabled}: estimate {mib} MiB, measured {measured} MiB"
            );
        }
    }

    #[test]
    fn keys_that_blow_memory_up_raise_the_estimate() {
        let base = estimate_bytes(&exp(&["peers=30"]));
        for set in [
            "gossipsub.prune_backoff_ms=86400000",
            "workload.message_bytes=4000000",
            "workload.rate_per_s=1000",
        ] {
            let e = exp(&["peers=30", "gossipsub.max_transmit_size=8388608", set]);
            assert!(estimate_bytes(&e) > 2 * base, "{set}");
        }
        let probes = exp(&["peers=30", "probes.count=30", "probes.interval_ms=1"]);
        assert!(estimate_bytes(&probes) > 2 * base);
    }

    #[test]
    fn refuses_an_oversized_run_and_force_overrides() {
        let e = exp(&["peers=100000", "limits.max_memory_mib=1024"]);
        let err = check("<test>", &e, 1, false).expect_err("must refuse");
        let msg = err.to_string();
        assert!(msg.contains("limits.max_memory_mib"), "{msg}");
        assert!(msg.contains("1024 MiB"), "{msg}");
        assert!(check("<test>", &e, 1, true).is_ok());
        let small = exp(&["peers=10", "limits.max_memory_mib=1024"]);
        assert!(check("<test>", &small, 1, false).is_ok());
    }
}
