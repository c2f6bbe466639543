//! Peer scoring (`[scoring]`): GossipSub v1.1 score thresholds, global
//! weights and decays, and per-topic P1-P4 parameters, mapped onto the
//! crate's own `PeerScoreParams`, `PeerScoreThresholds` and
//! `TopicScoreParams` and switched on with `Behaviour::with_peer_score`.
//!
//! ```toml
//! [scoring]
//! preset = "default"          # none | default | ethereum | off
//! graylist_threshold = -100.0 # any field overrides the preset
//! [scoring.topic]             # applies to every workload topic
//! mesh_message_deliveries_weight = 0.0
//! ```
//!
//! Presets:
//!
//! - `none` (the default): scoring is not activated at all (GossipSub without
//!   `with_peer_score`, as in every run before scoring existed). Setting any
//!   other key needs a preset.
//! - `default`: the rust-libp2p defaults (`PeerScoreParams::default()`,
//!   `PeerScoreThresholds::default()`, `TopicScoreParams::default()` for each
//!   topic) of libp2p-gossipsub 0.50.1.
//! - `ethereum`: Lighthouse's GossipSub scoring for Ethereum mainnet
//!   (sigp/lighthouse,
//!   `beacon_node/lighthouse_network/src/service/gossipsub_scoring_parameters.rs`:
//!   `lighthouse_gossip_thresholds`, `PeerScoreSettings::get_peer_score_params`
//!   and the beacon-block topic of `get_dynamic_topic_params`), evaluated for
//!   12 s slots, 32-slot epochs, 64 attestation subnets and mesh_n 8.
//!   Thresholds gossip -4000, publish -8000, graylist -16000, accept PX 100,
//!   opportunistic graft 5 (also Prysm's and Lodestar's); decay interval 12 s,
//!   decay to zero 0.01, retain score 100 epochs (38,400 s); behaviour
//!   penalty threshold 6, decay 0.01^(1/320) = 0.98571, weight -15.879; topic
//!   score cap 53.75 and IP colocation weight -53.75 with threshold 8; slow
//!   peer weight -10, threshold 0, decay 0.1. Every workload topic gets the
//!   beacon-block topic's parameters (weight 0.5; P1 quantum one slot, cap
//!   300, weight 1/30; P2 decay over 20 epochs, cap 34.87, weight 1.147; P3
//!   on: threshold 0.685, cap 2.055, weight -0.5, window 2 s, activation one
//!   epoch, decay over 160 slots; P3b weight -0.5; P4 weight -215, decay over
//!   50 epochs). Formulas are in `ethereum_params` / `ethereum_topic`.
//! - `off`: the field report's "scoring effectively off" workaround:
//!   every threshold at -999,999,999 (accept PX and opportunistic graft at
//!   0), behaviour penalty weight -1, retain score 10 s, otherwise the
//!   crate defaults.

mod errors;
mod ethereum;

use super::SpecError;
use errors::{global_value, key_in_message, topic_value, GLOBAL_KEYS, TOPIC_KEYS};
use ethereum::{ethereum_params, ethereum_topic, ETH_GOSSIP_THRESHOLD};
use libp2p_gossipsub::{PeerScoreParams, PeerScoreThresholds, TopicHash, TopicScoreParams};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Named starting points for `[scoring]`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScoringPreset {
    /// Scoring not activated.
    #[default]
    None,
    /// The rust-libp2p defaults.
    Default,
    /// Ethereum-consensus-client-like profile.
    Ethereum,
    /// The field report's "effectively off" profile.
    Off,
}

/// Per-topic score parameters (P1-P4); absent keys come from the preset.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TopicScoringSpec {
    /// Weight of the topic in the score.
    pub topic_weight: Option<f64>,
    /// P1 weight (>= 0).
    pub time_in_mesh_weight: Option<f64>,
    /// P1 quantum, ms (> 0).
    pub time_in_mesh_quantum_ms: Option<u64>,
    /// P1 cap.
    pub time_in_mesh_cap: Option<f64>,
    /// P2 weight (>= 0).
    pub first_message_deliveries_weight: Option<f64>,
    /// P2 decay per decay interval (0-1).
    pub first_message_deliveries_decay: Option<f64>,
    /// P2 cap.
    pub first_message_deliveries_cap: Option<f64>,
    /// P3 weight (<= 0; 0 disables P3).
    pub mesh_message_deliveries_weight: Option<f64>,
    /// P3 decay (0-1).
    pub mesh_message_deliveries_decay: Option<f64>,
    /// P3 cap.
    pub mesh_message_deliveries_cap: Option<f64>,
    /// P3 threshold: fewer deliveries than this are penalised (squared deficit).
    pub mesh_message_deliveries_threshold: Option<f64>,
    /// P3 window for near-first deliveries, ms.
    pub mesh_message_deliveries_window_ms: Option<u64>,
    /// P3 activation: time in the mesh before the penalty applies, ms (>= 1000).
    pub mesh_message_deliveries_activation_ms: Option<u64>,
    /// P3b weight (<= 0).
    pub mesh_failure_penalty_weight: Option<f64>,
    /// P3b decay (0-1).
    pub mesh_failure_penalty_decay: Option<f64>,
    /// P4 weight (<= 0).
    pub invalid_message_deliveries_weight: Option<f64>,
    /// P4 decay (0-1).
    pub invalid_message_deliveries_decay: Option<f64>,
}

/// The `[scoring]` section; absent keys come from the preset.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScoringSpec {
    /// `none` (default: scoring off), `default`, `ethereum` or `off`.
    #[serde(default)]
    pub preset: ScoringPreset,
    /// Below it, no gossip to or from the peer (<= 0).
    pub gossip_threshold: Option<f64>,
    /// Below it, no flood publishing to the peer (<= gossip_threshold).
    pub publish_threshold: Option<f64>,
    /// Below it, the peer's RPCs are ignored (<= publish_threshold).
    pub graylist_threshold: Option<f64>,
    /// PX is accepted only from peers above it (>= 0).
    pub accept_px_threshold: Option<f64>,
    /// Median mesh score below which opportunistic grafting starts (>= 0).
    pub opportunistic_graft_threshold: Option<f64>,
    /// Cap on the positive topic contribution (>= 0; 0 = no cap).
    pub topic_score_cap: Option<f64>,
    /// P5 weight.
    pub app_specific_weight: Option<f64>,
    /// P6 weight (<= 0).
    pub ip_colocation_factor_weight: Option<f64>,
    /// P6 threshold: peers on one IP beyond it are penalised (>= 1).
    pub ip_colocation_factor_threshold: Option<f64>,
    /// P7 weight (<= 0).
    pub behaviour_penalty_weight: Option<f64>,
    /// P7 threshold (>= 0).
    pub behaviour_penalty_threshold: Option<f64>,
    /// P7 decay (0-1).
    pub behaviour_penalty_decay: Option<f64>,
    /// Slow-peer penalty weight.
    pub slow_peer_weight: Option<f64>,
    /// Slow-peer penalty threshold.
    pub slow_peer_threshold: Option<f64>,
    /// Slow-peer penalty decay.
    pub slow_peer_decay: Option<f64>,
    /// Decay interval, ms (>= 1000).
    pub decay_interval_ms: Option<u64>,
    /// Counters below it count as 0 (0-1).
    pub decay_to_zero: Option<f64>,
    /// How long a disconnected peer's score is kept, ms.
    pub retain_score_ms: Option<u64>,
    /// Per-topic parameters, applied to every workload topic.
    #[serde(default)]
    pub topic: TopicScoringSpec,
}

/// Everything `with_peer_score` and `set_topic_params` need.
#[derive(Clone, Debug)]
pub struct ScoreConfig {
    /// Global parameters, topics included.
    pub params: PeerScoreParams,
    /// Thresholds.
    pub thresholds: PeerScoreThresholds,
}

fn e(key: &str, value: impl std::fmt::Display, allowed: impl Into<String>) -> SpecError {
    SpecError {
        key: key.to_string(),
        value: value.to_string(),
        allowed: allowed.into(),
    }
}

// Source for every value below: Lighthouse (sigp/lighthouse, commit
// 2e0eb6d1b8705bbda2ba56eb195d9cc7c6575e95),
// `beacon_node/lighthouse_network/src/service/gossipsub_scoring_parameters.rs`,
// evaluated for mainnet: SECONDS_PER_SLOT 12, SLOTS_PER_EPOCH 32,
// ATTESTATION_SUBNET_COUNT 64, mesh_n (gossipsub D) 8, a chain past its first
// 160 slots. Constants and formulas are restated here so each value can be
// traced; Teku's `GossipScoringConfiguratorTest` (as mirrored by Lodestar's
// `scoringParameters.test.ts`) expects the same beacon-block P1/P2 values and
// P3 threshold, cap, decay and activation, but a P3/P3b weight of -468.97, a
// 12 s P3 window and a P4 weight of -220; Prysm
// (`beacon-chain/p2p/gossip_scoring_params.go`) uses other values (block
// topic weight 0.8, P2 cap 23, P3 off) and is not followed here.

impl ScoringSpec {
    /// This section with every key that `over` sets replaced by `over`'s
    /// value (`topic` key by key; `over`'s preset only when it names one).
    pub fn merged(&self, over: &ScoringSpec) -> ScoringSpec {
        let to_table = |s: &ScoringSpec| match toml::Value::try_from(s) {
            Ok(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        };
        let mut base = to_table(self);
        let mut over_t = to_table(over);
        if over.preset == ScoringPreset::None {
            over_t.remove("preset");
        }
        for (k, v) in over_t {
            match (base.get_mut(&k), v) {
                (Some(toml::Value::Table(b)), toml::Value::Table(o)) => {
                    for (k2, v2) in o {
                        b.insert(k2, v2);
                    }
                }
                (_, v) => {
                    base.insert(k, v);
                }
            }
        }
        toml::Value::Table(base)
            .try_into()
            .unwrap_or_else(|_| self.clone())
    }

    /// Whether scoring is activated.
    pub fn enabled(&self) -> bool {
        self.preset != ScoringPreset::None
    }

    /// The crate's parameters for `topics` (every workload topic gets the same
    /// topic parameters); `None` when scoring is off. Not validated: see
    /// [`ScoringSpec::validate`].
    pub fn build(&self, topics: &[TopicHash]) -> Option<ScoreConfig> {
        let (mut p, mut t, mut tp) = match self.preset {
            ScoringPreset::None => return None,
            ScoringPreset::Default => (
                PeerScoreParams::default(),
                PeerScoreThresholds::default(),
                TopicScoreParams::default(),
            ),
            ScoringPreset::Ethereum => (
                ethereum_params(),
                // Lighthouse's `lighthouse_gossip_thresholds()` (same file as
                // `ethereum_params`; `GREYLIST_THRESHOLD` is -16000).
                PeerScoreThresholds {
                    gossip_threshold: ETH_GOSSIP_THRESHOLD,
                    publish_threshold: -8000.0,
                    graylist_threshold: -16000.0,
                    accept_px_threshold: 100.0,
                    opportunistic_graft_threshold: 5.0,
                },
                ethereum_topic(),
            ),
            ScoringPreset::Off => (
                PeerScoreParams {
                    behaviour_penalty_weight: -1.0,
                    retain_score: Duration::from_secs(10),
                    ..PeerScoreParams::default()
                },
                PeerScoreThresholds {
                    gossip_threshold: -999_999_999.0,
                    publish_threshold: -999_999_999.0,
                    graylist_threshold: -999_999_999.0,
                    accept_px_threshold: 0.0,
                    opportunistic_graft_threshold: 0.0,
                },
                TopicScoreParams::default(),
            ),
        };
        let ms = Duration::from_millis;
        macro_rules! set {
            ($dst:expr, $src:expr) => {
                if let Some(v) = $src {
                    $dst = v;
                }
            };
            ($dst:expr, $src:expr, ms) => {
                if let Some(v) = $src {
                    $dst = ms(v);
                }
            };
        }
        set!(t.gossip_threshold, self.gossip_threshold);
        set!(t.publish_threshold, self.publish_threshold);
        set!(t.graylist_threshold, self.graylist_threshold);
        set!(t.accept_px_threshold, self.accept_px_threshold);
        set!(
            t.opportunistic_graft_threshold,
            self.opportunistic_graft_threshold
        );
        set!(p.topic_score_cap, self.topic_score_cap);
        set!(p.app_specific_weight, self.app_specific_weight);
        set!(
            p.ip_colocation_factor_weight,
            self.ip_colocation_factor_weight
        );
        set!(
            p.ip_colocation_factor_threshold,
            self.ip_colocation_factor_threshold
        );
        set!(p.behaviour_penalty_weight, self.behaviour_penalty_weight);
        set!(
            p.behaviour_penalty_threshold,
            self.behaviour_penalty_threshold
        );
        set!(p.behaviour_penalty_decay, self.behaviour_penalty_decay);
        set!(p.slow_peer_weight, self.slow_peer_weight);
        set!(p.slow_peer_threshold, self.slow_peer_threshold);
        set!(p.slow_peer_decay, self.slow_peer_decay);
        set!(p.decay_interval, self.decay_interval_ms, ms);
        set!(p.decay_to_zero, self.decay_to_zero);
        set!(p.retain_score, self.retain_score_ms, ms);
        let o = &self.topic;
        set!(tp.topic_weight, o.topic_weight);
        set!(tp.time_in_mesh_weight, o.time_in_mesh_weight);
        set!(tp.time_in_mesh_quantum, o.time_in_mesh_quantum_ms, ms);
        set!(tp.time_in_mesh_cap, o.time_in_mesh_cap);
        set!(
            tp.first_message_deliveries_weight,
            o.first_message_deliveries_weight
        );
        set!(
            tp.first_message_deliveries_decay,
            o.first_message_deliveries_decay
        );
        set!(
            tp.first_message_deliveries_cap,
            o.first_message_deliveries_cap
        );
        set!(
            tp.mesh_message_deliveries_weight,
            o.mesh_message_deliveries_weight
        );
        set!(
            tp.mesh_message_deliveries_decay,
            o.mesh_message_deliveries_decay
        );
        set!(
            tp.mesh_message_deliveries_cap,
            o.mesh_message_deliveries_cap
        );
        set!(
            tp.mesh_message_deliveries_threshold,
            o.mesh_message_deliveries_threshold
        );
        set!(
            tp.mesh_message_deliveries_window,
            o.mesh_message_deliveries_window_ms,
            ms
        );
        set!(
            tp.mesh_message_deliveries_activation,
            o.mesh_message_deliveries_activation_ms,
            ms
        );
        set!(
            tp.mesh_failure_penalty_weight,
            o.mesh_failure_penalty_weight
        );
        set!(tp.mesh_failure_penalty_decay, o.mesh_failure_penalty_decay);
        set!(
            tp.invalid_message_deliveries_weight,
            o.invalid_message_deliveries_weight
        );
        set!(
            tp.invalid_message_deliveries_decay,
            o.invalid_message_deliveries_decay
        );
        for h in topics {
            p.topics.insert(h.clone(), tp.clone());
        }
        Some(ScoreConfig {
            params: p,
            thresholds: t,
        })
    }

    /// Checks the section with the crate's own `validate()` functions (and
    /// finiteness), naming the key: `prefix` is `scoring` or
    /// `class[i].scoring`.
    pub fn validate(&self, prefix: &str) -> Result<(), SpecError> {
        let k = |f: &str| format!("{prefix}.{f}");
        if !self.enabled() {
            if *self != ScoringSpec::default() {
                return Err(e(
                    &k("preset"),
                    "\"none\"",
                    "\"default\", \"ethereum\" or \"off\" when other scoring keys are set (preset none means scoring is not activated)",
                ));
            }
            return Ok(());
        }
        // Every float must be finite.
        let floats = [
            ("gossip_threshold", self.gossip_threshold),
            ("publish_threshold", self.publish_threshold),
            ("graylist_threshold", self.graylist_threshold),
            ("accept_px_threshold", self.accept_px_threshold),
            (
                "opportunistic_graft_threshold",
                self.opportunistic_graft_threshold,
            ),
            ("topic_score_cap", self.topic_score_cap),
            ("app_specific_weight", self.app_specific_weight),
            (
                "ip_colocation_factor_weight",
                self.ip_colocation_factor_weight,
            ),
            (
                "ip_colocation_factor_threshold",
                self.ip_colocation_factor_threshold,
            ),
            ("behaviour_penalty_weight", self.behaviour_penalty_weight),
            (
                "behaviour_penalty_threshold",
                self.behaviour_penalty_threshold,
            ),
            ("behaviour_penalty_decay", self.behaviour_penalty_decay),
            ("slow_peer_weight", self.slow_peer_weight),
            ("slow_peer_threshold", self.slow_peer_threshold),
            ("slow_peer_decay", self.slow_peer_decay),
            ("decay_to_zero", self.decay_to_zero),
            ("topic.topic_weight", self.topic.topic_weight),
            ("topic.time_in_mesh_weight", self.topic.time_in_mesh_weight),
            ("topic.time_in_mesh_cap", self.topic.time_in_mesh_cap),
            (
                "topic.first_message_deliveries_weight",
                self.topic.first_message_deliveries_weight,
            ),
            (
                "topic.first_message_deliveries_decay",
                self.topic.first_message_deliveries_decay,
            ),
            (
                "topic.first_message_deliveries_cap",
                self.topic.first_message_deliveries_cap,
            ),
            (
                "topic.mesh_message_deliveries_weight",
                self.topic.mesh_message_deliveries_weight,
            ),
            (
                "topic.mesh_message_deliveries_decay",
                self.topic.mesh_message_deliveries_decay,
            ),
            (
                "topic.mesh_message_deliveries_cap",
                self.topic.mesh_message_deliveries_cap,
            ),
            (
                "topic.mesh_message_deliveries_threshold",
                self.topic.mesh_message_deliveries_threshold,
            ),
            (
                "topic.mesh_failure_penalty_weight",
                self.topic.mesh_failure_penalty_weight,
            ),
            (
                "topic.mesh_failure_penalty_decay",
                self.topic.mesh_failure_penalty_decay,
            ),
            (
                "topic.invalid_message_deliveries_weight",
                self.topic.invalid_message_deliveries_weight,
            ),
            (
                "topic.invalid_message_deliveries_decay",
                self.topic.invalid_message_deliveries_decay,
            ),
        ];
        for (f, v) in floats {
            if let Some(v) = v {
                if !v.is_finite() {
                    return Err(e(&k(f), v, "a finite number"));
                }
            }
        }
        if self.topic.time_in_mesh_quantum_ms == Some(0) {
            return Err(e(
                &k("topic.time_in_mesh_quantum_ms"),
                0,
                "a positive number of milliseconds",
            ));
        }
        let cfg = self
            .build(&[TopicHash::from_raw("t")])
            .expect("scoring enabled");
        // The crate's checks, mapped to the key they concern.
        cfg.thresholds.validate().map_err(|m| {
            let lower = m.to_ascii_lowercase();
            let key = if lower.starts_with("invalid gossip") {
                "gossip_threshold"
            } else if lower.starts_with("invalid publish") {
                "publish_threshold"
            } else if lower.starts_with("invalid graylist") {
                "graylist_threshold"
            } else if lower.starts_with("invalid accept px") {
                "accept_px_threshold"
            } else {
                "opportunistic_graft_threshold"
            };
            let t = &cfg.thresholds;
            let value = match key {
                "gossip_threshold" => t.gossip_threshold,
                "publish_threshold" => t.publish_threshold,
                "graylist_threshold" => t.graylist_threshold,
                "accept_px_threshold" => t.accept_px_threshold,
                _ => t.opportunistic_graft_threshold,
            };
            e(
                &k(key),
                value,
                format!(
                    "libp2p-gossipsub: {m} (gossip {}, publish {}, graylist {})",
                    t.gossip_threshold, t.publish_threshold, t.graylist_threshold
                ),
            )
        })?;
        let tp = cfg.params.topics.values().next().expect("one topic");
        tp.validate().map_err(|m| {
            let key = key_in_message(m, TOPIC_KEYS).unwrap_or("topic_weight");
            e(
                &k(&format!("topic.{key}")),
                topic_value(tp, key),
                format!("libp2p-gossipsub: {m}"),
            )
        })?;
        let mut global = cfg.params.clone();
        global.topics.clear();
        global.validate().map_err(|m| {
            let key = key_in_message(&m, GLOBAL_KEYS).unwrap_or("preset");
            e(
                &k(key),
                global_value(&global, key),
                format!("libp2p-gossipsub: {m}"),
            )
        })?;
        // P8 (slow peers), which the crate does not check: a penalty that
        // decays, counted above a threshold.
        let g = &cfg.params;
        if g.slow_peer_weight > 0.0 {
            return Err(e(
                &k("slow_peer_weight"),
                g.slow_peer_weight,
                "a penalty: a number <= 0 (0 turns it off)",
            ));
        }
        if !(g.slow_peer_decay > 0.0 && g.slow_peer_decay < 1.0) {
            return Err(e(
                &k("slow_peer_decay"),
                g.slow_peer_decay,
                "a decay factor between 0 and 1 (exclusive)",
            ));
        }
        if g.slow_peer_threshold < 0.0 {
            return Err(e(
                &k("slow_peer_threshold"),
                g.slow_peer_threshold,
                "a count >= 0 (the penalty applies above it)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
