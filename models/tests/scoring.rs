//! Peer scoring through GossipSub's own score API (`peer_score`): an
//! invalid-message spammer is graylisted, pruned and ignored; a
//! non-forwarder loses P3 after activation only when P3 is on; Sybils on one
//! virtual IP get P6; inconsistent scoring is rejected before any run.

use models::spec::{ClassSpec, PeerBehaviourKind};
use models::spec::{Experiment, LatencyModel, TopologyKind};
use models::spec::{ScoringPreset, ScoringSpec};
use models::Sim;
use sim::EntropyMode;

fn run_sim<R: Send + 'static>(
    e: &Experiment,
    seed: u64,
    f: impl FnOnce(Sim) -> R + Send + 'static,
) -> R {
    models::with_sim(e, seed, f)
}

fn class(name: &str, count: u32, behaviour: PeerBehaviourKind) -> ClassSpec {
    ClassSpec {
        spam_rate_per_s: 20.0,
        ..ClassSpec::new(name, count, behaviour)
    }
}

/// Score that `observer` gives `target` (None: not connected or scoring off).
fn score(s: &Sim, observer: u32, target: u32) -> Option<f64> {
    let id = s.engine.nodes[target as usize].peer_id();
    let sw = s.engine.nodes[observer as usize].swarm.as_ref()?;
    if !sw.is_connected(&id) {
        return None;
    }
    sw.behaviour().gossipsub.peer_score(&id)
}

#[test]
fn invalid_spammer_is_graylisted_pruned_and_ignored_honest_stay_positive() {
    let mut e = Experiment {
        name: "spam".into(),
        peers: 30,
        duration_s: 40.0,
        ..Experiment::default()
    };
    e.topology.degree = 6;
    e.classes = vec![
        class("honest", 27, PeerBehaviourKind::Honest),
        class("spammer", 3, PeerBehaviourKind::InvalidSpammer),
    ];
    e.scoring.preset = ScoringPreset::Default;
    // P4 decays slowly, so a graylisted spammer stays graylisted while it is ignored.
    e.scoring.topic.invalid_message_deliveries_decay = Some(0.99);
    e.validate().unwrap();
    let graylist = -80.0; // the default preset's threshold
    let (scores, meshes, (early, rejected), offered) = run_sim(&e, 3, move |mut s| {
        s.run_until_s(19.0).unwrap();
        let early: u64 = s.engine.nodes.iter().take(27).map(|n| n.rejected).sum();
        s.run_until_s(39.0).unwrap();
        let mut scores = Vec::new(); // (observer, target, score)
        for o in 0..30u32 {
            for t in 0..30u32 {
                if let Some(x) = score(&s, o, t) {
                    scores.push((o, t, x));
                }
            }
        }
        let meshes: Vec<Vec<u32>> = (0..30).map(|p| s.mesh(p, 0)).collect();
        let late: u64 = s.engine.nodes.iter().take(27).map(|n| n.rejected).sum();
        // From 19 s to 38 s, 3 spammers publish 20/s each to their 6 neighbours.
        (scores, meshes, (early, late - early), 3 * 20 * 19 * 6)
    });
    println!("rejected before 19 s: {early}; after: {rejected} of {offered} offered");
    let spammers = 27..30u32;
    let mut seen = 0;
    for &(o, t, x) in &scores {
        if spammers.contains(&o) {
            continue;
        }
        if spammers.contains(&t) {
            seen += 1;
            assert!(
                x < graylist,
                "honest {o} scores spammer {t} at {x}, not below the graylist threshold {graylist}"
            );
        } else if meshes[o as usize].contains(&t) {
            assert!(x > 0.0, "honest {o} scores its mesh peer {t} at {x}");
        } else {
            assert!(x >= 0.0, "honest {o} scores honest {t} at {x}");
        }
    }
    assert!(seen >= 3, "spammers stay connected ({seen} observations)");
    for (p, m) in meshes.iter().enumerate().take(27) {
        assert!(
            m.iter().all(|q| !spammers.contains(q)),
            "honest peer {p} still meshes with a spammer: {m:?}"
        );
    }
    // Ignored: once graylisted, honest peers no longer process the spam.
    assert!(early > 0, "spam was rejected before graylisting");
    assert!(
        rejected * 20 < offered,
        "graylisted spam is ignored: {rejected} rejections of {offered} offered after 19 s"
    );
}

/// The default preset with every score component's weight at 0 (P1-P4,
/// P3b, P6, P7, slow peer): a test switches on the one it studies.
fn every_component_off() -> ScoringSpec {
    let mut s = ScoringSpec {
        preset: ScoringPreset::Default,
        behaviour_penalty_weight: Some(0.0),
        slow_peer_weight: Some(0.0),
        ip_colocation_factor_weight: Some(0.0),
        ..ScoringSpec::default()
    };
    let t = &mut s.topic;
    t.time_in_mesh_weight = Some(0.0);
    t.first_message_deliveries_weight = Some(0.0);
    t.mesh_message_deliveries_weight = Some(0.0);
    t.mesh_failure_penalty_weight = Some(0.0);
    t.invalid_message_deliveries_weight = Some(0.0);
    s
}

fn p3_experiment(p3_weight: f64) -> Experiment {
    let mut e = Experiment {
        name: "p3".into(),
        peers: 20,
        duration_s: 40.0,
        ..Experiment::default()
    };
    e.topology.degree = 6;
    e.workload.rate_per_s = 5.0;
    e.classes = vec![
        class("honest", 19, PeerBehaviourKind::Honest),
        class("free-rider", 1, PeerBehaviourKind::NonForwarder),
    ];
    // Only P3 counts.
    e.scoring = every_component_off();
    let t = &mut e.scoring.topic;
    t.mesh_message_deliveries_weight = Some(p3_weight);
    t.mesh_message_deliveries_threshold = Some(10.0);
    t.mesh_message_deliveries_decay = Some(0.9);
    t.mesh_message_deliveries_activation_ms = Some(20_000);
    e.validate().unwrap();
    e
}

/// (min score of the non-forwarder before t = 20 s, min after), seen by every honest peer.
fn p3_scores(e: &Experiment) -> (f64, f64) {
    run_sim(e, 5, |mut s| {
        let (mut before, mut after) = (0.0f64, 0.0f64);
        let mut t = 1.0;
        while t < 38.0 {
            s.run_until_s(t).unwrap();
            for o in 0..19u32 {
                if let Some(x) = score(&s, o, 19) {
                    if t < 20.0 {
                        before = before.min(x);
                    } else {
                        after = after.min(x);
                    }
                }
            }
            t += 0.25;
        }
        (before, after)
    })
}

#[test]
fn non_forwarder_loses_mesh_delivery_score_after_activation_only_with_p3() {
    let (before, after) = p3_scores(&p3_experiment(-1.0));
    assert_eq!(before, 0.0, "no P3 penalty before activation");
    // Threshold 10 and nothing forwarded: down to -(10^2) x weight 1 x topic
    // weight 0.5 = -50 (its own publications count as deliveries, so a bit less).
    assert!(
        (-50.0..-20.0).contains(&after),
        "P3 penalty after activation: {after}"
    );
    let (before, after) = p3_scores(&p3_experiment(0.0));
    assert_eq!((before, after), (0.0, 0.0), "P3 disabled: no penalty");
}

#[test]
fn sybils_on_one_ip_get_the_colocation_penalty() {
    let mut e = Experiment {
        name: "sybil".into(),
        peers: 20,
        duration_s: 12.0,
        ..Experiment::default()
    };
    e.topology.kind = TopologyKind::ErdosRenyi;
    e.topology.p = Some(1.0);
    e.network.latency = LatencyModel::Constant { ms: 10.0 };
    let mut sybil = class("sybil", 6, PeerBehaviourKind::Honest);
    sybil.shared_ip = true;
    e.classes = vec![class("honest", 14, PeerBehaviourKind::Honest), sybil];
    // Only P6 counts, at the preset's weight (-5).
    e.scoring = ScoringSpec {
        ip_colocation_factor_threshold: Some(3.0),
        ip_colocation_factor_weight: None,
        ..every_component_off()
    };
    e.validate().unwrap();
    let scores = run_sim(&e, 2, |mut s| {
        s.run_until_s(10.0).unwrap();
        let mut v = Vec::new();
        for o in 0..14u32 {
            for t in 0..20u32 {
                if o != t {
                    v.push((o, t, score(&s, o, t)));
                }
            }
        }
        v
    });
    for (o, t, x) in scores {
        let x = x.unwrap_or_else(|| panic!("honest {o} is connected to {t}"));
        if t >= 14 {
            // 6 peers on one IP, threshold 3: -5 x (6 - 3)^2.
            assert_eq!(x, -45.0, "honest {o} scores Sybil {t}");
        } else {
            assert_eq!(x, 0.0, "honest {o} scores honest {t} on its own IP");
        }
    }
}

#[test]
fn presets_parse_and_inconsistent_scoring_is_rejected_with_the_key() {
    let parse = |t: &str| toml::from_str::<Experiment>(t);
    for p in ["default", "ethereum", "off", "none"] {
        parse(&format!("[scoring]\npreset = \"{p}\"\n"))
            .unwrap()
            .validate()
            .unwrap();
    }
    assert!(parse("[scoring]\npreset = \"strict\"\n").is_err());
    assert!(
        parse("[scoring]\ngraylist = -1.0\n").is_err(),
        "unknown key"
    );
    let e = parse("[scoring]\npreset = \"default\"\ngraylist_threshold = -20.0\n").unwrap();
    let x = e.validate().unwrap_err();
    assert_eq!(x.key, "scoring.graylist_threshold");
    assert!(x.to_string().contains("publish threshold"), "{x}");
    let e = parse("[scoring]\npreset = \"ethereum\"\ngossip_threshold = 1.0\n").unwrap();
    assert_eq!(e.validate().unwrap_err().key, "scoring.gossip_threshold");
    let e = parse(
        "[scoring]\npreset = \"off\"\n[scoring.topic]\ninvalid_message_deliveries_decay = 1.5\n",
    )
    .unwrap();
    assert_eq!(
        e.validate().unwrap_err().key,
        "scoring.topic.invalid_message_deliveries_decay"
    );
    let e = parse("[scoring]\nretain_score_ms = 10\n").unwrap();
    assert_eq!(e.validate().unwrap_err().key, "scoring.preset");
    // Per-class overrides are merged into [scoring] and checked under their own key.
    let e = parse(
        "[scoring]\npreset = \"default\"\n[[class]]\nname = \"a\"\nshare = 1.0\n\
         [class.scoring]\npublish_threshold = -5.0\n",
    )
    .unwrap();
    assert_eq!(
        e.validate().unwrap_err().key,
        "class[0].scoring.publish_threshold"
    );
}

#[test]
fn scored_runs_with_adversaries_are_deterministic() {
    let mut e = Experiment {
        name: "det".into(),
        peers: 24,
        duration_s: 15.0,
        ..Experiment::default()
    };
    e.topology.degree = 6;
    let mut sybil = class("sybil", 3, PeerBehaviourKind::NonForwarder);
    sybil.shared_ip = true;
    e.classes = vec![
        class("honest", 14, PeerBehaviourKind::Honest),
        class("spammer", 3, PeerBehaviourKind::InvalidSpammer),
        sybil,
        class("breaker", 2, PeerBehaviourKind::PromiseBreaker),
        class("grafter", 2, PeerBehaviourKind::GraftSpammer),
    ];
    e.scoring.preset = ScoringPreset::Default;
    e.validate().unwrap();
    let a = models::run_full(&e, 9, EntropyMode::Seeded).unwrap();
    let b = models::run_full(&e, 9, EntropyMode::Seeded).unwrap();
    assert_eq!(a.summary.trace_hash, b.summary.trace_hash);
    assert_eq!(a.samples, b.samples, "score samples are identical too");
    assert!(a.samples.iter().any(|s| !s.extra.is_empty()));
    assert!(a.summary.attacker_delivery_ratio >= 0.0);
}

/// Only the behaviour penalty (P7) counts: every other score component off.
fn p7_experiment(name: &str, adversary: PeerBehaviourKind, p7_weight: f64) -> Experiment {
    let mut e = Experiment {
        name: name.into(),
        peers: 24,
        duration_s: 40.0,
        ..Experiment::default()
    };
    e.topology.degree = 10;
    e.workload.rate_per_s = 4.0;
    e.measure.wire = true;
    // A small mesh among 10 neighbours: GossipSub prunes often.
    e.gossipsub.mesh_n = Some(4);
    e.gossipsub.mesh_n_low = Some(3);
    e.gossipsub.mesh_n_high = Some(5);
    e.gossipsub.mesh_outbound_min = Some(1);
    let mut bad = class("adversary", 4, adversary);
    bad.spam_rate_per_s = 2.0;
    e.classes = vec![class("honest", 20, PeerBehaviourKind::Honest), bad];
    e.scoring = ScoringSpec {
        behaviour_penalty_weight: Some(p7_weight),
        ..every_component_off()
    };
    e.validate().unwrap();
    e
}

struct P7Run {
    /// Lowest score an honest peer gave an adversary, sampled every 250 ms.
    adversary_min: f64,
    /// Lowest score an honest peer gave another honest peer.
    honest_min: f64,
    forged: models::adversary::ForgedCounts,
    /// IWANTs and PRUNEs the adversaries received (wire counts).
    iwant_to_adversaries: u64,
    prune_to_adversaries: u64,
    /// `forged_ihave_ids` and `forged_grafts` of the whole run's summary.
    summary_forged: (u64, u64),
}

fn p7_run(e: &Experiment) -> P7Run {
    let out = models::run_full(e, 11, EntropyMode::Seeded).unwrap();
    let (iwant_to_adversaries, prune_to_adversaries) = out
        .peers
        .iter()
        .filter(|p| p.class == "adversary")
        .fold((0, 0), |(i, p), r| {
            (i + r.wire.iwant_received, p + r.wire.prune_received)
        });
    let (adversary_min, honest_min, forged) = run_sim(e, 11, |mut s| {
        let (mut adv, mut hon) = (0.0f64, 0.0f64);
        let mut t = 1.0;
        while t < 38.0 {
            s.run_until_s(t).unwrap();
            for o in 0..20u32 {
                for q in 0..24u32 {
                    if let Some(x) = score(&s, o, q).filter(|_| o != q) {
                        if q >= 20 {
                            adv = adv.min(x);
                        } else {
                            hon = hon.min(x);
                        }
                    }
                }
            }
            t += 0.25;
        }
        s.run_until_s(40.0).unwrap();
        (adv, hon, s.forged.get())
    });
    P7Run {
        summary_forged: (out.summary.forged_ihave_ids, out.summary.forged_grafts),
        adversary_min,
        honest_min,
        forged,
        iwant_to_adversaries,
        prune_to_adversaries,
    }
}

#[test]
fn promise_breakers_get_the_behaviour_penalty_for_unanswered_iwants() {
    let r = p7_run(&p7_experiment(
        "promises",
        PeerBehaviourKind::PromiseBreaker,
        -10.0,
    ));
    println!(
        "forged {:?}, IWANTs to breakers {}, min score {} (honest {})",
        r.forged, r.iwant_to_adversaries, r.adversary_min, r.honest_min
    );
    assert!(r.forged.fake_ihave_ids > 100, "{:?}", r.forged);
    assert!(
        r.iwant_to_adversaries > 50,
        "honest peers ask for the fake ids: {} IWANTs",
        r.iwant_to_adversaries
    );
    // Broken promises are counted at heartbeats: -10 x count^2 per observer.
    assert!(
        r.adversary_min <= -10.0,
        "broken promises penalised: {}",
        r.adversary_min
    );
    assert_eq!(r.honest_min, 0.0, "honest peers keep their promises");
    assert_eq!(r.summary_forged, (r.forged.fake_ihave_ids, 0));
    let off = p7_run(&p7_experiment(
        "promises-off",
        PeerBehaviourKind::PromiseBreaker,
        0.0,
    ));
    assert!(off.iwant_to_adversaries > 50);
    assert_eq!(off.adversary_min, 0.0, "behaviour penalty off: no penalty");
}

#[test]
fn graft_spammers_get_the_behaviour_penalty_for_grafting_during_backoff() {
    let r = p7_run(&p7_experiment(
        "grafts",
        PeerBehaviourKind::GraftSpammer,
        -10.0,
    ));
    println!(
        "forged {:?}, PRUNEs to spammers {}, min score {} (honest {})",
        r.forged, r.prune_to_adversaries, r.adversary_min, r.honest_min
    );
    assert!(
        r.forged.prunes_seen > 0 && r.forged.backoff_grafts > 10,
        "{:?}",
        r.forged
    );
    // GossipSub answers a GRAFT during backoff with another PRUNE.
    assert!(r.prune_to_adversaries * 2 >= r.forged.backoff_grafts);
    assert!(
        r.adversary_min <= -10.0,
        "GRAFTs during backoff penalised: {}",
        r.adversary_min
    );
    assert_eq!(r.honest_min, 0.0, "honest peers respect the backoff");
    let off = p7_run(&p7_experiment(
        "grafts-off",
        PeerBehaviourKind::GraftSpammer,
        0.0,
    ));
    assert!(off.forged.backoff_grafts > 10);
    assert_eq!(off.adversary_min, 0.0, "behaviour penalty off: no penalty");
    // runs.csv reports the same counts as the step-by-step API (both to 40 s).
    assert_eq!(r.summary_forged, (0, r.forged.backoff_grafts));
}
