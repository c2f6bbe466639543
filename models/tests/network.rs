//! Network, churn and dialer models through whole scenarios.

use models::spec::{ClassSpec, DialerSpec};
use models::spec::{Experiment, LatencyModel, Signing, TimelineEvent, TopologyKind};
use models::Sim;
use sim::EntropyMode;

fn run_sim<R: Send + 'static>(
    e: &Experiment,
    seed: u64,
    f: impl FnOnce(Sim) -> R + Send + 'static,
) -> R {
    e.validate().expect("valid experiment");
    models::with_sim(e, seed, f)
}

fn class(name: &str, share: f64, inbound: bool) -> ClassSpec {
    ClassSpec {
        share: Some(share),
        count: None,
        upload_mbps: Some(if inbound { 1024.0 } else { 5.0 }),
        download_mbps: Some(if inbound { 1024.0 } else { 20.0 }),
        accepts_inbound: inbound,
        ..ClassSpec::new(name, 0, Default::default())
    }
}

#[test]
fn browsers_never_accept_inbound_and_hub_and_spoke_has_its_shape() {
    let mut e = Experiment {
        name: "hub".into(),
        peers: 40,
        duration_s: 15.0,
        ..Experiment::default()
    };
    e.classes = vec![class("server", 0.25, true), class("browser", 0.75, false)];
    e.topology.kind = TopologyKind::HubAndSpoke;
    e.topology.spoke_degree = Some(2);
    e.gossipsub.signing = Some(Signing::None);
    e.workload.start_s = 3.0;
    let (conns, summary) = run_sim(&e, 3, |mut s| {
        s.run_until_s(15.0).unwrap();
        let conns = sim::world::with(|w| w.connections());
        (conns, s.finish())
    });
    let is_server = |p: u32| p < 10;
    assert!(!conns.is_empty());
    for &(dialer, listener) in &conns {
        assert!(
            is_server(listener),
            "browser {listener} accepted a connection from {dialer}"
        );
    }
    for b in 10..40u32 {
        let hubs: Vec<u32> = conns.iter().filter(|c| c.0 == b).map(|c| c.1).collect();
        assert_eq!(hubs.len(), 2, "browser {b} attaches to 2 servers: {hubs:?}");
        assert!(!conns.iter().any(|c| c.0 == b && !is_server(c.1)));
    }
    let server_links = conns
        .iter()
        .filter(|c| is_server(c.0) && is_server(c.1))
        .count();
    assert_eq!(
        server_links,
        10 * 8 / 2,
        "servers form an 8-regular mesh among themselves"
    );
    assert!(summary.delivery_ratio > 0.99, "{}", summary.delivery_ratio);
}

#[test]
fn partition_blocks_delivery_across_then_recovers() {
    let mut e = Experiment {
        name: "part".into(),
        peers: 100,
        duration_s: 40.0,
        ..Experiment::default()
    };
    e.gossipsub.signing = Some(Signing::None);
    e.network.latency = LatencyModel::Uniform {
        min_ms: 20.0,
        max_ms: 60.0,
    };
    e.workload.start_s = 3.0;
    e.workload.rate_per_s = 2.0;
    e.measure.deliveries = true;
    e.measure.sample_interval_ms = 250;
    e.timeline = vec![TimelineEvent::Partition {
        at_s: 10.0,
        duration_s: Some(10.0),
        group: Vec::new(),
        share: Some(0.5),
    }];
    let out = run_sim(&e, 5, |mut s| {
        s.run_until_s(40.0).unwrap();
        let c = s.driver.collector.clone();
        let summary = s.finish();
        let c = c.borrow();
        (
            summary,
            c.messages.clone(),
            c.deliveries.clone().unwrap(),
            c.samples.clone(),
        )
    });
    let (summary, messages, deliveries, samples) = out;
    let half = |p: u32| p < 50;
    let (start, heal) = (10.0e9 as u64 + 1_000_000_000, 20.0e9 as u64);
    let mut crossed = 0;
    for &(seq, peer, t) in &deliveries {
        let m = &messages[seq as usize];
        // Published inside the partition (after the detection delay) and delivered before healing.
        if m.published_ns > start && t < heal && half(m.publisher) != half(peer) {
            crossed += 1;
        }
    }
    assert_eq!(crossed, 0, "no message crosses during the partition");
    // (Messages of the last seconds before healing can still arrive by gossip after it.)
    let during: Vec<_> = messages
        .iter()
        .filter(|m| m.published_ns > start && m.published_ns + 5_000_000_000 < heal)
        .collect();
    assert!(!during.is_empty());
    for m in &during {
        assert!(
            m.delivered < 50,
            "message from {} reached only its half: {} of {}",
            m.publisher,
            m.delivered,
            m.expected
        );
    }
    // After healing: meshes and delivery recover, and the summary says when.
    // Messages of the last ~3 heartbeats before healing are still gossiped across after it.
    assert!(
        summary.delivery_recovered_s > 15.0 && summary.delivery_recovered_s < 30.0,
        "{}",
        summary.delivery_recovered_s
    );
    let last = samples.last().unwrap();
    assert_eq!(last.below_d_lo, 0, "meshes back within bounds");
    // Meshes lost their cross-half members at the split and were repaired
    // within the halves (or, for a peer left without subscribed neighbours in
    // its half, at healing); the time is reported.
    assert!(
        summary.convergence_s > 10.0 && summary.convergence_s < 30.0,
        "mesh recovery {}",
        summary.convergence_s
    );
}

fn isolated_by_dialer(retry_threshold_ms: u64) -> (u32, u32, usize) {
    // Peer 0's neighbours all crash for 10 s; they come back without dialing anyone.
    let mut e = Experiment {
        name: "dialer".into(),
        peers: 30,
        duration_s: 60.0,
        ..Experiment::default()
    };
    e.topology.degree = 4;
    e.gossipsub.signing = Some(Signing::None);
    e.workload.start_s = 3.0;
    // Peer 0 is a browser: nobody can dial it, so only its own dialer can reconnect it.
    e.classes = vec![
        ClassSpec {
            count: Some(1),
            share: None,
            ..class("browser", 0.0, false)
        },
        ClassSpec {
            count: None,
            share: Some(1.0),
            ..class("server", 1.0, true)
        },
    ];
    e.dialer = DialerSpec {
        enabled: true,
        min_peers: 4,
        max_peers: 50,
        check_interval_ms: 1000,
        retry_threshold_ms,
        backoff: 1.0,
        retry_limit: 1000,
        bootstrap_peers: 0,
    };
    e.network.dial_timeout_ms = 2000.0;
    let neighbours = {
        let mut rng = sim::Seeds::new(9).stream("topology");
        let g = models::topology::build(&e.topology, 30, &[], &mut rng);
        let mut v: Vec<u32> = g
            .neighbors(petgraph::graph::NodeIndex::new(0))
            .map(|n| n.index() as u32)
            .collect();
        v.sort_unstable();
        v
    };
    e.timeline = vec![TimelineEvent::Offline {
        at_s: 10.0,
        duration_s: Some(10.0),
        peers: neighbours.clone(),
        count: 0,
        redial: Some(0),
        graceful: false,
    }];
    run_sim(&e, 9, move |mut s| {
        s.run_until_s(60.0).unwrap();
        let conns = sim::world::with(|w| w.connections());
        let of0 = conns.iter().filter(|c| c.0 == 0 || c.1 == 0).count();
        let summary = s.finish();
        (
            summary.isolated_peers_end,
            summary.disconnected_peers_end,
            of0,
        )
    })
}

#[test]
fn dialer_restores_min_peers_unless_its_retry_threshold_outlasts_the_outage() {
    // Short threshold: peer 0 retries its neighbours once they are back.
    let (isolated, disconnected, conns) = isolated_by_dialer(2_000);
    assert_eq!((isolated, disconnected), (0, 0));
    assert!(
        conns >= 4,
        "peer 0 is back at min_peers: {conns} connections"
    );
    // A threshold longer than the scenario: the field failure, peer 0 stays alone.
    let (isolated, disconnected, conns) = isolated_by_dialer(3_600_000);
    assert_eq!(conns, 0, "peer 0 never dials again");
    assert!(
        isolated >= 1 && disconnected >= 1,
        "the summary shows it: isolated {isolated}, disconnected {disconnected}"
    );
}

#[test]
fn churn_is_deterministic_in_a_busy_parallel_batch() {
    let mut e = Experiment {
        name: "churn".into(),
        peers: 40,
        duration_s: 25.0,
        ..Experiment::default()
    };
    e.topology.degree = 6;
    e.gossipsub.signing = Some(Signing::None);
    e.workload.start_s = 2.0;
    e.churn = toml::from_str(
        r#"share = 0.3
start_s = 3.0
session = { distribution = "exponential", mean_s = 6.0 }
offline = { distribution = "weibull", shape = 1.5, scale_s = 3.0 }
arrivals = { count = 5, rate_per_s = 1.0, start_s = 1.0 }"#,
    )
    .unwrap();
    e.dialer.enabled = true;
    let reference = models::run(&e, 4, EntropyMode::Seeded).unwrap();
    assert!(reference.connections_closed > 0, "churn closed connections");
    let handles: Vec<_> = [4u64, 5, 4, 6, 4]
        .into_iter()
        .map(|seed| {
            let e = e.clone();
            std::thread::spawn(move || {
                (
                    seed,
                    models::run(&e, seed, EntropyMode::Seeded)
                        .unwrap()
                        .trace_hash,
                )
            })
        })
        .collect();
    for h in handles {
        let (seed, hash) = h.join().unwrap();
        if seed == 4 {
            assert_eq!(hash, reference.trace_hash);
        } else {
            assert_ne!(hash, reference.trace_hash);
        }
    }
}

#[test]
fn graceful_leave_is_noticed_after_one_latency_a_crash_after_the_detection_delay() {
    for graceful in [true, false] {
        let mut e = Experiment {
            name: "leave".into(),
            peers: 6,
            duration_s: 20.0,
            ..Experiment::default()
        };
        e.topology.kind = TopologyKind::Chain;
        e.network.latency = LatencyModel::Constant { ms: 50.0 };
        e.network.detection_delay_ms = 5000.0;
        e.gossipsub.signing = Some(Signing::None);
        e.workload.rate_per_s = 0.0;
        e.timeline = vec![TimelineEvent::Offline {
            at_s: 10.0,
            duration_s: None,
            peers: vec![0],
            count: 0,
            redial: None,
            graceful,
        }];
        let seen = run_sim(&e, 1, |mut s| {
            let id0 = *s.engine.nodes[0].swarm.as_ref().unwrap().local_peer_id();
            let mut out = Vec::new();
            for t in [10.04, 10.06, 14.9, 15.1] {
                s.run_until_s(t).unwrap();
                out.push(s.engine.nodes[1].swarm.as_ref().unwrap().is_connected(&id0));
            }
            out
        });
        if graceful {
            assert_eq!(
                seen,
                vec![true, false, false, false],
                "closed one latency (50 ms) after leaving"
            );
        } else {
            assert_eq!(
                seen,
                vec![true, true, true, false],
                "noticed after the 5 s detection delay"
            );
        }
    }
}

#[test]
fn dialer_learns_peers_from_gossipsub_peer_exchange() {
    let run = |px: bool| {
        let mut e = Experiment {
            name: "px".into(),
            peers: 60,
            duration_s: 20.0,
            ..Experiment::default()
        };
        e.topology.degree = 20;
        e.gossipsub.signing = Some(Signing::None);
        // Far more neighbours than D_hi: heartbeats prune, with peer exchange when on.
        e.gossipsub.mesh_n = Some(4);
        e.gossipsub.mesh_n_low = Some(3);
        e.gossipsub.mesh_n_high = Some(6);
        e.gossipsub.do_px = Some(px);
        e.gossipsub.prune_peers = Some(8);
        e.dialer.enabled = true;
        e.dialer.bootstrap_peers = 0;
        models::run(&e, 2, EntropyMode::Seeded).unwrap()
    };
    let (off, on) = (run(false), run(true));
    assert_eq!(off.dialer_px_learned, 0);
    assert!(
        on.prune > 0 && on.dialer_px_learned > 0,
        "PRUNE with PX taught the dialers new peers: {}",
        on.dialer_px_learned
    );
    assert!(
        on.connections_opened > off.connections_opened,
        "and GossipSub connected to them"
    );
}

#[test]
fn an_honest_but_slow_peer_forwards_only_after_its_validation_delay() {
    let mut e = Experiment {
        name: "slow".into(),
        peers: 3,
        duration_s: 15.0,
        ..Experiment::default()
    };
    e.topology.kind = TopologyKind::Chain;
    e.network.latency = LatencyModel::Constant { ms: 50.0 };
    e.gossipsub.signing = Some(Signing::None);
    e.workload.rate_per_s = 0.0;
    let one = |name: &str, delay: f64| ClassSpec {
        count: Some(1),
        share: None,
        upload_mbps: None,
        download_mbps: None,
        validation_delay_ms: delay,
        ..class(name, 0.0, true)
    };
    e.classes = vec![one("a", 0.0), one("slow", 200.0), one("c", 0.0)];
    let got = run_sim(&e, 1, |mut s| {
        s.driver.collector.borrow_mut().keep_deliveries();
        s.run_until_s(10.0).unwrap();
        let t0 = s.engine.now_ns();
        let seq = s.publish_now(0, 0);
        s.run_until_s(11.0).unwrap();
        s.deliveries_of(seq, t0)
    });
    let ms = sim::MS;
    assert_eq!(
        got,
        vec![(1, 50 * ms), (2, 300 * ms)],
        "peer 1 holds the message 200 ms before forwarding"
    );
}

/// A two-peer run through `models::run_full` (the path `meshsim run` takes):
/// the latency of every delivery, in ms.
fn two_peer_latencies(extra: &str) -> Vec<f64> {
    let pin = if extra.contains("regions") {
        ("region = \"x\"\n", "region = \"y\"\n")
    } else {
        ("", "")
    };
    let text = format!(
        r#"
peers = 2
duration_s = 12.0
[topology]
kind = "edges"
edges = [[0, 1]]
[gossipsub]
signing = "none"
[measure]
deliveries = true
{extra}
[[class]]
name = "a"
count = 1
{}
[[class]]
name = "b"
count = 1
{}
"#,
        pin.0, pin.1
    );
    let e: Experiment = toml::from_str(&text).unwrap();
    e.validate().unwrap();
    let out = models::run_full(&e, 1, EntropyMode::Seeded).unwrap();
    let d = out.deliveries.unwrap();
    assert!(!d.is_empty());
    d.iter()
        .map(|&(seq, _, t)| (t - out.messages[seq as usize].published_ns) as f64 / 1e6)
        .collect()
}

#[test]
fn class_pair_links_and_regions_apply_to_whole_runs() {
    // Without a link model, the default uniform 20-80 ms applies.
    let base = two_peer_latencies("");
    assert!(base.iter().all(|&l| (20.0..=80.0).contains(&l)));
    let link = two_peer_latencies(
        "[[link]]\nclasses = [\"a\", \"b\"]\nlatency = { model = \"constant\", ms = 33.0 }\n",
    );
    assert!(
        link.iter().all(|&l| l == 33.0),
        "the a-b link model: {link:?}"
    );
    // Peers placed in regions x and y (pinned through their classes below).
    let regions = two_peer_latencies(
        "[network.regions]\nmodel = \"custom\"\nnames = [\"x\", \"y\"]\nweights = [1.0, 1.0]\nlatency_ms = [[5.0, 41.0], [41.0, 5.0]]\n",
    );
    assert!(
        regions.iter().all(|&l| l == 41.0),
        "region matrix x-y: {regions:?}"
    );
}

/// Dials, failures and peers given up by the dialers of a network where
/// every peer wants 4 connections and accepts at most 2: most dials are
/// refused by a full remote, which the dialer sees as a connection that
/// closes at once.
fn refused_dials(retry_threshold_ms: u64) -> (u64, u64, u64) {
    let mut e = Experiment {
        name: "refused".into(),
        peers: 12,
        duration_s: 40.0,
        ..Experiment::default()
    };
    e.topology.kind = TopologyKind::Chain;
    e.gossipsub.signing = Some(Signing::None);
    e.workload.start_s = 3.0;
    e.dialer = DialerSpec {
        enabled: true,
        min_peers: 4,
        max_peers: 2,
        check_interval_ms: 1000,
        retry_threshold_ms,
        backoff: 2.0,
        retry_limit: 3,
        bootstrap_peers: 6,
    };
    let s = models::run(&e, 5, EntropyMode::Seeded).unwrap();
    (s.dialer_dials, s.dialer_failures, s.dialer_given_up)
}

#[test]
fn a_refused_connection_is_a_failed_dial_so_the_retry_settings_act_on_it() {
    let (dials_fast, failures_fast, given_up_fast) = refused_dials(1_000);
    let (dials_slow, failures_slow, _) = refused_dials(20_000);
    // Refusals count as failures, back off and are given up...
    assert!(
        failures_fast > 0 && given_up_fast > 0,
        "{failures_fast} {given_up_fast}"
    );
    // ...so the retry threshold decides how often a full peer is dialed again.
    assert!(
        dials_slow < dials_fast,
        "threshold 20 s: {dials_slow} dials, 1 s: {dials_fast} ({failures_slow} failures)"
    );
}
