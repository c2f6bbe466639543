//! Partial messages by hand: a chain of three peers, a message of four
//! parts, the middle peer already holding two. Exactly the parts each peer
//! lacks cross the wire, and the byte counts are the ones computed here
//! from the body format (`[bitmap][parts][8-byte group id]`).

use models::interop::{Op, OpKind, PairLink, Scenario};
use models::partial::Layout;
use models::spec::GossipsubSpec;
use std::collections::BTreeMap;

const PART: u32 = 1000;
const LAYOUT: Layout = Layout {
    parts: 4,
    part_bytes: PART,
    eager: false,
};
const GROUP: u64 = 42;

fn op(at_s: u64, node: u32, kind: OpKind) -> Op {
    Op {
        at_ns: at_s * 1_000_000_000,
        node,
        kind,
    }
}

/// A - B - C; all subscribe with partial messages; A holds every part, B
/// parts 0 and 1, C none; A publishes at 5 s.
fn chain(middle_publishes: bool) -> Scenario {
    let mut ops = vec![op(0, 0, OpKind::Connect(1)), op(0, 1, OpKind::Connect(2))];
    for n in 0..3 {
        ops.push(op(
            0,
            n,
            OpKind::SubscribePartial {
                topic: 0,
                requests: true,
            },
        ));
    }
    ops.push(op(
        4,
        0,
        OpKind::AddParts {
            topic: 0,
            group: GROUP,
            bits: vec![0b1111],
        },
    ));
    ops.push(op(
        4,
        1,
        OpKind::AddParts {
            topic: 0,
            group: GROUP,
            bits: vec![0b0011],
        },
    ));
    ops.push(op(
        5,
        0,
        OpKind::PublishParts {
            topic: 0,
            group: GROUP,
        },
    ));
    if middle_publishes {
        ops.push(op(
            5,
            1,
            OpKind::PublishParts {
                topic: 0,
                group: GROUP,
            },
        ));
    }
    let link = PairLink {
        latency_ns: 20_000_000,
        loss: 0.0,
    };
    Scenario {
        name: "chain".into(),
        nodes: 3,
        topics: vec!["t".into()],
        ops,
        configs: vec![GossipsubSpec::default(); 3],
        bandwidth: vec![(Some(100_000_000), Some(100_000_000)); 3],
        links: BTreeMap::from([((0, 1), link), ((1, 2), link)]),
        duration_s: 10.0,
        transport: models::spec::TransportSpec::default(),
        layout: LAYOUT,
    }
}

#[test]
fn exactly_the_missing_parts_cross_a_chain_of_three() {
    for middle_publishes in [false, true] {
        let sc = chain(middle_publishes);
        let out = models::interop::run(&sc, 1).expect("run");
        let s = &out.run.summary;
        let ctx = format!("middle publishes: {middle_publishes}; {s:?}");
        // B lacks 2 parts, C lacks 4: both complete, and nothing else crosses.
        assert_eq!(s.partial_parts_missing, 6, "{ctx}");
        assert_eq!(s.partial_parts_received, 6, "{ctx}");
        assert_eq!(s.partial_parts_duplicate, 0, "{ctx}");
        assert_eq!(s.partial_invalid, 0, "{ctx}");
        assert_eq!((s.deliveries, s.deliveries_expected), (2, 2), "{ctx}");
        assert_eq!(out.partial_complete, vec![1, 1, 1], "{ctx}");
        // A sends B its parts 2 and 3 in one body: bitmap, 2 parts, group id.
        let body = |k: u32| u64::from(1 + k * PART + 8);
        assert_eq!(LAYOUT.body_bytes(2) as u64, body(2));
        let data: Vec<u64> = out
            .run
            .peers
            .iter()
            .map(|p| p.wire.data_bytes_sent)
            .collect();
        assert_eq!(data[0], body(2), "A: {ctx}");
        // B sends C all four, in one body or in two (0-1 when C asks, 2-3
        // once B has them): 4 parts plus 9 bytes of framing per body.
        assert!(
            data[1] == body(4) || data[1] == body(2) + body(2),
            "B sent {} data bytes: {ctx}",
            data[1]
        );
        assert_eq!(data[2], 0, "C has nothing to give: {ctx}");
        let total = (s.partial_data_bytes_per_peer * 3.0).round() as u64;
        assert_eq!(total, data.iter().sum::<u64>(), "{ctx}");
        // Control: metadata messages only, a few dozen bytes each.
        assert!(s.partial_control_bytes_per_peer > 0.0, "{ctx}");
    }
}

#[test]
fn an_eager_sender_sends_before_it_knows_and_duplicates_show() {
    // With eager sending A pushes all four parts to B before B's metadata
    // arrives: B's parts 0 and 1 cross twice.
    let mut sc = chain(false);
    sc.layout.eager = true;
    let out = models::interop::run(&sc, 1).expect("run");
    let s = &out.run.summary;
    assert_eq!((s.deliveries, s.deliveries_expected), (2, 2), "{s:?}");
    assert_eq!(s.partial_parts_duplicate, 2, "{s:?}");
    assert_eq!(s.partial_parts_received, 8, "{s:?}");
}

#[test]
fn the_chain_is_deterministic() {
    let a = models::interop::run(&chain(true), 3).expect("run");
    let b = models::interop::run(&chain(true), 3).expect("run");
    assert_eq!(a.run.summary.trace_hash, b.run.summary.trace_hash);
}

/// `[workload.partial]` on a small network: a `request` class and a
/// `support` class, parts already held by half the subscribers.
fn workload(partitions: u16) -> models::spec::Experiment {
    let text = r#"
        name = "partial-workload"
        peers = 30
        duration_s = 14.0
        [topology]
        kind = "random_regular"
        degree = 6
        [gossipsub]
        signing = "none"
        max_transmit_size = 1048576
        [workload]
        rate_per_s = 1.0
        message_bytes = 65536
        start_s = 4.0
        drain_s = 3.0
        [workload.partial]
        parts = 8
        held_share = 0.5
        holders_share = 0.5
        [[class]]
        name = "requests"
        share = 0.5
        [[class]]
        name = "supports"
        share = 0.5
        partial = "support"
    "#;
    let mut e: models::spec::Experiment = toml::from_str(text).expect("parses");
    e.partitions = partitions;
    e.validate().expect("valid");
    e
}

#[test]
fn a_support_class_gets_full_messages_and_a_request_class_parts() {
    let out = models::run_full(&workload(1), 1, sim::EntropyMode::Seeded).expect("run");
    let s = &out.summary;
    // Supporting peers get a full message only from the publisher and
    // other supporting peers (requesting peers never hold it whole as a
    // message): one of them, reachable only through requesting mesh peers
    // while the mesh was still forming, missed the first message.
    assert!(s.delivery_ratio >= 0.99, "{s:?}");
    assert!(s.partial_enabled);
    // Parts went to the requesting peers (holders lacked half of theirs,
    // the others all 8), full copies to the supporting ones.
    assert!(
        s.partial_parts_received >= s.partial_parts_missing / 2,
        "{s:?}"
    );
    assert!(s.partial_parts_missing > 0, "{s:?}");
    let copies: u32 = out.messages.iter().map(|m| m.copies).sum();
    assert!(copies > 0, "full messages were forwarded: {s:?}");
    // Every byte of partial bodies is data; the rest of partial traffic is control.
    assert!(s.partial_data_bytes_per_peer <= s.data_bytes_per_peer);
    assert!(s.partial_control_bytes_per_peer <= s.control_bytes_per_peer);
}

#[test]
fn a_partitioned_partial_run_delivers_what_one_thread_delivers() {
    let one = models::run_full(&workload(1), 2, sim::EntropyMode::Seeded).expect("run");
    let two = models::run_full(&workload(2), 2, sim::EntropyMode::Seeded).expect("run");
    let again = models::run_full(&workload(2), 2, sim::EntropyMode::Seeded).expect("run");
    assert_eq!(two.summary, again.summary, "reproducible");
    let (o, t) = (&one.summary, &two.summary);
    assert_eq!(o.deliveries_expected, t.deliveries_expected);
    assert!(
        t.delivery_ratio >= 0.97 && o.delivery_ratio >= 0.97,
        "{o:?}\n{t:?}"
    );
    assert_eq!(
        o.partial_parts_missing, t.partial_parts_missing,
        "the same draws"
    );
}
