//! Tests of `collector`.

use super::*;

fn ids(n: u32) -> Vec<PeerId> {
    (0..n)
        .map(|i| PeerId::from(crate::peer::test_plans_keypair(i).public()))
        .collect()
}

fn msg(publisher: u32, probe: bool) -> MsgRecord {
    MsgRecord::new(publisher, 0, 0, probe)
}

#[test]
fn only_expected_receivers_count_and_each_once() {
    let mut c = Collector::new(&ids(130));
    let seq = c.on_publish_to(msg(0, false), &[1, 2, 129, 2]);
    assert_eq!(c.messages[0].expected, 3, "distinct receivers");
    let payload = seq.to_le_bytes();
    for peer in [1, 3, 1, 129, 0, 2, 2, 129] {
        c.on_delivery(peer, &payload);
    }
    assert_eq!(c.messages[0].delivered, 3);
    assert_eq!(c.counters.deliveries, 3);
    assert_eq!(c.latencies_ns.len(), 3);
    assert_eq!(
        c.peers[1].deliveries, 1,
        "a second first delivery (after a restart) does not count"
    );
    assert_eq!(c.peers[3].deliveries, 0, "not expected");
    // Probes: the same rule, outside the workload's counters.
    let seq = c.on_publish_to(msg(5, true), &[6, 7]);
    for peer in [6, 8, 6] {
        c.on_delivery(peer, &seq.to_le_bytes());
    }
    assert_eq!((c.messages[1].delivered, c.messages[1].expected), (1, 2));
    assert_eq!(c.counters.deliveries, 3);
}

#[test]
fn without_receivers_the_up_time_decides() {
    let mut c = Collector::new(&ids(4));
    c.up_since[2] = 10;
    let mut m = msg(0, false);
    m.expected = 3;
    m.published_ns = 5;
    let seq = c.on_publish(m);
    for peer in [1, 2, 3] {
        c.on_delivery(peer, &seq.to_le_bytes());
    }
    assert_eq!(
        c.messages[0].delivered, 2,
        "peer 2 came up after the publish"
    );
}
