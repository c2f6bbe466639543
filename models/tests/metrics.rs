//! Metrics on hand-checkable cases: three peers with constant 50 ms links.

use models::spec::{Experiment, LatencyModel, Signing, TopologyKind};
use models::Sim;
use sim::runner::run_on_sim_thread;
use sim::{EntropyMode, MS};

/// Publishes one 64-byte message from peer 0 once the meshes have formed and
/// returns (deliveries as (peer, latency ns), copies received on the wire).
fn one_message(edges: Vec<[u32; 2]>) -> (Vec<(u32, u64)>, u32) {
    let mut e = Experiment {
        name: "three".into(),
        peers: 3,
        duration_s: 20.0,
        ..Experiment::default()
    };
    e.topology.kind = TopologyKind::Edges;
    e.topology.edges = edges;
    e.network.latency = LatencyModel::Constant { ms: 50.0 };
    e.gossipsub.signing = Some(Signing::None);
    e.workload.rate_per_s = 0.0;
    e.workload.message_bytes = 64;
    let e2 = e.clone();
    run_on_sim_thread(
        1,
        e.network.to_net_config(),
        EntropyMode::Seeded,
        move || {
            let mut s = Sim::new(&e2, 1);
            s.driver.collector.borrow_mut().keep_deliveries();
            s.run_until_s(10.0).unwrap();
            let t0 = s.engine.now_ns();
            let seq = s.publish_now(0, 0);
            // Well before the next heartbeat could gossip.
            s.run_until_s(10.4).unwrap();
            let c = s.driver.collector.borrow();
            let d = s.deliveries_of(seq, t0);
            (d, c.messages[seq as usize].copies)
        },
    )
    .unwrap()
    .0
}

#[test]
fn line_of_three_exact_latency_and_no_duplicates() {
    let (d, copies) = one_message(vec![[0, 1], [1, 2]]);
    assert_eq!(d, vec![(1, 50 * MS), (2, 100 * MS)]);
    assert_eq!(copies, 2, "one copy per receiver: 0->1, 1->2");
}

#[test]
fn triangle_exact_latency_and_two_duplicates() {
    // 0 floods to 1 and 2 (50 ms); each forwards to the other (another 50 ms):
    // two copies arrive after the first deliveries, one at each receiver.
    let (d, copies) = one_message(vec![[0, 1], [1, 2], [0, 2]]);
    assert_eq!(d, vec![(1, 50 * MS), (2, 50 * MS)]);
    assert_eq!(copies, 4, "2 first deliveries + 2 duplicates");
}

#[test]
fn wire_counts_agree_with_gossipsubs_own_prometheus_counters() {
    let mut e = Experiment {
        name: "prom".into(),
        peers: 30,
        duration_s: 20.0,
        ..Experiment::default()
    };
    e.topology.degree = 8;
    e.gossipsub.signing = Some(Signing::None);
    e.workload.start_s = 2.0;
    e.workload.rate_per_s = 3.0;
    e.workload.message_bytes = 2048; // above the IDONTWANT threshold
    e.measure.prometheus = true;
    let out = models::run_full(&e, 2, EntropyMode::Seeded).unwrap();
    let prom = out.metrics_prom.expect("metrics.prom text");
    let s = &out.summary;
    let copies: u64 = out.messages.iter().map(|m| u64::from(m.copies)).sum();
    assert!(s.deliveries > 1000 && s.idontwant > 0, "a run with traffic");
    assert_eq!(
        models::prom::total(&prom, "topic_msg_recv_counts_total"),
        s.deliveries as f64
    );
    assert_eq!(
        models::prom::total(&prom, "topic_msg_recv_counts_unfiltered_total"),
        copies as f64
    );
    assert_eq!(
        models::prom::total(&prom, "idontwant_msgs_ids_total"),
        s.idontwant as f64
    );
    assert_eq!(
        models::prom::total(&prom, "topic_msg_published_total"),
        s.messages_published as f64
    );
}

#[test]
fn per_peer_series_and_isolation_time_are_recorded() {
    let mut e = Experiment {
        name: "pp".into(),
        peers: 12,
        duration_s: 6.0,
        ..Experiment::default()
    };
    e.topology.degree = 4;
    e.gossipsub.signing = Some(Signing::None);
    e.measure.per_peer = true;
    let out = models::run_full(&e, 3, EntropyMode::Seeded).unwrap();
    // One row per peer per sample (every second, 1..=6 s), all peers up.
    assert_eq!(out.peer_samples.len(), 12 * 6);
    let last: Vec<_> = out.peer_samples.iter().filter(|r| r.0 == 6.0).collect();
    assert!(
        last.iter().all(|r| r.2 >= 1 && r.3 == 4),
        "meshes formed, 4 connections each: {last:?}"
    );
    assert_eq!(out.peers.len(), 12);
    assert!(
        out.peers.iter().all(|p| p.isolated_s <= 1.0),
        "isolated at most during formation"
    );
}

#[test]
fn isolation_time_is_split_by_behaviour_and_class() {
    use models::spec::{ClassSpec, PeerBehaviourKind};
    let class = ClassSpec::new;
    let mut e = Experiment {
        name: "iso".into(),
        peers: 9,
        duration_s: 10.0,
        ..Experiment::default()
    };
    // Peers 0-5 (honest) and 8 (non-forwarder) in a ring; 6 and 7 alone.
    e.classes = vec![
        class("ring", 6, PeerBehaviourKind::Honest),
        class("lonely", 2, PeerBehaviourKind::Honest),
        class("bad", 1, PeerBehaviourKind::NonForwarder),
    ];
    e.topology.kind = TopologyKind::Edges;
    e.topology.edges = vec![[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 8], [8, 0]];
    e.gossipsub.signing = Some(Signing::None);
    e.validate().unwrap();
    let s = models::run(&e, 1, EntropyMode::Seeded).unwrap();
    // The lonely class is never in a mesh: about the whole run (sampled every second).
    assert!(
        (9.0..=10.0).contains(&s.max_class_isolated_s_mean),
        "worst class: {}",
        s.max_class_isolated_s_mean
    );
    // Honest mean: two lonely peers of eight honest ones, the ring at most a second each.
    let h = s.honest_isolated_s_mean;
    assert!(
        (2.0 * 9.0 / 8.0..=(2.0 * 10.0 + 6.0) / 8.0).contains(&h),
        "honest mean {h}"
    );
    assert!((0.0..=1.0).contains(&s.attacker_isolated_s_mean));
}

#[test]
fn isolation_means_count_only_subscribers() {
    use models::spec::{ClassSpec, PeerBehaviourKind};
    let mut e = Experiment {
        name: "iso-sub".into(),
        peers: 12,
        duration_s: 10.0,
        ..Experiment::default()
    };
    // Peers 0-5 in a ring; 6-11 alone; about half of all peers subscribe.
    e.classes = vec![
        ClassSpec::new("ring", 6, PeerBehaviourKind::Honest),
        ClassSpec::new("lonely", 6, PeerBehaviourKind::Honest),
    ];
    e.topology.kind = TopologyKind::Edges;
    e.topology.edges = vec![[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 0]];
    e.workload.subscribe_share = 0.5;
    e.gossipsub.signing = Some(Signing::None);
    e.validate().unwrap();
    let s = models::run(&e, 2, EntropyMode::Seeded).unwrap();
    // Every lonely subscriber is isolated the whole run; lonely peers that do
    // not subscribe have no mesh to lose and do not dilute the mean.
    assert!(
        (9.0..=10.0).contains(&s.max_class_isolated_s_mean),
        "lonely subscribers: {}",
        s.max_class_isolated_s_mean
    );
}
