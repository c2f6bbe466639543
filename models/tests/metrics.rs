//! Metrics on hand-checkable cases: three peers with constant 50 ms links.

use models::spec::{Experiment, LatencySpec, Signing, TopologyKind};
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
    e.network.latency = LatencySpec::Constant { ms: 50.0 };
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
            let mut d: Vec<(u32, u64)> = c
                .deliveries
                .as_ref()
                .unwrap()
                .iter()
                .filter(|x| x.0 == seq)
                .map(|&(_, p, t)| (p, t - t0))
                .collect();
            d.sort_unstable();
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
