//! Determinism: the same (experiment, seed) gives the same trace hash,
//! sequentially, in parallel beside other runs, and (see
//! experiments/tests/cli.rs) in separate processes. A different seed, or
//! unseeded entropy (the negative control), gives a different hash.

use models::spec::{Experiment, LatencyModel, Signing};
use sim::EntropyMode;

fn small() -> Experiment {
    let mut e = Experiment {
        name: "det".into(),
        peers: 24,
        duration_s: 12.0,
        ..Experiment::default()
    };
    // Degree above D = 6, so mesh selection (a seeded shuffle) matters.
    e.topology.degree = 10;
    e.network.latency = LatencyModel::Uniform {
        min_ms: 20.0,
        max_ms: 80.0,
    };
    e.workload.start_s = 2.0;
    e.workload.rate_per_s = 2.0;
    e.gossipsub.heartbeat_initial_delay_ms = Some(500);
    e
}

/// `small()` at seed 7 with run options that must not change any result.
fn run_small(opts: models::RunOptions) -> models::RunOutput {
    models::run_with(&small(), 7, EntropyMode::Seeded, &opts).expect("run")
}

fn hash(e: &Experiment, seed: u64, mode: EntropyMode) -> String {
    models::run(e, seed, mode).expect("run").trace_hash
}

#[test]
fn same_seed_same_hash_sequentially_and_different_seed_differs() {
    let e = small();
    let a = models::run(&e, 7, EntropyMode::Seeded).unwrap();
    let b = models::run(&e, 7, EntropyMode::Seeded).unwrap();
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a, b, "every summary field (wall time aside) is identical");
    assert!(a.deliveries > 0, "the run did something");
    assert_ne!(a.trace_hash, hash(&e, 8, EntropyMode::Seeded));
}

#[test]
fn same_seed_same_hash_in_parallel_beside_other_runs() {
    let mut e = small();
    e.gossipsub.signing = Some(Signing::None);
    let reference = hash(&e, 11, EntropyMode::Seeded);
    let handles: Vec<_> = [11u64, 12, 11, 13, 11, 14]
        .into_iter()
        .map(|seed| {
            let e = e.clone();
            std::thread::spawn(move || (seed, hash(&e, seed, EntropyMode::Seeded)))
        })
        .collect();
    let results: Vec<(u64, String)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (seed, h) in &results {
        if *seed == 11 {
            assert_eq!(h, &reference, "seed 11 under parallel load");
        } else {
            assert_ne!(h, &reference, "seed {seed}");
        }
    }
}

#[test]
fn unseeded_entropy_is_detected_as_divergent() {
    // Negative control: with the entropy hook fed from the OS, GossipSub's
    // shuffles and HashMap orders differ between runs, and the hash shows it.
    // Many more neighbours than D_hi, so which ones form the mesh is decided by
    // GossipSub's seeded shuffles.
    let mut e = small();
    e.peers = 40;
    e.topology.degree = 16;
    e.gossipsub.mesh_n = Some(4);
    e.gossipsub.mesh_n_low = Some(3);
    e.gossipsub.mesh_n_high = Some(6);
    let seeded = hash(&e, 5, EntropyMode::Seeded);
    assert_eq!(seeded, hash(&e, 5, EntropyMode::Seeded), "positive control");
    let x = hash(&e, 5, EntropyMode::Unseeded);
    let y = hash(&e, 5, EntropyMode::Unseeded);
    assert_ne!(x, y, "unseeded runs must diverge");
    assert_ne!(x, seeded);
}

#[test]
fn entropy_hook_served_every_request_on_the_simulation_thread() {
    let s = models::run(&small(), 3, EntropyMode::Seeded).unwrap();
    assert!(s.entropy_served > 0, "the hook served the run's entropy");
    assert_eq!(s.entropy_os_fallbacks, 0, "no request reached the OS");
}

#[test]
fn skipping_the_teardown_changes_no_result() {
    // `meshsim run` and `meshsim bench` leave the network's memory to the
    // process's exit; everything measured must be the same as with teardown.
    let with = |skip_teardown| {
        run_small(models::RunOptions {
            skip_teardown,
            ..Default::default()
        })
    };
    let (a, b) = (with(false), with(true));
    assert_eq!(
        a.summary, b.summary,
        "every summary field (wall time aside)"
    );
    assert_eq!(a.messages.len(), b.messages.len());
    assert_eq!(a.peers.len(), b.peers.len());
    assert!(a.summary.deliveries > 0, "the run did something");
}

#[test]
fn the_verification_memo_changes_no_result() {
    // Signed (the default): GossipSub verifies every copy at every peer. With
    // the memo each signature is verified once per run; without it, every
    // time. Everything measured must be the same.
    let run = |no_memo| {
        run_small(models::RunOptions {
            no_memo,
            ..Default::default()
        })
        .summary
    };
    let (mut on, off) = (run(false), run(true));
    assert_eq!((off.memo_hits, off.memo_misses), (0, 0), "memo off");
    assert!(
        on.memo_hits > 10 * on.memo_misses,
        "most verifications are repeats: {} hits, {} misses",
        on.memo_hits,
        on.memo_misses
    );
    assert!(on.deliveries > 0, "the run did something");
    on.memo_hits = 0;
    on.memo_misses = 0;
    assert_eq!(on, off, "every summary field (wall time aside)");
}

#[test]
fn the_memo_never_accepts_what_verification_rejects() {
    use libp2p_identity::{Keypair, PublicKey};
    let kp = Keypair::ed25519_from_bytes([7u8; 32]).expect("key");
    let pk = kp.public();
    let msg = b"libp2p-pubsub:a message".to_vec();
    let sig = kp.sign(&msg).expect("sign");
    let mut bad_sig = sig.clone();
    bad_sig[40] ^= 1;
    let mut bad_msg = msg.clone();
    bad_msg[20] ^= 1;
    let other = Keypair::ed25519_from_bytes([8u8; 32])
        .expect("key")
        .public();
    // 32 bytes that are not a curve point: decoding them fails.
    let not_a_point = (0u8..=255)
        .map(|b| {
            let mut k = [1u8; 32];
            k[0] = b;
            k
        })
        .find(|k| libp2p_identity::ed25519::PublicKey::try_from_bytes(k).is_err())
        .expect("some 32-byte strings are not curve points");
    let check = || {
        [
            pk.verify(&msg, &sig),
            pk.verify(&msg, &bad_sig),
            pk.verify(&bad_msg, &sig),
            other.verify(&msg, &sig),
            PublicKey::try_decode_protobuf(&pk.encode_protobuf()).ok() == Some(pk.clone()),
            libp2p_identity::ed25519::PublicKey::try_from_bytes(&not_a_point).is_ok(),
        ]
    };
    let expected = [true, false, false, false, true, false];
    assert_eq!(check(), expected, "off a simulation thread");
    sim::clock::install();
    let first = check();
    let second = check();
    let stats = sim::clock::memo_stats();
    sim::clock::uninstall();
    assert_eq!(first, expected, "first time on a simulation thread");
    assert_eq!(second, expected, "again, with the memo");
    // First round: 4 verifications and 2 decompressions, all computed.
    // Second round: the valid verification and the valid decompression are
    // remembered; the 3 failed verifications and the failed decompression
    // are computed again (never remembered).
    assert_eq!(
        (stats.hits, stats.misses),
        (2, 10),
        "only successes are remembered"
    );
    // A new simulation on the same thread starts with an empty memo.
    sim::clock::install();
    let third = check();
    let stats = sim::clock::memo_stats();
    sim::clock::uninstall();
    assert_eq!(third, expected, "a second simulation on the thread");
    assert_eq!(
        (stats.hits, stats.misses),
        (0, 6),
        "nothing remembered from the earlier simulation"
    );
}
