//! The transport models in whole runs: `tcp` is deterministic (the same
//! seed gives the same trace hash sequentially, in parallel beside other
//! runs, and with partitions), exercises its paths (shared uplinks and
//! downlinks, loss, handshakes, closes), and is the default (with the
//! `linux` preset). The models' arithmetic is checked by hand in sim/tests/tcp.rs.

use models::spec::{
    ClassSpec, Experiment, LatencyModel, PeerBehaviourKind, Signing, TimelineEvent, TransportModel,
    TransportSpec,
};
use sim::EntropyMode;

/// 30 peers, two bandwidth classes, loss, jitter, a peer going offline and
/// a network partition: every path of the `tcp` model is used.
fn busy(model: TransportModel, partitions: u16) -> Experiment {
    let mut e = Experiment {
        name: "transport".into(),
        peers: 30,
        duration_s: 14.0,
        partitions,
        ..Experiment::default()
    };
    e.network.latency = LatencyModel::Uniform {
        min_ms: 20.0,
        max_ms: 60.0,
    };
    e.network.loss = 0.01;
    e.network.jitter_ms = 2.0;
    e.network.transport = TransportSpec {
        model,
        ..TransportSpec::default()
    };
    let mut fast = ClassSpec::new("fast", 6, PeerBehaviourKind::Honest);
    fast.upload_mbps = Some(100.0);
    fast.download_mbps = Some(100.0);
    let mut slow = ClassSpec::new("slow", 24, PeerBehaviourKind::Honest);
    slow.upload_mbps = Some(10.0);
    slow.download_mbps = Some(20.0);
    e.classes = vec![fast, slow];
    e.gossipsub.signing = Some(Signing::None);
    e.gossipsub.heartbeat_initial_delay_ms = Some(500);
    e.workload.start_s = 2.0;
    e.workload.rate_per_s = 4.0;
    e.workload.message_bytes = 60_000;
    e.timeline = vec![
        TimelineEvent::Offline {
            at_s: 5.0,
            duration_s: Some(3.0),
            peers: vec![3],
            count: 0,
            redial: None,
            graceful: false,
        },
        TimelineEvent::Partition {
            at_s: 8.0,
            duration_s: Some(2.0),
            group: Vec::new(),
            share: Some(0.5),
        },
    ];
    e.validate().expect("valid");
    e
}

fn run(e: &Experiment, seed: u64) -> models::RunSummary {
    models::run(e, seed, EntropyMode::Seeded).expect("run")
}

#[test]
fn tcp_runs_are_deterministic_sequentially_and_differ_by_seed() {
    let e = busy(TransportModel::Tcp, 1);
    let (a, b) = (run(&e, 5), run(&e, 5));
    assert_eq!(a, b, "every summary field");
    assert!(a.deliveries > 100, "{a:?}");
    assert!(a.delivery_ratio > 0.5, "{a:?}");
    assert_ne!(a.trace_hash, run(&e, 6).trace_hash);
    // Not the ideal model's run.
    assert_ne!(
        a.trace_hash,
        run(&busy(TransportModel::Ideal, 1), 5).trace_hash
    );
}

#[test]
fn tcp_runs_are_deterministic_in_parallel_and_with_partitions() {
    let e = busy(TransportModel::Tcp, 1);
    let reference = run(&e, 9).trace_hash;
    let handles: Vec<_> = [9u64, 10, 9, 11]
        .into_iter()
        .map(|seed| {
            let e = e.clone();
            std::thread::spawn(move || (seed, run(&e, seed).trace_hash))
        })
        .collect();
    for h in handles {
        let (seed, hash) = h.join().unwrap();
        if seed == 9 {
            assert_eq!(hash, reference);
        }
    }
    let p = busy(TransportModel::Tcp, 3);
    let (a, b) = (run(&p, 9), run(&p, 9));
    assert_eq!(a.trace_hash, b.trace_hash, "3 partitions, twice");
    assert!(a.deliveries > 100, "{a:?}");
}

#[test]
fn tcp_with_linux_is_the_default() {
    let mut e = busy(TransportModel::Tcp, 1);
    e.network.transport.preset = Some(models::spec::TcpPreset::Linux);
    let explicit = run(&e, 4).trace_hash;
    e.network.transport = TransportSpec::default();
    assert_eq!(run(&e, 4).trace_hash, explicit);
}

#[test]
fn tcp_with_the_ideal_handshake_on_unlimited_links_is_the_ideal_run() {
    // Without bandwidth limits, loss or jitter, with connections ready when
    // the ideal model has them ready, and small messages (the window never
    // limits them): every byte arrives when the ideal model has it arrive,
    // so the runs are the same, event for event.
    let mut e = busy(TransportModel::Ideal, 1);
    e.classes.clear();
    e.network.loss = 0.0;
    e.network.jitter_ms = 0.0;
    e.workload.message_bytes = 1024;
    let ideal = run(&e, 3);
    e.network.transport = TransportSpec {
        model: TransportModel::Tcp,
        dialer_ready_rtt: Some(1.0),
        listener_ready_rtt: Some(0.5),
        ..TransportSpec::default()
    };
    let tcp = run(&e, 3);
    assert_eq!(tcp.trace_hash, ideal.trace_hash);
    assert_eq!(tcp.deliveries, ideal.deliveries);
    // Only the bytes on the wire differ: framing and segment headers.
    assert!(tcp.bytes_sent_per_peer > ideal.bytes_sent_per_peer);
}

/// Large frames arriving are held packed by the codec substitute until
/// they are complete, instead of being offered to GossipSub's decoder at
/// every read (memory only): the same runs with the hold turned off give
/// the same trace hashes, under both models, with loss, jitter, a peer
/// going offline mid-frame and a network partition.
#[test]
fn holding_large_frames_packed_changes_no_result() {
    for model in [TransportModel::Tcp, TransportModel::Ideal] {
        let mut e = busy(model, 1);
        e.workload.message_bytes = 200_000;
        e.workload.rate_per_s = 1.0;
        e.gossipsub.max_transmit_size = Some(1 << 20);
        e.validate().expect("valid");
        let run = |hold: bool| {
            let e2 = e.clone();
            models::scenario::with_sim(&e, 2, move |mut s| {
                if !hold {
                    sim::packed::set_read_hold(0);
                }
                s.run_until_s(e2.duration_s).expect("run");
                let held = sim::packed::frames_held();
                (s.finish(), held)
            })
        };
        let ((on, held_on), (off, held_off)) = (run(true), run(false));
        assert!(held_on > 100, "{model:?}: {held_on} frames held");
        assert_eq!(held_off, 0);
        assert_eq!(on.trace_hash, off.trace_hash, "{model:?}");
        assert_eq!(on, off, "{model:?}: every summary field");
        assert!(on.deliveries > 50, "{on:?}");
    }
}
