//! Partitioned runs (`partitions = N`): the network split into N threads
//! that exchange what crosses between them in windows of the smallest link
//! latency. They must be as deterministic as one thread, deliver what one
//! thread delivers, and refuse what they do not support.

use models::spec::{Experiment, LatencyModel};
use sim::EntropyMode;

fn small(partitions: u16) -> Experiment {
    let mut e = Experiment {
        name: "parts".into(),
        peers: 40,
        duration_s: 15.0,
        partitions,
        ..Experiment::default()
    };
    e.topology.degree = 8;
    e.network.latency = LatencyModel::Uniform {
        min_ms: 20.0,
        max_ms: 80.0,
    };
    e.workload.start_s = 3.0;
    e.workload.rate_per_s = 2.0;
    e.measure.deliveries = true;
    e
}

fn run(e: &Experiment, seed: u64) -> models::RunOutput {
    models::run_full(e, seed, EntropyMode::Seeded).expect("run")
}

#[test]
fn a_partitioned_run_is_reproducible_and_depends_on_its_seed_and_partition_count() {
    let e = small(2);
    let a = run(&e, 5);
    let b = run(&e, 5);
    assert_eq!(a.summary, b.summary, "every summary field is identical");
    assert_eq!(a.deliveries, b.deliveries);
    assert_eq!(a.samples, b.samples);
    // Beside other runs on other threads, still the same.
    let handles: Vec<_> = [5u64, 6, 5]
        .into_iter()
        .map(|seed| {
            let e = e.clone();
            std::thread::spawn(move || (seed, run(&e, seed).summary.trace_hash))
        })
        .collect();
    for h in handles {
        let (seed, hash) = h.join().unwrap();
        if seed == 5 {
            assert_eq!(hash, a.summary.trace_hash);
        } else {
            assert_ne!(hash, a.summary.trace_hash);
        }
    }
    let three = run(&small(3), 5);
    assert_ne!(three.summary.trace_hash, a.summary.trace_hash);
}

#[test]
fn partitions_deliver_what_one_thread_delivers() {
    let one = run(&small(1), 9);
    for parts in [2u16, 3] {
        let p = run(&small(parts), 9);
        let (s, o) = (&p.summary, &one.summary);
        assert_eq!(
            s.messages_published, o.messages_published,
            "{parts} partitions"
        );
        assert_eq!(s.deliveries_expected, o.deliveries_expected);
        assert_eq!(s.deliveries, s.deliveries_expected, "everything delivered");
        // Every edge of the same initial graph is dialed once and stays up.
        assert_eq!(s.connections_opened, o.connections_opened);
        assert_eq!(s.connections_closed, 0);
        assert!(
            s.mesh_degree.min >= 4.0,
            "meshes formed: {:?}",
            s.mesh_degree
        );
        // Timing comes from the same links: latencies within a few ms.
        assert!(
            (s.latency_ms.p50 - o.latency_ms.p50).abs() < 25.0,
            "p50 {} vs {}",
            s.latency_ms.p50,
            o.latency_ms.p50
        );
        assert!(s.latency_ms.p50 >= 20.0, "no delivery faster than a link");
        // Per-peer rows add up across partitions.
        let sent: u64 = p.peers.iter().map(|r| r.bytes_sent).sum();
        let received: u64 = p.peers.iter().map(|r| r.bytes_received).sum();
        assert_eq!(sent, received, "every byte sent is received somewhere");
        assert!(p.peers.iter().all(|r| r.up && r.connections >= 8));
        let delivered: u64 = p.peers.iter().map(|r| r.wire.deliveries).sum();
        assert_eq!(delivered, s.deliveries);
        // Samples combine: every live peer of the run counted once.
        let last = p.samples.last().expect("samples");
        assert_eq!(last.live_peers, 40);
        assert_eq!(last.connections, o.connections_opened);
        // Deliveries: one per (message, receiver).
        let mut d: Vec<(u64, u32)> = p
            .deliveries
            .as_ref()
            .unwrap()
            .iter()
            .map(|&(m, peer, _)| (m, peer))
            .collect();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len() as u64, s.deliveries);
    }
}

/// Crashes, graceful leaves, a network partition that heals and a
/// bandwidth-limited class: every partition applies each scenario action at
/// the same instant to its halves of the affected connections.
fn faulty(partitions: u16) -> Experiment {
    let text = r#"
name = "faults"
peers = 40
duration_s = 30.0
[network]
latency = { model = "uniform", min_ms = 20.0, max_ms = 80.0 }
[topology]
kind = "random_regular"
degree = 8
[gossipsub]
signing = "none"
[workload]
rate_per_s = 2.0
start_s = 3.0
[[class]]
name = "slow"
count = 8
upload_mbps = 2.0
download_mbps = 2.0
[[class]]
name = "fast"
count = 32
[[timeline]]
action = "offline"
at_s = 8.0
duration_s = 6.0
peers = [1, 25]
[[timeline]]
action = "offline"
at_s = 9.0
duration_s = 5.0
count = 3
graceful = true
redial = 4
[[timeline]]
action = "partition"
at_s = 16.0
duration_s = 5.0
share = 0.5
"#;
    let mut e: Experiment = toml::from_str(text).expect("valid experiment");
    e.partitions = partitions;
    e.validate().expect("valid");
    e
}

#[test]
fn churn_and_network_partitions_reach_both_halves_of_a_connection() {
    let one = run(&faulty(1), 3);
    let two = run(&faulty(2), 3);
    assert_eq!(two.summary, run(&faulty(2), 3).summary, "reproducible");
    let (s, o) = (&two.summary, &one.summary);
    // The same peers go down and up, so the same deliveries are expected.
    assert_eq!(s.deliveries_expected, o.deliveries_expected);
    assert_eq!(s.messages_published, o.messages_published);
    // Connections lost to crashes, leaves and the partition are seen closed
    // at both ends, and the redials after returns and healing happen.
    assert!(o.connections_closed > 10, "{o:?}");
    assert_eq!(s.connections_closed, o.connections_closed);
    assert_eq!(s.connections_opened, o.connections_opened);
    // After healing, everything published reaches everyone again.
    let late: Vec<_> = two
        .messages
        .iter()
        .filter(|m| m.published_ns > 25 * sim::SEC && m.published_ns < 29 * sim::SEC)
        .collect();
    assert!(!late.is_empty());
    assert!(late.iter().all(|m| m.delivered == m.expected), "{late:?}");
    assert!(
        (s.delivery_ratio - o.delivery_ratio).abs() < 0.05,
        "{} vs {}",
        s.delivery_ratio,
        o.delivery_ratio
    );
}

/// A partitioned run's `--trace` file lists every scenario action once, with
/// the values one thread writes (the heal counts the cut connections of
/// every partition), and every connection seen closed from both ends.
#[test]
fn a_partitioned_trace_lists_the_scenario_actions_as_one_thread_does() {
    let traced = |parts: u16| {
        let trace = std::sync::Arc::new(models::trace::MemoryTrace::default());
        let opts = models::RunOptions {
            trace: Some(trace.clone()),
            ..Default::default()
        };
        let out = models::run_with(&faulty(parts), 3, EntropyMode::Seeded, &opts).unwrap();
        // Connections still open at the end, counted from both ends.
        let ends: u32 = out.peers.iter().map(|p| p.connections).sum();
        ((out.summary, ends), trace.text().expect("committed"))
    };
    let lines = |text: &str, kind: &str| -> Vec<String> {
        let tag = format!("\"kind\":\"{kind}\"");
        text.lines()
            .filter(|l| l.contains(&tag))
            .map(str::to_owned)
            .collect()
    };
    // 3 partitions: the split's first group spans more than one of them,
    // so the heal's count adds up several partitions' counts.
    let (((s1, ends1), one), ((s2, ends2), two)) = (traced(1), traced(3));
    let actions = lines(&one, "action");
    // Downs and ups of 5 peers, the split and its healing.
    assert!(actions.len() >= 12, "{actions:?}");
    let heal: Vec<&String> = actions
        .iter()
        .filter(|l| l.contains("\"code\":5,"))
        .collect();
    assert_eq!(heal.len(), 1);
    assert!(
        !heal[0].ends_with("\"arg\":0}"),
        "the split cut connections: {}",
        heal[0]
    );
    assert_eq!(lines(&two, "action"), actions);
    assert_eq!(lines(&two, "publish"), lines(&one, "publish"));
    for (s, ends, text) in [(&s1, ends1, &one), (&s2, ends2, &two)] {
        // Every connection opened was closed or lost, or is open at the
        // end: a crashed peer's swarm reports no closing, but its
        // connections count as closed (the trace has the survivors' ends).
        assert_eq!(
            s.connections_opened - s.connections_closed,
            u64::from(ends / 2),
            "{s:?}"
        );
        assert!(lines(text, "conn_close").len() as u64 <= 2 * s.connections_closed);
        assert_eq!(
            lines(text, "conn_open").len() as u64,
            2 * s.connections_opened
        );
        // Every first delivery (the summary counts those to peers that were
        // up when the message was published), each once.
        let mut d: Vec<String> = lines(text, "delivery")
            .iter()
            .map(|l| l[l.find("\"kind\"").unwrap()..].to_owned())
            .collect();
        let n = d.len();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), n);
        assert!(n as u64 >= s.deliveries);
    }
    // A trace that cannot be written fails the run before it starts.
    let opts = models::RunOptions {
        trace: Some(std::sync::Arc::new(Unwritable)),
        ..Default::default()
    };
    let err = models::run_with(&faulty(2), 3, EntropyMode::Seeded, &opts).unwrap_err();
    assert!(err.to_string().contains("cannot write the trace"), "{err}");
}

/// A trace sink that cannot be written.
#[derive(Debug)]
struct Unwritable;

impl models::trace::TraceSink for Unwritable {
    fn lines(&self) -> std::io::Result<Box<dyn std::io::Write + Send>> {
        Err(std::io::Error::other("no room"))
    }
    fn records(&self, _: u16) -> std::io::Result<Box<dyn std::io::Write + Send>> {
        Err(std::io::Error::other("no room"))
    }
    fn read_records(&self, _: u16) -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Err(std::io::Error::other("no room"))
    }
    fn commit(&self) -> std::io::Result<()> {
        Err(std::io::Error::other("no room"))
    }
}

/// GossipSub's own metrics are summed over the peers of every partition.
#[test]
fn prometheus_metrics_cover_every_partition() {
    let metric = |parts: u16, series: &str| -> f64 {
        let mut e = small(parts);
        e.measure.prometheus = true;
        let text = run(&e, 2).metrics_prom.expect("metrics");
        assert_eq!(
            text.matches("# meshsim: GossipSub metrics summed over 40 peers")
                .count(),
            1
        );
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} in {text}"))
    };
    // Every peer subscribes; every peer sees its 8 neighbours subscribe.
    for parts in [1, 2] {
        assert_eq!(
            metric(parts, "topic_subscription_status{hash=\"meshsim-topic-0\"}"),
            40.0
        );
        assert_eq!(
            metric(parts, "topic_peers_counts{hash=\"meshsim-topic-0\"}"),
            320.0
        );
    }
}

/// Score metrics add up what neighbours in every partition score a peer.
#[test]
fn score_metrics_cover_neighbours_in_every_partition() {
    let scored = |parts: u16| {
        let mut e = small(parts);
        e.scoring.preset = models::spec::ScoringPreset::Default;
        run(&e, 4)
    };
    let (one, two) = (scored(1), scored(2));
    assert_eq!(one.samples.len(), two.samples.len());
    for (a, b) in one.samples.iter().zip(&two.samples) {
        let names = |s: &models::series::Sample| -> Vec<String> {
            s.extra.iter().map(|(n, _)| n.clone()).collect()
        };
        assert_eq!(names(a), names(b), "the same metrics at {} s", a.t_s);
        assert!(b.score_obs.is_none(), "observations turned into values");
    }
    let mean = |o: &models::RunOutput| {
        o.samples
            .last()
            .and_then(|s| s.extra.iter().find(|(n, _)| n == "score_mean_honest"))
            .map(|x| x.1)
            .expect("score_mean_honest")
    };
    // Honest peers' time in mesh dominates their scores, the same with
    // neighbours on either side (within 10%).
    let (m1, m2) = (mean(&one), mean(&two));
    assert!(m1 > 0.0 && (m1 - m2).abs() <= 0.1 * m1, "{m1} vs {m2}");
    assert_eq!(two.summary.graylisted_honest_max, 0.0);
}

/// History sync across partitions: `experiments/partition-heal.toml` (40
/// peers with Prolly-tree logs, a network split that heals) converges as
/// with one thread: the root changes of every partition, replayed in time
/// order, give the convergence time and the distinct-roots series.
#[test]
fn history_sync_converges_across_partitions_as_in_one_thread() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../experiments/partition-heal.toml"
    );
    let mut v: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v.remove("sweep");
    let e: Experiment = toml::Value::Table(v).try_into().unwrap();
    assert!(e.history.enabled);
    let with = |parts: u16| {
        let mut e = e.clone();
        e.partitions = parts;
        e.validate().expect("valid");
        run(&e, 1).summary
    };
    let (one, two) = (with(1), with(2));
    assert!(one.sync_converged && two.sync_converged);
    assert_eq!(two.final_distinct_roots, 1);
    assert_eq!(two.syncs, one.syncs);
    assert_eq!(two.syncs_completed, two.syncs);
    let (c1, c2) = (
        one.sync_convergence_s.unwrap(),
        two.sync_convergence_s.unwrap(),
    );
    assert!((c1 - c2).abs() < 0.5, "{c1} vs {c2}");
    assert_eq!(two.root_series.len(), one.root_series.len());
    // While the network is split the two halves have different roots.
    assert!(two.root_series.iter().any(|r| r.distinct_roots > 1));
    assert_eq!(two.root_series.last().unwrap().distinct_roots, 1);
    assert_eq!(two.root_series.last().unwrap().live_peers, 40);
    assert_eq!(two, with(2), "reproducible");
}

/// Wire-level adversaries across partitions. Peers 0-15 are honest, 16-19
/// promise breakers and 20-23 GRAFT spammers; at 2 partitions peers 0-11 run
/// in the first and 12-23 in the second, and every adversary's neighbours
/// are among peers 0-11: whatever it learns of them (that they agreed to
/// GossipSub, that they pruned it) comes from the other partition, through
/// notes between the partitions' wire filters. Only the behaviour penalty
/// (P7) scores.
fn adversarial(partitions: u16) -> Experiment {
    use models::spec::{ClassSpec, PeerBehaviourKind};
    let mut e = small(partitions);
    e.peers = 24;
    e.duration_s = 30.0;
    e.topology.kind = models::spec::TopologyKind::Edges;
    // Honest peers: a ring with chords (degree 8).
    for i in 0..16u32 {
        for k in 1..=4 {
            e.topology.edges.push([i, (i + k) % 16]);
        }
    }
    // Each adversary: 6 of peers 0-11.
    for a in 16..24u32 {
        for k in 0..6 {
            e.topology.edges.push([a, (a * 5 + k * 2) % 12]);
        }
    }
    e.workload.rate_per_s = 4.0;
    e.measure.wire = true;
    e.gossipsub.mesh_n = Some(4);
    e.gossipsub.mesh_n_low = Some(3);
    e.gossipsub.mesh_n_high = Some(5);
    e.gossipsub.mesh_outbound_min = Some(1);
    let bad = |name: &str, b| ClassSpec {
        spam_rate_per_s: 2.0,
        ..ClassSpec::new(name, 4, b)
    };
    e.classes = vec![
        ClassSpec::new("honest", 16, PeerBehaviourKind::Honest),
        bad("breaker", PeerBehaviourKind::PromiseBreaker),
        bad("spammer", PeerBehaviourKind::GraftSpammer),
    ];
    let mut s = models::spec::ScoringSpec {
        preset: models::spec::ScoringPreset::Default,
        behaviour_penalty_weight: Some(-10.0),
        slow_peer_weight: Some(0.0),
        ip_colocation_factor_weight: Some(0.0),
        ..Default::default()
    };
    let t = &mut s.topic;
    t.time_in_mesh_weight = Some(0.0);
    t.first_message_deliveries_weight = Some(0.0);
    t.mesh_message_deliveries_weight = Some(0.0);
    t.mesh_failure_penalty_weight = Some(0.0);
    t.invalid_message_deliveries_weight = Some(0.0);
    e.scoring = s;
    e.validate().expect("valid");
    e
}

#[test]
fn wire_level_adversaries_are_penalised_across_partitions_as_in_one_thread() {
    let lowest = |o: &models::RunOutput, metric: &str| {
        o.samples
            .iter()
            .flat_map(|s| s.extra.iter().filter(|(n, _)| n == metric))
            .map(|x| x.1)
            .fold(0.0f64, f64::min)
    };
    let prunes_to_spammers = |o: &models::RunOutput| -> u64 {
        o.peers
            .iter()
            .filter(|p| p.class == "spammer")
            .map(|p| p.wire.prune_received)
            .sum()
    };
    let (one, two) = (run(&adversarial(1), 1), run(&adversarial(2), 1));
    for (o, what) in [(&one, "one thread"), (&two, "2 partitions")] {
        let s = &o.summary;
        println!(
            "{what}: {} fake ids, {} GRAFTs in backoff ({} PRUNEs to spammers), lowest mean score: breakers {}, spammers {}, honest {}",
            s.forged_ihave_ids,
            s.forged_grafts,
            prunes_to_spammers(o),
            lowest(o, "score_mean.breaker"),
            lowest(o, "score_mean.spammer"),
            s.score_min_honest,
        );
        // Forging needs the neighbour's echo; GRAFTs need its PRUNEs.
        assert!(s.forged_ihave_ids > 100, "{what}: {}", s.forged_ihave_ids);
        assert!(s.forged_grafts > 10, "{what}: {}", s.forged_grafts);
        assert!(prunes_to_spammers(o) > 10, "{what}");
        assert!(lowest(o, "score_mean.breaker") < 0.0, "{what}");
        assert!(lowest(o, "score_mean.spammer") < 0.0, "{what}");
        assert_eq!(
            s.score_min_honest, 0.0,
            "{what}: honest peers keep the rules"
        );
    }
    // Promise breakers forge at their rate once a neighbour has agreed to
    // GossipSub: as many fake ids as with one thread, within 5% (GRAFTs
    // depend on GossipSub's random prunes, which differ as between seeds).
    let (f1, f2) = (one.summary.forged_ihave_ids, two.summary.forged_ihave_ids);
    assert!(f1.abs_diff(f2) * 20 <= f1, "{f1} vs {f2}");
    assert_eq!(run(&adversarial(2), 1).summary, two.summary, "reproducible");
}

#[test]
fn partitioned_runs_refuse_what_they_do_not_support() {
    let check = |e: Experiment, key: &str| {
        let err = e.validate().expect_err("refused");
        assert_eq!(err.key, key, "{err}");
        assert!(err.to_string().contains("partitions"), "{err}");
    };
    let mut e = small(2);
    e.network.latency = LatencyModel::LogNormal {
        median_ms: 50.0,
        sigma: 0.5,
        min_ms: 0.0,
    };
    check(e.clone(), "partitions");
    // With a clamp it has a window.
    e.network.latency = LatencyModel::LogNormal {
        median_ms: 50.0,
        sigma: 0.5,
        min_ms: 10.0,
    };
    assert!(e.validate().is_ok());
    assert_eq!(e.min_link_latency_ns(), 10_000_000);
    let mut e = small(41);
    e.partitions = 41;
    check(e, "partitions");
    check(small(0), "partitions");
    assert!(small(2).validate().is_ok());
}

#[test]
fn a_panic_in_a_partitioned_run_is_an_error_not_a_hang() {
    let mut e = small(2);
    e.limits.panic_at_s = Some(4.0);
    let err = models::run_full(&e, 1, EntropyMode::Seeded).expect_err("fails");
    assert!(err.to_string().contains("panic"), "{err}");
}

/// `experiments/large.toml` (10,000 peers in 2 partitions) is valid, and a
/// cut-down version of it (200 peers, 8 s) delivers everything.
#[test]
fn the_shipped_large_experiment_validates_and_runs_cut_down() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../experiments/large.toml");
    let mut v: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v.remove("sweep");
    let mut e: Experiment = toml::Value::Table(v).try_into().unwrap();
    e.validate().expect("valid");
    assert_eq!((e.peers, e.partitions), (10_000, 2));
    e.peers = 200;
    e.duration_s = 8.0;
    let s = run(&e, 1).summary;
    assert!(s.deliveries_expected > 0);
    assert_eq!(s.deliveries, s.deliveries_expected);
}

/// `RunOptions::progress` receives the virtual time reached, with one thread
/// and with partitions, and changes nothing in the run.
#[test]
fn progress_reports_the_virtual_time_reached_and_changes_nothing() {
    use std::sync::atomic::{AtomicU64, Ordering};
    for parts in [1, 2] {
        let e = small(parts);
        let reached = std::sync::Arc::new(AtomicU64::new(0));
        let opts = models::RunOptions {
            progress: Some(reached.clone()),
            ..Default::default()
        };
        let with = models::run_with(&e, 5, EntropyMode::Seeded, &opts).unwrap();
        let t = reached.load(Ordering::Relaxed);
        // The last event or timer before the end (15 s): heartbeats are 1 s apart.
        assert!(
            (14_000_000_000..=15_000_000_000).contains(&t),
            "{parts} partitions: {t} ns"
        );
        assert_eq!(with.summary, run(&e, 5).summary, "{parts} partitions");
    }
}
