//! The run summary's numbers agree with the run's own records: probes stay
//! out of the workload's duplicates and deliveries, and the isolation maximum
//! covers the end of the run.

use models::spec::{ClassSpec, PeerBehaviourKind};
use models::spec::{Experiment, Signing, TopologyKind};
use sim::EntropyMode;

fn small(name: &str) -> Experiment {
    let mut e = Experiment {
        name: name.into(),
        peers: 40,
        duration_s: 12.0,
        ..Experiment::default()
    };
    e.topology.degree = 8;
    e.gossipsub.signing = Some(Signing::None);
    e.workload.start_s = 2.0;
    e.workload.rate_per_s = 2.0;
    e.workload.message_bytes = 256;
    e.measure.deliveries = true;
    e
}

#[test]
fn probes_stay_out_of_duplicates_and_delivery_records() {
    let mut e = small("probes");
    e.probes.count = 6;
    e.probes.interval_ms = 500;
    e.validate().unwrap();
    let out = models::run_full(&e, 1, EntropyMode::Seeded).unwrap();
    let s = &out.summary;
    let probes = out.messages.iter().filter(|m| m.probe).count();
    assert!(probes > 50, "probes were published: {probes}");
    let probe_copies: u64 = out
        .messages
        .iter()
        .filter(|m| m.probe)
        .map(|m| u64::from(m.copies))
        .sum();
    assert!(
        probe_copies > 1000,
        "probe copies on the wire: {probe_copies}"
    );
    // Duplicates per delivery from the workload's own copies and deliveries.
    let work_copies: u64 = out
        .messages
        .iter()
        .filter(|m| !m.probe)
        .map(|m| u64::from(m.copies))
        .sum();
    assert!(s.deliveries > 500, "a run with traffic: {}", s.deliveries);
    let want = (work_copies - s.deliveries) as f64 / s.deliveries as f64;
    assert!(
        (s.duplicates_per_delivery - want).abs() < 1e-9,
        "duplicates/delivery {} from workload copies {want}",
        s.duplicates_per_delivery
    );
    // The kept deliveries (deliveries.csv, the latency CDF) are the summary's.
    let d = out.deliveries.as_ref().expect("measure.deliveries");
    assert_eq!(d.len() as u64, s.deliveries);
    assert!(d
        .iter()
        .all(|&(seq, _, _)| !out.messages[seq as usize].probe));

    // The same workload without probes: about as many duplicates (probes add
    // traffic but are not counted).
    let quiet = small("probes");
    quiet.validate().unwrap();
    let q = models::run(&quiet, 1, EntropyMode::Seeded).unwrap();
    assert_eq!(q.messages_published, s.messages_published);
    let ratio = s.duplicates_per_delivery / q.duplicates_per_delivery;
    assert!(
        (0.8..1.25).contains(&ratio),
        "with probes {} without {}",
        s.duplicates_per_delivery,
        q.duplicates_per_delivery
    );
}

#[test]
fn isolated_peers_max_covers_the_end_of_a_run_that_never_converges() {
    // Ten peers that refuse inbound connections, wired only to each other: no
    // connection can form, so they are isolated from start to end (and the
    // network's mesh never counts as converged).
    let mut e = Experiment {
        name: "no-inbound".into(),
        peers: 20,
        duration_s: 8.0,
        ..Experiment::default()
    };
    e.classes = vec![
        ClassSpec::new("open", 10, PeerBehaviourKind::Honest),
        ClassSpec {
            accepts_inbound: false,
            ..ClassSpec::new("closed", 10, PeerBehaviourKind::Honest)
        },
    ];
    e.topology.kind = TopologyKind::Edges;
    let mut edges: Vec<[u32; 2]> = (0..10).map(|i| [i, (i + 1) % 10]).collect();
    edges.extend((10..20).map(|i| [i, 10 + (i + 1) % 10]));
    e.topology.edges = edges;
    e.gossipsub.signing = Some(Signing::None);
    e.validate().unwrap();
    let s = models::run(&e, 1, EntropyMode::Seeded).unwrap();
    assert_eq!(s.impossible_edges, 10);
    assert_eq!(s.convergence_s, -1.0, "never converged");
    assert_eq!(s.isolated_peers_end, 10);
    assert_eq!(s.disconnected_peers_end, 10);
    assert!(
        s.isolated_peers_max >= s.isolated_peers_end,
        "max {} end {}",
        s.isolated_peers_max,
        s.isolated_peers_end
    );
}
