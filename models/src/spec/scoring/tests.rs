//! Tests of `scoring`.

use super::*;

#[test]
fn presets_are_valid_and_map_their_values() {
    for p in [
        ScoringPreset::Default,
        ScoringPreset::Ethereum,
        ScoringPreset::Off,
    ] {
        let s = ScoringSpec {
            preset: p,
            ..ScoringSpec::default()
        };
        s.validate("scoring").unwrap();
    }
    let eth = ScoringSpec {
        preset: ScoringPreset::Ethereum,
        ..ScoringSpec::default()
    }
    .build(&[])
    .unwrap();
    assert_eq!(eth.thresholds.graylist_threshold, -16000.0);
    assert_eq!(eth.params.decay_interval, Duration::from_secs(12));
    let off = ScoringSpec {
        preset: ScoringPreset::Off,
        retain_score_ms: Some(2000),
        ..ScoringSpec::default()
    }
    .build(&[])
    .unwrap();
    assert_eq!(off.thresholds.gossip_threshold, -999_999_999.0);
    assert_eq!(off.params.behaviour_penalty_weight, -1.0);
    assert_eq!(off.params.retain_score, Duration::from_secs(2));
    assert!(ScoringSpec::default().build(&[]).is_none());
}

#[test]
fn class_overrides_merge_key_by_key() {
    let mut global = ScoringSpec {
        preset: ScoringPreset::Ethereum,
        gossip_threshold: Some(-100.0),
        ..ScoringSpec::default()
    };
    global.topic.topic_weight = Some(2.0);
    let mut over = ScoringSpec {
        graylist_threshold: Some(-300.0),
        ..ScoringSpec::default()
    };
    over.topic.time_in_mesh_weight = Some(0.0);
    let m = global.merged(&over);
    assert_eq!(m.preset, ScoringPreset::Ethereum, "preset kept");
    assert_eq!(m.gossip_threshold, Some(-100.0));
    assert_eq!(m.graylist_threshold, Some(-300.0));
    assert_eq!(m.topic.topic_weight, Some(2.0));
    assert_eq!(m.topic.time_in_mesh_weight, Some(0.0));
    let off = global.merged(&ScoringSpec {
        preset: ScoringPreset::Off,
        ..ScoringSpec::default()
    });
    assert_eq!(off.preset, ScoringPreset::Off);
}

#[test]
fn slow_peer_penalty_is_checked_and_errors_show_the_value_in_force() {
    let with = |f: &dyn Fn(&mut ScoringSpec)| {
        let mut s = ScoringSpec {
            preset: ScoringPreset::Default,
            ..ScoringSpec::default()
        };
        f(&mut s);
        s.validate("scoring").map_err(|x| (x.key, x.value))
    };
    assert_eq!(with(&|_| ()), Ok(()));
    assert_eq!(
        with(&|s| s.slow_peer_weight = Some(2.0)),
        Err(("scoring.slow_peer_weight".into(), "2".into()))
    );
    assert_eq!(
        with(&|s| s.slow_peer_decay = Some(2.0)),
        Err(("scoring.slow_peer_decay".into(), "2".into()))
    );
    assert_eq!(
        with(&|s| s.slow_peer_threshold = Some(-5.0)),
        Err(("scoring.slow_peer_threshold".into(), "-5".into()))
    );
    // A value the crate rejects is shown, not "(with the preset's values)".
    assert_eq!(
        with(&|s| s.behaviour_penalty_weight = Some(5.0)),
        Err(("scoring.behaviour_penalty_weight".into(), "5".into()))
    );
    assert_eq!(
        with(&|s| s.topic.time_in_mesh_weight = Some(-1.0)),
        Err(("scoring.topic.time_in_mesh_weight".into(), "-1".into()))
    );
}

#[test]
fn inconsistent_scoring_names_the_key() {
    let s = ScoringSpec {
        preset: ScoringPreset::Default,
        graylist_threshold: Some(-20.0),
        ..ScoringSpec::default()
    };
    let x = s.validate("scoring").unwrap_err();
    assert_eq!(x.key, "scoring.graylist_threshold");
    assert!(x.allowed.contains("publish threshold"), "{x}");
    let mut s = ScoringSpec {
        preset: ScoringPreset::Default,
        ..ScoringSpec::default()
    };
    s.topic.mesh_message_deliveries_weight = Some(2.0);
    assert_eq!(
        s.validate("scoring").unwrap_err().key,
        "scoring.topic.mesh_message_deliveries_weight"
    );
    let s = ScoringSpec {
        preset: ScoringPreset::Default,
        ip_colocation_factor_weight: Some(1.0),
        ..ScoringSpec::default()
    };
    assert_eq!(
        s.validate("scoring").unwrap_err().key,
        "scoring.ip_colocation_factor_weight"
    );
    let s = ScoringSpec {
        decay_interval_ms: Some(500),
        ..ScoringSpec::default()
    };
    assert_eq!(s.validate("scoring").unwrap_err().key, "scoring.preset");
    let s = ScoringSpec {
        preset: ScoringPreset::Off,
        decay_interval_ms: Some(500),
        ..ScoringSpec::default()
    };
    assert_eq!(
        s.validate("scoring").unwrap_err().key,
        "scoring.decay_interval_ms"
    );
}
