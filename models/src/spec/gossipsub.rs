//! `[gossipsub]`: the GossipSub knobs, their checks, and their mapping
//! onto `libp2p_gossipsub::ConfigBuilder`.

use super::{err, SpecError};
use libp2p_gossipsub as gossipsub;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Message signing.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Signing {
    /// Signed with the peer's ed25519 key (deterministic from the seed).
    Ed25519,
    /// Unsigned (anonymous), with a content-based message id.
    None,
}

/// GossipSub validation mode.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ValidationModeSpec {
    /// Signature, author and sequence number required.
    Strict,
    /// Checked when present.
    Permissive,
    /// Signature, author and sequence number must be absent.
    Anonymous,
    /// No checks.
    None,
}

/// GossipSub knobs; absent ones take the `libp2p-gossipsub` defaults.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GossipsubSpec {
    /// Signing (default `ed25519`).
    pub signing: Option<Signing>,
    /// Validation mode (default `strict` when signed, `anonymous` when not).
    pub validation_mode: Option<ValidationModeSpec>,
    /// D: target mesh degree (crate default 6).
    pub mesh_n: Option<usize>,
    /// D_lo (crate default 5).
    pub mesh_n_low: Option<usize>,
    /// D_hi (crate default 12).
    pub mesh_n_high: Option<usize>,
    /// D_out (crate default 2).
    pub mesh_outbound_min: Option<usize>,
    /// D_score: peers kept by score when pruning (crate default 4).
    pub retain_scores: Option<usize>,
    /// D_lazy: gossip targets per heartbeat (crate default 6).
    pub gossip_lazy: Option<usize>,
    /// Fraction of peers to gossip to (crate default 0.25).
    pub gossip_factor: Option<f64>,
    /// Heartbeat interval, ms (crate default 1000).
    pub heartbeat_interval_ms: Option<u64>,
    /// Delay before the first heartbeat, ms (crate default 5000).
    pub heartbeat_initial_delay_ms: Option<u64>,
    /// Heartbeats of messages kept in the cache (crate default 5).
    pub history_length: Option<usize>,
    /// Heartbeats of messages gossiped about (crate default 3).
    pub history_gossip: Option<usize>,
    /// Fanout time to live, ms (crate default 60000).
    pub fanout_ttl_ms: Option<u64>,
    /// Publish to all peers above the publish threshold (crate default true).
    pub flood_publish: Option<bool>,
    /// Backoff after PRUNE, ms (crate default 60000).
    pub prune_backoff_ms: Option<u64>,
    /// Heartbeats between opportunistic grafts (crate default 60).
    pub opportunistic_graft_ticks: Option<u64>,
    /// Peers grafted opportunistically (crate default 2).
    pub opportunistic_graft_peers: Option<usize>,
    /// Messages at least this big trigger IDONTWANT (crate default 1000 bytes).
    pub idontwant_message_size_threshold: Option<usize>,
    /// Send IDONTWANT on publish (crate default false).
    pub idontwant_on_publish: Option<bool>,
    /// Largest RPC, bytes (crate default 65536).
    pub max_transmit_size: Option<usize>,
    /// How long seen message ids are remembered, ms (crate default 60000).
    pub duplicate_cache_time_ms: Option<u64>,
    /// Peer exchange on PRUNE (crate default off).
    pub do_px: Option<bool>,
    /// Peer keys (default `seeded`); `test_plans`: the keys of the libp2p
    /// test-plans `gossipsub-interop` nodes, derived from the peer index.
    pub identity: Option<IdentitySpec>,
    /// Message id function (default: the crate's, or content-based when
    /// unsigned); `first8`: the payload's first 8 bytes (test-plans interop).
    pub message_id: Option<MessageIdSpec>,
    /// Application validation (`validate_messages`): received messages are
    /// forwarded only once the application accepts them; every message is
    /// accepted, after the peer's per-topic validation delay (default off).
    pub validate_messages: Option<bool>,
    /// Precise initial heartbeat delay, nanoseconds (overrides `heartbeat_initial_delay_ms`).
    pub heartbeat_initial_delay_ns: Option<u64>,
    /// IWANT requests for one message before a peer is ignored (crate default 3).
    pub gossip_retransmission: Option<u32>,
    /// Peers sent in a PRUNE's peer exchange (crate default 0).
    pub prune_peers: Option<usize>,
    /// Backoff after unsubscribing, ms (crate default 10000).
    pub unsubscribe_backoff_ms: Option<u64>,
    /// GRAFTs this soon after a PRUNE are penalised, ms (crate default 10000).
    pub graft_flood_threshold_ms: Option<u64>,
    /// IHAVE messages accepted from a peer per heartbeat (crate default 10).
    pub max_ihave_messages: Option<usize>,
    /// Time to wait for a message asked with IWANT, ms (crate default 3000).
    pub iwant_followup_time_ms: Option<u64>,
}

/// Where peer keys come from.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySpec {
    /// Ed25519 keys drawn from the run's seed.
    Seeded,
    /// Ed25519 keys from a 32-byte seed holding the peer index (little-endian,
    /// first 4 bytes), as the libp2p test-plans `gossipsub-interop` nodes.
    TestPlans,
}

/// The message id function.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MessageIdSpec {
    /// The crate's default (author and sequence number), or content-based when unsigned.
    Default,
    /// The payload's first 8 bytes (the test-plans message id).
    First8,
}

impl GossipsubSpec {
    /// This section with every key that `over` sets replaced by `over`'s value.
    pub fn merged(&self, over: &GossipsubSpec) -> GossipsubSpec {
        let to_table = |g: &GossipsubSpec| match toml::Value::try_from(g) {
            Ok(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        };
        let mut base = to_table(self);
        for (k, v) in to_table(over) {
            base.insert(k, v);
        }
        toml::Value::Table(base)
            .try_into()
            .unwrap_or_else(|_| self.clone())
    }

    /// Checks the section (keys named `gossipsub.<key>`).
    pub fn validate(&self) -> Result<(), SpecError> {
        let d = libp2p_gossipsub::Config::default();
        let n = self.mesh_n.unwrap_or(d.mesh_n());
        let lo = self.mesh_n_low.unwrap_or(d.mesh_n_low());
        let hi = self.mesh_n_high.unwrap_or(d.mesh_n_high());
        if n == 0 {
            return Err(err("gossipsub.mesh_n", n, "an integer >= 1"));
        }
        if lo > n {
            return Err(err(
                "gossipsub.mesh_n_low",
                lo,
                format!("at most mesh_n ({n})"),
            ));
        }
        if hi < n {
            return Err(err(
                "gossipsub.mesh_n_high",
                hi,
                format!("at least mesh_n ({n})"),
            ));
        }
        // libp2p-gossipsub 0.50.1 checks these only for per-topic settings.
        let out_min = self.mesh_outbound_min.unwrap_or(d.mesh_outbound_min());
        if out_min > lo || out_min * 2 > n {
            return Err(err(
                "gossipsub.mesh_outbound_min",
                out_min,
                format!(
                    "at most mesh_n_low ({lo}) and at most mesh_n / 2 ({}){}",
                    n / 2,
                    if self.mesh_outbound_min.is_none() {
                        " (this is libp2p-gossipsub's default: set mesh_outbound_min for a mesh this small)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let (hl, hg) = (
            self.history_length.unwrap_or(d.history_length()),
            self.history_gossip.unwrap_or(d.history_gossip()),
        );
        if hg > hl {
            return Err(err(
                "gossipsub.history_gossip",
                hg,
                format!("at most history_length ({hl})"),
            ));
        }
        if self.unsubscribe_backoff_ms == Some(0) {
            return Err(err(
                "gossipsub.unsubscribe_backoff_ms",
                0,
                "a positive number of milliseconds",
            ));
        }
        if let Some(m) = self.max_transmit_size {
            if m < 100 {
                return Err(err(
                    "gossipsub.max_transmit_size",
                    m,
                    "at least 100 bytes (libp2p-gossipsub's minimum)",
                ));
            }
        }
        if let Some(f) = self.gossip_factor {
            if !(f.is_finite() && (0.0..=1.0).contains(&f)) {
                return Err(err("gossipsub.gossip_factor", f, "a number from 0 to 1"));
            }
        }
        if self.heartbeat_interval_ms == Some(0) {
            return Err(err(
                "gossipsub.heartbeat_interval_ms",
                0,
                "a positive number of milliseconds",
            ));
        }
        // Times in ms: at most a day (the crate turns them into Durations
        // and instants; beyond, its arithmetic or allocations break).
        for (key, v) in [
            ("heartbeat_interval_ms", self.heartbeat_interval_ms),
            (
                "heartbeat_initial_delay_ms",
                self.heartbeat_initial_delay_ms,
            ),
            ("fanout_ttl_ms", self.fanout_ttl_ms),
            ("prune_backoff_ms", self.prune_backoff_ms),
            ("duplicate_cache_time_ms", self.duplicate_cache_time_ms),
            ("unsubscribe_backoff_ms", self.unsubscribe_backoff_ms),
            ("graft_flood_threshold_ms", self.graft_flood_threshold_ms),
            ("iwant_followup_time_ms", self.iwant_followup_time_ms),
        ] {
            if let Some(v) = v.filter(|&v| v > super::DAY_MS) {
                return Err(err(
                    &format!("gossipsub.{key}"),
                    v,
                    "a number of milliseconds up to 86400000 (a day)",
                ));
            }
        }
        if let Some(v) = self
            .heartbeat_initial_delay_ns
            .filter(|&v| v > super::DAY_MS * 1_000_000)
        {
            return Err(err(
                "gossipsub.heartbeat_initial_delay_ns",
                v,
                "a number of nanoseconds up to 86400000000000 (a day)",
            ));
        }
        // GossipSub keeps one set per heartbeat of its longest backoff.
        let hb = self
            .heartbeat_interval_ms
            .unwrap_or(d.heartbeat_interval().as_millis() as u64);
        let backoff = self
            .prune_backoff_ms
            .unwrap_or(d.prune_backoff().as_millis() as u64)
            .max(
                self.unsubscribe_backoff_ms
                    .unwrap_or(d.unsubscribe_backoff().as_secs() * 1000),
            );
        let slots = backoff / hb.max(1);
        if slots > MAX_BACKOFF_SLOTS {
            let key = if self.prune_backoff_ms.is_some() {
                "gossipsub.prune_backoff_ms"
            } else {
                "gossipsub.unsubscribe_backoff_ms"
            };
            return Err(err(
                key,
                backoff,
                format!(
                    "at most {MAX_BACKOFF_SLOTS} heartbeats ({} ms with heartbeat_interval_ms = {hb}): \
                     GossipSub keeps a set per heartbeat of its longest backoff",
                    MAX_BACKOFF_SLOTS.saturating_mul(hb)
                ),
            ));
        }
        let signing = self.signing.unwrap_or(Signing::Ed25519);
        if let (Signing::None, Some(m)) = (signing, self.validation_mode) {
            if matches!(m, ValidationModeSpec::Strict) {
                return Err(err(
                    "gossipsub.validation_mode",
                    "\"strict\"",
                    "\"anonymous\", \"permissive\" or \"none\" when signing = \"none\" (strict mode rejects unsigned messages)",
                ));
            }
        }
        if let (Signing::Ed25519, Some(ValidationModeSpec::Anonymous)) =
            (signing, self.validation_mode)
        {
            return Err(err(
                "gossipsub.validation_mode",
                "\"anonymous\"",
                "\"strict\", \"permissive\" or \"none\" when signing = \"ed25519\" (anonymous mode rejects signed messages)",
            ));
        }
        // Everything else: the crate's own checks.
        self.to_config(false).map(|_| ()).map_err(|e| {
            err(
                "gossipsub",
                "(combination)",
                format!("libp2p-gossipsub rejects this configuration: {e}"),
            )
        })
    }
}

/// The most heartbeats a backoff may span (GossipSub allocates a set per
/// heartbeat of its longest backoff: 100,000 of them are 4.8 MB per peer).
pub const MAX_BACKOFF_SLOTS: u64 = 100_000;

/// Sets each builder option whose key the section sets: `$key => $setter`,
/// with `ms` for keys in milliseconds that the builder takes as a `Duration`.
macro_rules! apply {
    ($b:ident, $s:ident; $($key:ident => $set:ident $(($conv:ident))?),* $(,)?) => {
        $(if let Some(v) = $s.$key {
            $b.$set(apply!(@conv v $(, $conv)?));
        })*
    };
    (@conv $v:ident) => { $v };
    (@conv $v:ident, ms) => { Duration::from_millis($v) };
    (@conv $v:ident, ns) => { Duration::from_nanos($v) };
}

impl GossipsubSpec {
    /// The crate's `Config` for this section (absent keys keep the crate's
    /// defaults); `validate_messages` turns on `validate_messages()`, so
    /// that messages are forwarded only once the application accepts them.
    pub fn to_config(
        &self,
        validate_messages: bool,
    ) -> Result<gossipsub::Config, gossipsub::ConfigBuilderError> {
        let s = self;
        let mut b = gossipsub::ConfigBuilder::default();
        if validate_messages || s.validate_messages == Some(true) {
            b.validate_messages();
        }
        apply!(b, s;
            mesh_n => mesh_n,
            mesh_n_low => mesh_n_low,
            mesh_n_high => mesh_n_high,
            mesh_outbound_min => mesh_outbound_min,
            retain_scores => retain_scores,
            gossip_lazy => gossip_lazy,
            gossip_factor => gossip_factor,
            heartbeat_interval_ms => heartbeat_interval(ms),
            heartbeat_initial_delay_ms => heartbeat_initial_delay(ms),
            history_length => history_length,
            history_gossip => history_gossip,
            fanout_ttl_ms => fanout_ttl(ms),
            flood_publish => flood_publish,
            prune_backoff_ms => prune_backoff(ms),
            opportunistic_graft_ticks => opportunistic_graft_ticks,
            opportunistic_graft_peers => opportunistic_graft_peers,
            idontwant_message_size_threshold => idontwant_message_size_threshold,
            idontwant_on_publish => idontwant_on_publish,
            max_transmit_size => max_transmit_size,
            duplicate_cache_time_ms => duplicate_cache_time(ms),
        );
        if s.do_px == Some(true) {
            b.do_px();
        }
        apply!(b, s;
            heartbeat_initial_delay_ns => heartbeat_initial_delay(ns),
            gossip_retransmission => gossip_retransimission,
            prune_peers => prune_peers,
            unsubscribe_backoff_ms => unsubscribe_backoff(ms),
            graft_flood_threshold_ms => graft_flood_threshold(ms),
            max_ihave_messages => max_ihave_messages_heartbeat,
            iwant_followup_time_ms => iwant_followup_time(ms),
        );
        let signing = s.signing.unwrap_or(Signing::Ed25519);
        let mode = s.validation_mode.unwrap_or(match signing {
            Signing::Ed25519 => ValidationModeSpec::Strict,
            Signing::None => ValidationModeSpec::Anonymous,
        });
        b.validation_mode(match mode {
            ValidationModeSpec::Strict => gossipsub::ValidationMode::Strict,
            ValidationModeSpec::Permissive => gossipsub::ValidationMode::Permissive,
            ValidationModeSpec::Anonymous => gossipsub::ValidationMode::Anonymous,
            ValidationModeSpec::None => gossipsub::ValidationMode::None,
        });
        if s.message_id == Some(MessageIdSpec::First8) {
            b.message_id_fn(first8_message_id);
        } else if signing == Signing::None {
            // Anonymous messages have no author and sequence number: ids must come from content.
            b.message_id_fn(content_message_id);
        }
        b.build()
    }
}

/// The test-plans message id: the payload's first 8 bytes.
pub fn first8_message_id(m: &gossipsub::Message) -> gossipsub::MessageId {
    gossipsub::MessageId::from(m.data[..m.data.len().min(8)].to_vec())
}

/// The content-based message id used for unsigned messages: BLAKE3 of the payload, 16 bytes.
pub fn content_message_id(m: &gossipsub::Message) -> gossipsub::MessageId {
    gossipsub::MessageId::from(blake3::hash(&m.data).as_bytes()[..16].to_vec())
}
