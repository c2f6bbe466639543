//! Tests of the experiment specification.

use super::*;

#[test]
fn defaults_are_valid() {
    Experiment::default().validate().unwrap();
}

#[test]
fn mesh_bounds_are_checked() {
    let mut e = Experiment::default();
    e.gossipsub.mesh_n_low = Some(9);
    e.gossipsub.mesh_n = Some(8);
    let x = e.validate().unwrap_err();
    assert_eq!(x.key, "gossipsub.mesh_n_low");
    assert!(x.allowed.contains("mesh_n (8)"));
}

#[test]
fn settings_the_crate_accepts_but_cannot_use_are_refused() {
    let key = |f: &dyn Fn(&mut Experiment)| {
        let mut e = Experiment::default();
        f(&mut e);
        e.validate().map(|_| ()).map_err(|x| x.key)
    };
    assert_eq!(key(&|_| ()), Ok(()));
    // Checked by libp2p-gossipsub for per-topic settings only.
    assert_eq!(
        key(&|e| e.gossipsub.max_transmit_size = Some(50)),
        Err("gossipsub.max_transmit_size".into())
    );
    assert_eq!(
        key(&|e| e.gossipsub.mesh_outbound_min = Some(4)),
        Err("gossipsub.mesh_outbound_min".into())
    );
    // The default D_out (2) in a mesh of 3 is named too.
    assert_eq!(
        key(&|e| {
            e.gossipsub.mesh_n = Some(3);
            e.gossipsub.mesh_n_low = Some(2);
        }),
        Err("gossipsub.mesh_outbound_min".into())
    );
    // The crate's own errors, named by key instead of "(combination)".
    assert_eq!(
        key(&|e| e.gossipsub.history_gossip = Some(9)),
        Err("gossipsub.history_gossip".into())
    );
    assert_eq!(
        key(&|e| e.gossipsub.unsubscribe_backoff_ms = Some(0)),
        Err("gossipsub.unsubscribe_backoff_ms".into())
    );
    // Messages that can never be published.
    assert_eq!(
        key(&|e| e.workload.message_bytes = 100_000),
        Err("workload.message_bytes".into())
    );
    assert_eq!(
        key(&|e| {
            e.workload.message_bytes = 100_000;
            e.gossipsub.max_transmit_size = Some(200_000);
        }),
        Ok(())
    );
    // Hub and spoke without classes; a hub class that does not exist; a
    // network nobody can dial into.
    assert_eq!(
        key(&|e| e.topology.kind = TopologyKind::HubAndSpoke),
        Err("topology.kind".into())
    );
    let mut c = crate::spec::ClassSpec::new(
        "browser",
        Experiment::default().peers,
        crate::spec::PeerBehaviourKind::default(),
    );
    assert_eq!(
        key(&|e| {
            e.topology.kind = TopologyKind::HubAndSpoke;
            e.topology.hub_class = Some("server".into());
            e.classes = vec![c.clone()];
        }),
        Err("topology.hub_class".into())
    );
    c.accepts_inbound = false;
    assert_eq!(
        key(&|e| e.classes = vec![c.clone()]),
        Err("class[].accepts_inbound".into())
    );
    // A hub class without peers; regions that other settings contradict.
    let mut server =
        crate::spec::ClassSpec::new("server", 0, crate::spec::PeerBehaviourKind::default());
    server.count = Some(0);
    let mut rest = c.clone();
    rest.accepts_inbound = true;
    assert_eq!(
        key(&|e| {
            e.topology.kind = TopologyKind::HubAndSpoke;
            e.topology.hub_class = Some("server".into());
            e.classes = vec![server.clone(), rest.clone()];
        }),
        Err("topology.hub_class".into())
    );
    let regions = |e: &mut Experiment| {
        e.network.regions = Some(crate::spec::RegionsSpec {
            model: "custom".into(),
            names: vec!["a".into(), "b".into()],
            weights: vec![1.0, 1.0],
            latency_ms: vec![vec![5.0, 100.0], vec![100.0, 5.0]],
        })
    };
    assert_eq!(key(&|e| regions(e)), Ok(()));
    assert_eq!(
        key(&|e| {
            regions(e);
            e.network.latency = LatencyModel::Constant { ms: 300.0 };
        }),
        Err("network.latency".into())
    );
    let regions_with = |f: &dyn Fn(&mut crate::spec::RegionsSpec)| {
        key(&|e| {
            regions(e);
            f(e.network.regions.as_mut().unwrap());
        })
    };
    assert_eq!(
        regions_with(&|r| r.latency_ms[1][0] = 300.0),
        Err("network.regions.latency_ms[0][1]".into())
    );
    assert_eq!(
        regions_with(&|r| r.names[1] = "a".into()),
        Err("network.regions.names[1]".into())
    );
    assert_eq!(
        regions_with(&|r| r.model = "builtin".into()),
        Err("network.regions.names".into())
    );
    // A class that signs in an unsigned network; churn after the end.
    assert_eq!(
        key(&|e| {
            let mut signed = rest.clone();
            signed.gossipsub = Some(GossipsubSpec {
                signing: Some(Signing::None),
                ..GossipsubSpec::default()
            });
            e.classes = vec![signed];
        }),
        Err("class[0].gossipsub.signing".into())
    );
    assert_eq!(
        key(&|e| {
            e.churn.share = 0.3;
            e.churn.session = Some(crate::spec::DurationDist::Constant { s: 5.0 });
            e.churn.offline = Some(crate::spec::DurationDist::Constant { s: 5.0 });
            e.churn.start_s = e.duration_s;
        }),
        Err("churn.start_s".into())
    );
    // History sync keeps one log: one topic, everyone subscribed.
    assert_eq!(
        key(&|e| {
            e.history.enabled = true;
            e.workload.topics = 2;
        }),
        Err("workload.topics".into())
    );
    // One peer: the default random regular graph cannot be built.
    assert_eq!(key(&|e| e.peers = 1), Err("topology.kind".into()));
    assert_eq!(
        key(&|e| {
            e.peers = 1;
            e.topology.kind = TopologyKind::Chain;
        }),
        Ok(())
    );
}

#[test]
fn history_and_timeline_are_checked() {
    let parse = |t: &str| toml::from_str::<Experiment>(t);
    let e = parse(
        "peers = 10\nduration_s = 30.0\n[history]\nenabled = true\n\
         [[timeline]]\naction = \"offline\"\nat_s = 5.0\nduration_s = 5.0\npeers = [1, 2]\n\
         [[timeline]]\naction = \"partition\"\nat_s = 12.0\nduration_s = 5.0\n",
    )
    .unwrap();
    e.validate().unwrap();
    assert!(parse("[history]\nenable = true\n").is_err(), "unknown key");
    assert!(parse("[[timeline]]\naction = \"offline\"\nat_s = 1.0\nwhen = 2\n").is_err());
    let bad = |f: &dyn Fn(&mut Experiment), key: &str| {
        let mut x = e.clone();
        f(&mut x);
        assert_eq!(x.validate().unwrap_err().key, key);
    };
    bad(
        &|x| x.history.sync_timeout_ms = 0,
        "history.sync_timeout_ms",
    );
    bad(
        &|x| x.history.max_keys_per_request = 5000,
        "history.max_keys_per_request",
    );
    bad(
        &|x| x.history.anti_entropy_interval_ms = 1,
        "history.anti_entropy_interval_ms",
    );
    bad(
        &|x| {
            if let TimelineEvent::Offline { peers, .. } = &mut x.timeline[0] {
                peers.push(10);
            }
        },
        "timeline[0].peers[2]",
    );
    bad(
        &|x| {
            if let TimelineEvent::Offline { at_s, .. } = &mut x.timeline[0] {
                *at_s = 30.0;
            }
        },
        "timeline[0].at_s",
    );
    bad(
        &|x| {
            if let TimelineEvent::Partition { share, .. } = &mut x.timeline[1] {
                *share = Some(1.0);
            }
        },
        "timeline[1].share",
    );
    // Overlapping offline intervals compose now (models/tests/timeline.rs).
    let mut again = e.clone();
    again.timeline.push(e.timeline[0].clone());
    again.validate().unwrap();
}

#[test]
fn odd_regular_graph_is_rejected() {
    let mut e = Experiment {
        peers: 5,
        ..Experiment::default()
    };
    e.topology.degree = 3;
    assert_eq!(e.validate().unwrap_err().key, "topology.degree");
}

#[test]
fn short_values_are_short_and_keep_their_quotes_balanced() {
    assert_eq!(
        super::short_value(&format!("1{}", "0".repeat(300))),
        "1e300"
    );
    assert_eq!(super::short_value("12"), "12");
    let s = format!("\"{}\"", "y".repeat(300));
    let short = super::short_value(&s);
    assert_eq!(short, format!("\"{}...\" (302 characters)", "y".repeat(49)));
    let t = format!("{{ a = \"b\", c = {} }}", "1".repeat(200));
    assert!(super::short_value(&t).ends_with(&format!("... ({} characters)", t.len())));
}

#[test]
fn what_partial_messages_do_not_carry_is_refused() {
    let key = |f: &dyn Fn(&mut Experiment)| {
        let mut e = Experiment::default();
        e.workload.partial = Some(PartialSpec::default());
        f(&mut e);
        e.validate().map(|_| ()).map_err(|x| x.key)
    };
    assert_eq!(key(&|_| ()), Ok(()));
    assert_eq!(key(&|e| e.probes.count = 4), Err("probes.count".into()));
    assert_eq!(
        key(&|e| e.history.enabled = true),
        Err("history.enabled".into())
    );
    let spammer = ClassSpec::new("s", 10, PeerBehaviourKind::InvalidSpammer);
    assert_eq!(
        key(&|e| e.classes = vec![spammer.clone()]),
        Err("class[0].behaviour".into())
    );
    let mut slow = ClassSpec::new("slow", 10, PeerBehaviourKind::Honest);
    slow.validation_delay_ms = 50.0;
    assert_eq!(
        key(&|e| e.classes = vec![slow.clone()]),
        Err("class[0].validation_delay_ms".into())
    );
    // Off: the full-message baseline takes everything, and parts are not checked.
    assert_eq!(
        key(&|e| {
            e.probes.count = 4;
            e.workload.partial.as_mut().unwrap().enabled = false;
            e.workload.partial.as_mut().unwrap().parts = 1000;
        }),
        Ok(())
    );
    // Parts that do not divide the message, and a part count past 256.
    assert_eq!(
        key(&|e| e.workload.partial.as_mut().unwrap().parts = 3),
        Err("workload.partial.parts".into())
    );
    assert_eq!(
        key(&|e| e.workload.partial.as_mut().unwrap().parts = 512),
        Err("workload.partial.parts".into())
    );
}

/// Found by the long fuzz run: class counts that wrap around u32 summed to
/// less than `peers` and passed, then aborted the run allocating the class.
#[test]
fn class_counts_near_u32_max_do_not_wrap() {
    let mut e = Experiment {
        peers: 60,
        ..Experiment::default()
    };
    let mut honest = ClassSpec::new("honest", 51, PeerBehaviourKind::Honest);
    honest.share = None;
    let mut huge = ClassSpec::new("huge", u32::MAX, PeerBehaviourKind::Honest);
    huge.share = None;
    let mut five = ClassSpec::new("five", 5, PeerBehaviourKind::Honest);
    five.share = None;
    e.classes = vec![honest, five, huge];
    let x = e.validate().unwrap_err();
    assert_eq!(x.key, "class");
    assert!(x.value.contains("4294967351"), "{x:?}");
}
