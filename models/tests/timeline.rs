//! Timeline intervals that overlap compose instead of undoing each other:
//! a peer is offline while any offline interval covers it, unreachable while
//! any vanish interval does, and its degradations in force stack. Late
//! joiners whose arrival falls after the end stay down for the whole run.

use models::spec::{ArrivalsSpec, ChurnSpec};
use models::spec::{Experiment, LatencyModel, Signing, TimelineEvent, TopologyKind};
use models::Sim;
use sim::MS;

fn offline(at_s: f64, duration_s: f64, peers: Vec<u32>, count: u32) -> TimelineEvent {
    TimelineEvent::Offline {
        at_s,
        duration_s: Some(duration_s),
        peers,
        count,
        redial: None,
        graceful: false,
    }
}

fn degrade(at_s: f64, duration_s: f64, peer: u32, extra_latency_ms: f64) -> TimelineEvent {
    TimelineEvent::Degrade {
        at_s,
        duration_s: Some(duration_s),
        peers: vec![peer],
        extra_latency_ms,
        loss: 0.0,
        bandwidth_factor: 1.0,
    }
}

fn vanish(at_s: f64, duration_s: f64, peer: u32) -> TimelineEvent {
    TimelineEvent::Vanish {
        at_s,
        duration_s: Some(duration_s),
        peers: vec![peer],
    }
}

/// A chain of `peers` with 50 ms links and no workload (tests publish by hand).
fn chain(name: &str, peers: u32, duration_s: f64) -> Experiment {
    let mut e = Experiment {
        name: name.into(),
        peers,
        duration_s,
        ..Experiment::default()
    };
    e.topology.kind = TopologyKind::Chain;
    e.network.latency = LatencyModel::Constant { ms: 50.0 };
    e.network.detection_delay_ms = 1000.0;
    e.workload.rate_per_s = 0.0;
    e.gossipsub.signing = Some(Signing::None);
    e
}

/// 30 peers of degree 6 for 20 s, unsigned, no workload.
fn quiet_30(name: &str) -> Experiment {
    let mut e = Experiment {
        name: name.into(),
        peers: 30,
        duration_s: 20.0,
        ..Experiment::default()
    };
    e.topology.degree = 6;
    e.gossipsub.signing = Some(Signing::None);
    e.workload.rate_per_s = 0.0;
    e
}

fn up(s: &Sim) -> Vec<u32> {
    (0..s.engine.nodes.len() as u32)
        .filter(|&p| s.engine.nodes[p as usize].is_up())
        .collect()
}

fn connected(s: &Sim, a: u32, b: u32) -> bool {
    let id = s.engine.nodes[b as usize].peer_id();
    s.engine.nodes[a as usize]
        .swarm
        .as_ref()
        .is_some_and(|sw| sw.is_connected(&id))
}

#[test]
fn overlapping_degradations_stack_and_an_inner_end_keeps_the_outer() {
    // Peer 1 (middle of 0-1-2): +500 ms from 12 to 30 s, +200 ms from 14 to
    // 22 s, +0 ms from 15 to 16 s. The link 0-1 then takes 50 ms, then 550,
    // 750 (both), 550 (the outer alone), 50 (none). Before, each end cleared
    // every degradation and each start replaced the one in force: at 17 s
    // the link was back to 50 ms.
    let mut e = chain("degrade-overlap", 3, 40.0);
    e.timeline = vec![
        degrade(12.0, 18.0, 1, 500.0),
        degrade(14.0, 8.0, 1, 200.0),
        degrade(15.0, 1.0, 1, 0.0),
    ];
    e.validate().unwrap();
    let got = models::with_sim(&e, 1, |mut s| {
        s.driver.collector.borrow_mut().keep_deliveries();
        let mut got = Vec::new();
        for t in [10.0, 13.0, 17.0, 25.0, 33.0] {
            s.run_until_s(t).unwrap();
            let t0 = s.engine.now_ns();
            let seq = s.publish_now(0, 0);
            s.run_until_s(t + 1.5).unwrap();
            let d = s.deliveries_of(seq, t0);
            let to_1 = d.iter().find(|x| x.0 == 1).map(|x| x.1 / MS);
            got.push((t, to_1));
        }
        got
    });
    assert_eq!(
        got,
        vec![
            (10.0, Some(50)),
            (13.0, Some(550)),
            (17.0, Some(750)),
            (25.0, Some(550)),
            (33.0, Some(50)),
        ],
        "(publish time, ms from peer 0 to peer 1)"
    );
}

#[test]
fn a_peer_stays_offline_while_any_offline_interval_covers_it() {
    // 29 of 30 peers offline from 5 to 15 s, and peers 0 and 1 from 6 to
    // 8 s: at least one of them is among the 29, and must not come back at
    // 8 s (it did before).
    let mut e = quiet_30("offline-overlap");
    e.timeline = vec![
        offline(5.0, 10.0, Vec::new(), 29),
        offline(6.0, 2.0, vec![0, 1], 0),
    ];
    e.validate().unwrap();
    for seed in [1, 2, 3] {
        let (early, at_7, at_10, at_16) = models::with_sim(&e, seed, |mut s| {
            s.run_until_s(5.5).unwrap();
            let early = up(&s);
            s.run_until_s(7.0).unwrap();
            let at_7 = up(&s);
            s.run_until_s(10.0).unwrap();
            let at_10 = up(&s);
            s.run_until_s(16.0).unwrap();
            (early, at_7, at_10, up(&s).len())
        });
        assert_eq!(early.len(), 1, "seed {seed}: one peer not drawn");
        let spared = early[0];
        let want_7: Vec<u32> = early.iter().copied().filter(|&p| p > 1).collect();
        assert_eq!(at_7, want_7, "seed {seed}: 0 and 1 down too");
        assert_eq!(
            at_10,
            vec![spared],
            "seed {seed}: only the peer the 29 spared is up between 8 and 15 s"
        );
        assert_eq!(at_16, 30, "seed {seed}: everyone back after 15 s");
    }
}

#[test]
fn a_peer_stays_unreachable_while_any_vanish_covers_it() {
    // 0-1-2-3; peer 0 vanishes from 5 to 20 s and from 7 to 9 s. Before, the
    // inner end made it reachable again at 9 s.
    let mut e = chain("vanish-overlap", 4, 30.0);
    e.timeline = vec![vanish(5.0, 15.0, 0), vanish(7.0, 2.0, 0)];
    e.validate().unwrap();
    let (at_13, at_23) = models::with_sim(&e, 1, |mut s| {
        s.run_until_s(10.0).unwrap();
        s.dial_now(3, 0);
        s.run_until_s(13.0).unwrap();
        let at_13 = connected(&s, 3, 0);
        s.run_until_s(21.0).unwrap();
        s.dial_now(3, 0);
        s.run_until_s(23.0).unwrap();
        (at_13, connected(&s, 3, 0))
    });
    assert!(!at_13, "a dial at 10 s goes unanswered");
    assert!(at_23, "at 21 s peer 0 is reachable again");
}

#[test]
fn late_joiners_that_do_not_fit_stay_down_for_the_whole_run() {
    // Five joiners at 0.5/s from 15 s in a 20 s run: the ones whose arrival
    // falls after 20 s never join. Before, only the first joiner was down at
    // start; the other four were ordinary peers from the start.
    let mut e = quiet_30("arrivals");
    e.churn = ChurnSpec {
        arrivals: Some(ArrivalsSpec {
            count: 5,
            rate_per_s: 0.5,
            start_s: 15.0,
        }),
        ..ChurnSpec::default()
    };
    e.validate().unwrap();
    let mut never_total = 0;
    for seed in [1u64, 2, 3, 4] {
        // The run expands its churn from this stream.
        let events = e.churn.expand(
            e.peers,
            e.duration_s,
            &[],
            &mut sim::Seeds::new(seed).stream("churn-sessions"),
        );
        assert_eq!(events.len(), 5, "seed {seed}: one outage per joiner");
        let mut joiners = Vec::new();
        let mut never = Vec::new();
        let mut arrivals = Vec::new();
        for ev in &events {
            let TimelineEvent::Offline {
                at_s,
                duration_s,
                peers,
                ..
            } = ev
            else {
                panic!("{ev:?}")
            };
            assert_eq!(*at_s, 0.0);
            joiners.push(peers[0]);
            match duration_s {
                Some(d) => {
                    assert!(never.is_empty(), "seed {seed}: arrivals in order");
                    assert!(*d >= 15.0 && *d < 20.0, "seed {seed}: {d}");
                    arrivals.push(*d);
                }
                None => never.push(peers[0]),
            }
        }
        joiners.sort_unstable();
        never.sort_unstable();
        never_total += never.len();
        let (down_at_1, down_at_end) = models::with_sim(&e, seed, move |mut s| {
            let down = |s: &Sim| -> Vec<u32> {
                (0..30u32)
                    .filter(|&p| !s.engine.nodes[p as usize].is_up())
                    .collect()
            };
            s.run_until_s(1.0).unwrap();
            let at_1 = down(&s);
            s.run_until_s(19.999).unwrap();
            (at_1, down(&s))
        });
        assert_eq!(
            down_at_1, joiners,
            "seed {seed}: every joiner down at start"
        );
        assert_eq!(down_at_end, never, "seed {seed}: {arrivals:?}");
    }
    assert!(never_total > 0, "some joiners do not fit in these runs");
}
