//! Engine behaviour checked against hand calculations: exact per-hop
//! latency on a chain, and recovery from connection loss.

use models::spec::{Experiment, LatencyModel, Signing, TopologyKind};
use models::Sim;
use sim::MS;

fn run_sim<R: Send + 'static>(
    e: &Experiment,
    seed: u64,
    f: impl FnOnce(Sim) -> R + Send + 'static,
) -> R {
    models::with_sim(e, seed, f)
}

#[test]
fn chain_delivers_hop_by_hop_at_exactly_k_times_latency() {
    for signing in [Signing::Ed25519, Signing::None] {
        let mut e = Experiment {
            name: "chain".into(),
            peers: 10,
            duration_s: 30.0,
            ..Experiment::default()
        };
        e.topology.kind = TopologyKind::Chain;
        e.network.latency = LatencyModel::Constant { ms: 50.0 };
        e.workload.rate_per_s = 0.0; // we publish by hand
        e.gossipsub.signing = Some(signing);
        let times = run_sim(&e, 1, |mut s| {
            s.driver.collector.borrow_mut().keep_deliveries();
            // Let connections open and the mesh form (first heartbeat at 5 s).
            s.run_until_s(10.0).unwrap();
            for p in 0..10u32 {
                let mesh = s.mesh(p, 0);
                let want: Vec<u32> = [p.checked_sub(1), (p < 9).then_some(p + 1)]
                    .into_iter()
                    .flatten()
                    .collect();
                assert_eq!(mesh, want, "peer {p} meshes with its chain neighbours");
            }
            let t0 = s.engine.now_ns();
            let seq = s.publish_now(0, 0);
            s.run_until_s(12.0).unwrap();
            let c = s.driver.collector.borrow();
            let mut got: Vec<(u32, u64)> = c
                .deliveries
                .as_ref()
                .unwrap()
                .iter()
                .filter(|d| d.0 == seq)
                .map(|&(_, p, t)| (p, t - t0))
                .collect();
            got.sort_unstable();
            got
        });
        let want: Vec<(u32, u64)> = (1..10u32).map(|k| (k, u64::from(k) * 50 * MS)).collect();
        assert_eq!(
            times, want,
            "{signing:?}: peer k receives at exactly k x 50 ms"
        );
    }
}

#[test]
fn cut_link_drops_both_from_meshes_and_regrafts_elsewhere() {
    let mut e = Experiment {
        name: "cut".into(),
        peers: 30,
        duration_s: 40.0,
        ..Experiment::default()
    };
    e.topology.degree = 8;
    e.gossipsub.signing = Some(Signing::None);
    e.gossipsub.mesh_n = Some(6);
    e.gossipsub.mesh_n_low = Some(6);
    e.gossipsub.heartbeat_interval_ms = Some(1000);
    e.network.detection_delay_ms = 1000.0;
    e.workload.rate_per_s = 0.0;
    run_sim(&e, 4, |mut s| {
        s.run_until_s(15.0).unwrap();
        let a = 0u32;
        let b = *s.mesh(a, 0).first().expect("peer 0 has mesh peers");
        assert!(
            s.mesh(b, 0).contains(&a),
            "mesh links are symmetric once formed"
        );
        s.schedule_cut(15.5, a, b);
        // Detection after 1 s, then D_lo repair at the next heartbeat(s).
        s.run_until_s(16.4).unwrap();
        assert!(
            s.mesh(a, 0).contains(&b),
            "not yet noticed before the detection delay"
        );
        s.run_until_s(16.6).unwrap();
        assert!(
            !s.mesh(a, 0).contains(&b),
            "a dropped b once the loss was noticed"
        );
        assert!(!s.mesh(b, 0).contains(&a), "b dropped a");
        // Within two heartbeats after detection both are back at D = 6 without each other.
        s.run_until_s(18.6).unwrap();
        for (x, y) in [(a, b), (b, a)] {
            let m = s.mesh(x, 0);
            assert!(
                m.len() >= 6,
                "peer {x} re-grafted to {} peers: {m:?}",
                m.len()
            );
            assert!(!m.contains(&y));
        }
    });
}
