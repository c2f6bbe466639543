//! Every ratio divides counts of the same population: deliveries only of
//! the expected receivers (so no delivery ratio exceeds 1, in one thread or
//! in partitions), final mesh degrees only of live subscribers (as the
//! isolation counts), and "no probes" reads not applicable.

use models::spec::{Experiment, TimelineEvent};
use sim::EntropyMode;

fn from_file(path: &str) -> Experiment {
    let file = format!("{}/../experiments/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&file).expect("experiment file");
    toml::from_str(&text).expect("experiment parses")
}

/// The quickstart on 30 peers, with peers 1 and 2 offline from 3 s to 5 s:
/// they return at the very instant of the first publish (workload.start_s = 5).
fn return_at_first_publish(partitions: u16) -> Experiment {
    let mut e = from_file("quickstart.toml");
    e.peers = 30;
    e.topology.degree = 6;
    e.duration_s = 20.0;
    e.partitions = partitions;
    e.measure.deliveries = true;
    e.timeline = vec![TimelineEvent::Offline {
        at_s: 3.0,
        duration_s: Some(2.0),
        peers: vec![1, 2],
        count: 0,
        redial: None,
        graceful: false,
    }];
    e.validate().unwrap();
    e
}

#[test]
fn deliveries_never_exceed_the_expected_receivers() {
    for partitions in [1, 2] {
        let e = return_at_first_publish(partitions);
        let out = models::run_full(&e, 1, EntropyMode::Seeded).unwrap();
        let s = &out.summary;
        assert!(
            s.deliveries <= s.deliveries_expected && s.delivery_ratio <= 1.0,
            "partitions {partitions}: delivery {} ({} of {})",
            s.delivery_ratio,
            s.deliveries,
            s.deliveries_expected
        );
        assert!(s.deliveries > 300, "a run with traffic: {}", s.deliveries);
        for (i, m) in out.messages.iter().enumerate() {
            assert!(
                m.delivered <= m.expected,
                "partitions {partitions}: message {i} delivered {} of {}",
                m.delivered,
                m.expected
            );
        }
        // The summary, messages.csv, deliveries.csv and peers' counts agree.
        let work = out.messages.iter().filter(|m| !m.probe);
        let delivered: u64 = work.map(|m| u64::from(m.delivered)).sum();
        assert_eq!(delivered, s.deliveries, "partitions {partitions}");
        assert_eq!(
            out.deliveries.as_ref().map(Vec::len),
            Some(s.deliveries as usize)
        );
        let per_peer: u64 = out.peers.iter().map(|p| p.wire.deliveries).sum();
        let per_peer_expected: u64 = out.peers.iter().map(|p| p.wire.deliveries_expected).sum();
        assert_eq!(per_peer, s.deliveries, "partitions {partitions}");
        assert_eq!(per_peer_expected, s.deliveries_expected);
        for (p, row) in out.peers.iter().enumerate() {
            assert!(
                row.wire.deliveries <= row.wire.deliveries_expected,
                "partitions {partitions}: peer {p} got {} of {}",
                row.wire.deliveries,
                row.wire.deliveries_expected
            );
        }
        assert!(s.honest_delivery_ratio <= 1.0 && s.min_class_delivery_ratio <= 1.0);
    }
}

#[test]
fn final_mesh_degree_is_over_live_subscribers() {
    let mut e = from_file("churn.toml");
    e.duration_s = 30.0;
    e.peers = 100;
    e.validate().unwrap();
    let out = models::run_full(&e, 1, EntropyMode::Seeded).unwrap();
    let s = &out.summary;
    // One topic that every peer subscribes to: peers.csv's rows are the meshes.
    assert_eq!((e.workload.topics, e.workload.subscribe_share), (1, 1.0));
    let down = out.peers.iter().filter(|p| !p.up).count();
    assert!(down > 0, "churn takes peers down");
    let live: Vec<f64> = out
        .peers
        .iter()
        .filter(|p| p.up)
        .map(|p| f64::from(p.mesh_degree))
        .collect();
    let mean = live.iter().sum::<f64>() / live.len() as f64;
    let min = live.iter().copied().fold(f64::INFINITY, f64::min);
    let max = live.iter().copied().fold(0.0, f64::max);
    assert_eq!(
        (s.mesh_degree.min, s.mesh_degree.max),
        (min, max),
        "{down} peers down"
    );
    assert!(
        (s.mesh_degree.mean - mean).abs() < 1e-9,
        "mean {} over {} live peers is {mean} ({down} down)",
        s.mesh_degree.mean,
        live.len()
    );
}

#[test]
fn probe_ratio_is_not_applicable_without_probes() {
    let mut e = return_at_first_publish(1);
    e.duration_s = 8.0;
    e.timeline.clear();
    let s = models::run(&e, 1, EntropyMode::Seeded).unwrap();
    assert_eq!(s.probe_full_delivery_ratio, -1.0);
    e.probes.count = 4;
    e.probes.interval_ms = 1000;
    let s = models::run(&e, 1, EntropyMode::Seeded).unwrap();
    assert!(
        (0.0..=1.0).contains(&s.probe_full_delivery_ratio),
        "{}",
        s.probe_full_delivery_ratio
    );
}
