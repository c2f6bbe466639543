//! Prolly-tree history sync between simulated peers: convergence after churn
//! and partitions, determinism with history on, server aborts and restarts,
//! and rejection of malformed sync messages.

use models::history::codec::put_uvarint;
use models::prolly::wire::MAX_MESSAGE_LEN;
use models::prolly::{Request, Response};
use models::spec::{Experiment, LatencyModel, Signing, TimelineEvent, TopologyKind};
use models::{RunSummary, Sim};
use rand::{RngExt, SeedableRng};
use sim::EntropyMode;

fn run_sim<R: Send + 'static>(
    e: &Experiment,
    seed: u64,
    f: impl FnOnce(Sim) -> R + Send + 'static,
) -> R {
    models::with_sim(e, seed, f)
}

fn load(file: &str) -> Experiment {
    let path = format!("{}/../experiments/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("experiment file");
    let e: Experiment = toml::from_str(&text).expect("valid TOML");
    e.validate().expect("valid experiment");
    e
}

/// Root hashes of the live peers' logs and the number of entries of each.
fn live_roots(s: &Sim) -> Vec<([u8; 16], usize)> {
    s.engine
        .nodes
        .iter()
        .filter(|n| n.is_up())
        .map(|n| {
            let log = n.log().expect("history is on");
            (log.root_hash(), log.len())
        })
        .collect()
}

/// The last time a peer returns in `e`'s timeline.
fn last_return_s(e: &Experiment) -> f64 {
    e.timeline
        .iter()
        .filter_map(TimelineEvent::end_s)
        .fold(0.0, f64::max)
}

#[test]
fn history_sync_experiment_converges_after_the_last_rejoin() {
    let e = load("history-sync.toml");
    let last = last_return_s(&e);
    assert!(last > 0.0 && last < e.duration_s);
    let (before, after, summary) = run_sim(&e, e.seed, move |mut s| {
        // Just before the last return, the replicas differ.
        s.run_until_s(last - 0.5).unwrap();
        let before = live_roots(&s);
        s.run_until_s(s.driver.spec.duration_s).unwrap();
        let after = live_roots(&s);
        (before, after, s.finish())
    });
    assert!(
        before.iter().any(|r| r.0 != before[0].0) || before.len() < e.peers as usize,
        "peers were offline before the last rejoin"
    );
    assert_eq!(after.len(), e.peers as usize, "everyone is back");
    assert!(
        after.iter().all(|r| r == &after[0]),
        "every replica has the same root hash"
    );
    assert_eq!(
        after[0].1 as u64, summary.messages_published,
        "and holds every message"
    );
    assert_eq!(summary.final_distinct_roots, 1);
    assert!(summary.sync_converged, "{:?}", summary.convergence);
    let t = summary
        .sync_convergence_s
        .expect("convergence time after the last rejoin");
    assert!((0.0..10.0).contains(&t), "converged in {t} s");
    let last_marker = summary.convergence.last().expect("markers");
    assert_eq!(last_marker.kind, "return");
    assert!((last_marker.at_s - last).abs() < 1e-9);
    assert!(summary.syncs_completed >= 1);
    assert!(summary.messages_recovered_by_sync > 0);
    assert!(summary.sync_round_trips.max >= 2.0);
    assert!(summary.sync_bytes_received > summary.sync_bytes_sent);
    assert_eq!(summary.sync_rejected, 0);
    assert!(!summary.root_series.is_empty());
    assert!(summary.root_series.iter().any(|r| r.live_peers < e.peers));
}

#[test]
fn partition_heal_experiment_converges() {
    let e = load("partition-heal.toml");
    let s = models::run(&e, e.seed, EntropyMode::Seeded).expect("run");
    assert_eq!(s.final_distinct_roots, 1);
    assert!(s.sync_converged);
    let heal = s.convergence.last().expect("a healing");
    assert_eq!(heal.kind, "heal");
    assert!(heal.converged_after_s.is_some());
    assert!(
        s.root_series.iter().any(|r| r.distinct_roots >= 2),
        "the halves diverged"
    );
    assert!(
        s.missing_parent_ignored > 0,
        "messages with unknown parents were ignored"
    );
    assert!(s.messages_recovered_by_sync > 0);
}

fn small_churn() -> Experiment {
    let mut e = Experiment {
        name: "history-determinism".into(),
        peers: 16,
        duration_s: 30.0,
        ..Experiment::default()
    };
    e.topology.degree = 4;
    e.workload.rate_per_s = 2.0;
    e.workload.message_bytes = 128;
    e.workload.drain_s = 5.0;
    e.history.enabled = true;
    e.history.anti_entropy_interval_ms = 3000;
    e.timeline = vec![
        TimelineEvent::Offline {
            at_s: 8.0,
            duration_s: Some(6.0),
            peers: Vec::new(),
            count: 3,
            redial: Some(2),
            graceful: false,
        },
        TimelineEvent::Partition {
            at_s: 15.0,
            duration_s: Some(5.0),
            group: Vec::new(),
            share: Some(0.4),
        },
    ];
    e.validate().unwrap();
    e
}

fn without_wall_time(mut s: RunSummary) -> RunSummary {
    s.wall_seconds = 0.0;
    s
}

#[test]
fn same_seed_same_trace_with_history_on() {
    let e = small_churn();
    let a = models::run(&e, 11, EntropyMode::Seeded).unwrap();
    let b = models::run(&e, 11, EntropyMode::Seeded).unwrap();
    assert!(a.syncs > 0, "syncs ran");
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(without_wall_time(a.clone()), without_wall_time(b));
    // In parallel with another run (process-wide connection counters move on).
    let e2 = e.clone();
    let other = std::thread::spawn(move || models::run(&e2, 12, EntropyMode::Seeded).unwrap());
    let c = models::run(&e, 11, EntropyMode::Seeded).unwrap();
    let d = other.join().unwrap();
    assert_eq!(a.trace_hash, c.trace_hash);
    assert_ne!(a.trace_hash, d.trace_hash, "another seed, another run");
}

#[test]
fn server_aborts_slow_syncs_and_the_client_restarts_from_the_root() {
    let mut e = Experiment {
        name: "history-abort".into(),
        peers: 2,
        duration_s: 40.0,
        ..Experiment::default()
    };
    e.topology.kind = TopologyKind::Chain;
    e.network.latency = LatencyModel::Constant { ms: 50.0 };
    e.gossipsub.signing = Some(Signing::None);
    e.workload.rate_per_s = 10.0;
    e.workload.message_bytes = 64;
    e.workload.drain_s = 15.0;
    e.history.enabled = true;
    // Each round trip takes 100 ms, the server gives a sync 1 s, and values
    // come 4 keys at a time: a catch-up of ~100 entries takes several aborted
    // syncs. (With much less time than a walk from the root to the first
    // missing leaves needs, restarts make no progress at all.)
    e.history.sync_timeout_ms = 1000;
    e.history.max_keys_per_request = 4;
    e.history.max_restarts = 100;
    e.timeline = vec![TimelineEvent::Offline {
        at_s: 6.0,
        duration_s: Some(10.0),
        peers: vec![1],
        count: 0,
        redial: None,
        graceful: false,
    }];
    e.validate().unwrap();
    let s = models::run(&e, 3, EntropyMode::Seeded).unwrap();
    assert!(s.syncs_aborted >= 2, "{} aborted", s.syncs_aborted);
    assert_eq!(s.sync_server_aborts, s.syncs_aborted);
    let aborted: Vec<_> = s
        .sync_records
        .iter()
        .filter(|r| r.outcome == "aborted")
        .collect();
    assert!(
        aborted.iter().all(|r| r.entries_fetched > 0),
        "progress is kept"
    );
    assert!(aborted.iter().all(|r| r.duration_ms >= 1000.0));
    let last = s.sync_records.last().unwrap();
    assert_eq!(last.outcome, "complete", "{:?}", s.sync_records);
    assert_eq!(s.final_distinct_roots, 1, "restarts finish the job");
    assert!(s.sync_converged);
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_uvarint(&mut out, body.len() as u64);
    out.extend_from_slice(body);
    out
}

/// What a raw probe should get back before the victim closes the substream.
#[derive(Clone, Debug)]
enum Expect {
    /// Exactly these frames.
    Frames(Vec<Vec<u8>>),
    /// The root (answer to a valid `GetRoot`), then `Abort` for a malformed request.
    RootThenAbort,
    /// The root, an answer to a second valid request, then `Abort` at the deadline.
    RootAnswerAbort,
}

#[test]
fn malformed_sync_messages_are_rejected_and_the_peer_keeps_running() {
    let mut e = Experiment {
        name: "history-malformed".into(),
        peers: 4,
        duration_s: 40.0,
        ..Experiment::default()
    };
    e.topology.kind = TopologyKind::Chain;
    e.network.latency = LatencyModel::Constant { ms: 20.0 };
    e.gossipsub.signing = Some(Signing::None);
    e.workload.rate_per_s = 2.0;
    e.workload.message_bytes = 64;
    e.history.enabled = true;
    e.history.sync_timeout_ms = 2000;
    e.validate().unwrap();

    let abort = Response::Abort { cooldown_ms: 0 }.encode();
    let oversized = {
        let mut b = Vec::new();
        put_uvarint(&mut b, MAX_MESSAGE_LEN as u64 + 1);
        b
    };
    let mut probes: Vec<(Vec<u8>, Expect)> = vec![
        (frame(&[0x09]), Expect::Frames(vec![abort.clone()])), // unknown tag
        (frame(&[0x01]), Expect::Frames(vec![abort.clone()])), // truncated
        (frame(&[0x00, 0x00]), Expect::Frames(vec![abort.clone()])), // trailing bytes
        (oversized, Expect::Frames(vec![abort.clone()])),      // length above the limit
        (vec![0xff; 11], Expect::Frames(vec![abort.clone()])), // overlong length prefix
        (vec![0x80, 0x00], Expect::Frames(vec![abort.clone()])), // non-canonical prefix
    ];
    // Fuzz: a valid GetRoot, then a random body.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    for _ in 0..24 {
        let len = rng.random_range(0..48usize);
        let body: Vec<u8> = (0..len).map(|_| rng.random::<u8>()).collect();
        let expect = if Request::decode(&body).is_ok() {
            Expect::RootAnswerAbort
        } else {
            Expect::RootThenAbort
        };
        let mut bytes = frame(&Request::GetRoot.encode());
        bytes.extend(frame(&body));
        probes.push((bytes, expect));
    }
    let want_rejected = probes
        .iter()
        .filter(|p| !matches!(p.1, Expect::RootAnswerAbort))
        .count() as u64;
    let expects: Vec<Expect> = probes.iter().map(|p| p.1.clone()).collect();
    let bytes: Vec<Vec<u8>> = probes.into_iter().map(|p| p.0).collect();

    let (replies, rejected, summary, victim_up) = run_sim(&e, 5, move |mut s| {
        s.run_until_s(10.0).unwrap();
        let victim = *s.engine.nodes[1].swarm.as_ref().unwrap().local_peer_id();
        let mut ids = Vec::new();
        for b in bytes {
            // One probe at a time (the victim serves at most 4 sync substreams at once).
            let attacker = s.engine.nodes[0].history().expect("history on");
            ids.push(attacker.send_raw(victim, b).expect("connected"));
            s.engine.wake(0);
            let t = s.now_s();
            s.run_until_s(t + 0.5).unwrap();
        }
        // Long enough for the victim's deadline to close the substreams left open.
        let t = s.now_s();
        s.run_until_s(t + 3.0).unwrap();
        let mut replies = std::mem::take(&mut s.engine.nodes[0].raw_replies);
        replies.sort_by_key(|r| r.0);
        assert_eq!(
            replies.iter().map(|r| r.0).collect::<Vec<_>>(),
            ids,
            "every probe got an answer"
        );
        let rejected = s.driver.collector.borrow().history.rejected;
        // Too many sync substreams at once: the extra ones are refused with Abort.
        let attacker = s.engine.nodes[0].history().expect("history on");
        let get_root = frame(&Request::GetRoot.encode());
        let burst: Vec<u64> = (0..6)
            .map(|_| attacker.send_raw(victim, get_root.clone()).unwrap())
            .collect();
        s.engine.wake(0);
        let t = s.now_s();
        s.run_until_s(t + 3.0).unwrap();
        let mut burst_replies = std::mem::take(&mut s.engine.nodes[0].raw_replies);
        burst_replies.sort_by_key(|r| r.0);
        assert_eq!(burst_replies.iter().map(|r| r.0).collect::<Vec<_>>(), burst);
        // Which substreams come first is up to the swarm's negotiation order.
        let mut lens: Vec<usize> = burst_replies
            .iter()
            .map(|r| r.1.as_ref().unwrap().len())
            .collect();
        lens.sort_unstable();
        assert_eq!(
            lens,
            vec![1, 1, 2, 2, 2, 2],
            "refused, or root + abort at the deadline"
        );
        assert_eq!(
            s.driver.collector.borrow().history.rejected,
            rejected + 2,
            "refusals are rejections"
        );
        s.run_until_s(40.0).unwrap();
        let up = s.engine.nodes[1].is_up();
        (replies, rejected, s.finish(), up)
    });
    for (i, ((_, reply), expect)) in replies.iter().zip(&expects).enumerate() {
        let frames = reply
            .as_ref()
            .expect("the substream ends cleanly after the answer");
        let decoded: Vec<Response> = frames
            .iter()
            .map(|f| Response::decode(f).expect("a well-formed response"))
            .collect();
        let is_abort = |r: &Response| *r == Response::Abort { cooldown_ms: 0 };
        match expect {
            Expect::Frames(want) => assert_eq!(frames, want, "probe {i}"),
            Expect::RootThenAbort => {
                assert_eq!(decoded.len(), 2, "probe {i}: {decoded:?}");
                assert!(matches!(decoded[0], Response::Root(_)));
                assert!(is_abort(&decoded[1]));
            }
            Expect::RootAnswerAbort => {
                assert_eq!(decoded.len(), 3, "probe {i}: {decoded:?}");
                assert!(matches!(decoded[0], Response::Root(_)));
                assert!(!is_abort(&decoded[1]));
                assert!(is_abort(&decoded[2]), "aborted at the deadline");
            }
        }
    }
    assert!(want_rejected >= 20, "the fuzz mostly produces garbage");
    assert_eq!(
        rejected, want_rejected,
        "each malformed message rejected once"
    );
    assert!(victim_up, "the victim keeps running");
    assert_eq!(summary.sync_rejected, rejected + 2);
    assert_eq!(
        summary.delivery_ratio, 1.0,
        "GossipSub keeps delivering through the victim (the middle of a chain)"
    );
    assert_eq!(summary.final_distinct_roots, 1);
}
