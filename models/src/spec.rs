//! The experiment specification: what an experiment file (TOML) says.
//!
//! Every section and key is optional except where noted; absent keys take
//! the defaults documented on each field (GossipSub knobs default to the
//! `libp2p-gossipsub` crate's own defaults). Unknown keys are errors.
//! [`Experiment::validate`] checks what serde cannot, and names the key path.

use serde::{Deserialize, Serialize};

/// A validation error: the key path, the bad value and what is allowed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{key}` = {value}: {allowed}")]
pub struct SpecError {
    /// Dotted key path, e.g. `gossipsub.mesh_n_low`.
    pub key: String,
    /// The offending value as written.
    pub value: String,
    /// What is allowed.
    pub allowed: String,
}

fn err(key: &str, value: impl std::fmt::Display, allowed: impl Into<String>) -> SpecError {
    SpecError {
        key: key.to_string(),
        value: value.to_string(),
        allowed: allowed.into(),
    }
}

/// One experiment: a network, a workload and how long to run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Name; results go to `results/<name>/`.
    #[serde(default = "d_name")]
    pub name: String,
    /// Free text shown in reports.
    #[serde(default)]
    pub description: String,
    /// Master seed (overridden by `--seed`).
    #[serde(default = "d_seed")]
    pub seed: u64,
    /// Number of simulated peers.
    #[serde(default = "d_peers")]
    pub peers: u32,
    /// Simulated seconds to run.
    #[serde(default = "d_duration")]
    pub duration_s: f64,
    /// Links.
    #[serde(default)]
    pub network: NetworkSpec,
    /// Initial connections.
    #[serde(default)]
    pub topology: TopologySpec,
    /// GossipSub configuration.
    #[serde(default)]
    pub gossipsub: GossipsubSpec,
    /// Topics, subscribers and publishing.
    #[serde(default)]
    pub workload: WorkloadSpec,
    /// Safety limits.
    #[serde(default)]
    pub limits: LimitsSpec,
}

fn d_name() -> String {
    "experiment".into()
}
fn d_seed() -> u64 {
    1
}
fn d_peers() -> u32 {
    200
}
fn d_duration() -> f64 {
    60.0
}

impl Default for Experiment {
    fn default() -> Self {
        Experiment {
            name: d_name(),
            description: String::new(),
            seed: d_seed(),
            peers: d_peers(),
            duration_s: d_duration(),
            network: NetworkSpec::default(),
            topology: TopologySpec::default(),
            gossipsub: GossipsubSpec::default(),
            workload: WorkloadSpec::default(),
            limits: LimitsSpec::default(),
        }
    }
}

/// Link latency model.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum LatencySpec {
    /// Every link has `ms` one-way latency.
    Constant {
        /// One-way latency, milliseconds.
        ms: f64,
    },
    /// Each link's one-way latency is uniform in `[min_ms, max_ms]`.
    Uniform {
        /// Lower bound, milliseconds.
        min_ms: f64,
        /// Upper bound, milliseconds.
        max_ms: f64,
    },
}

impl Default for LatencySpec {
    fn default() -> Self {
        LatencySpec::Uniform {
            min_ms: 20.0,
            max_ms: 80.0,
        }
    }
}

/// The network.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Link latency (default uniform 20-80 ms).
    #[serde(default)]
    pub latency: LatencySpec,
    /// How long after a crash or a cut link the other side notices (ms, default 1000).
    #[serde(default = "d_detect")]
    pub detection_delay_ms: f64,
    /// How long a dial to a silent address waits before failing (ms, default 10000).
    #[serde(default = "d_dial_timeout")]
    pub dial_timeout_ms: f64,
}

fn d_detect() -> f64 {
    1000.0
}
fn d_dial_timeout() -> f64 {
    10_000.0
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            latency: LatencySpec::default(),
            detection_delay_ms: d_detect(),
            dial_timeout_ms: d_dial_timeout(),
        }
    }
}

/// Kind of initial graph.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TopologyKind {
    /// Every peer has exactly `degree` connections (random regular graph).
    RandomRegular,
    /// Peers 0-1-2-...-(n-1) in a line.
    Chain,
    /// The edges listed in `edges`.
    Edges,
}

/// Initial connections, dialed at start.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    /// Graph kind (default `random_regular`).
    #[serde(default = "d_kind")]
    pub kind: TopologyKind,
    /// Connections per peer for `random_regular` (default 8).
    #[serde(default = "d_degree")]
    pub degree: u32,
    /// Explicit edges `[[a, b], ...]` for `kind = "edges"`.
    #[serde(default)]
    pub edges: Vec<[u32; 2]>,
    /// Initial dials start uniformly within this window (ms, default 1000).
    #[serde(default = "d_stagger")]
    pub dial_stagger_ms: f64,
}

fn d_kind() -> TopologyKind {
    TopologyKind::RandomRegular
}
fn d_degree() -> u32 {
    8
}
fn d_stagger() -> f64 {
    1000.0
}

impl Default for TopologySpec {
    fn default() -> Self {
        TopologySpec {
            kind: d_kind(),
            degree: d_degree(),
            edges: Vec::new(),
            dial_stagger_ms: d_stagger(),
        }
    }
}

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
}

/// Who subscribes, who publishes, how often, how big.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Number of topics (default 1).
    #[serde(default = "d_topics")]
    pub topics: u32,
    /// Share of peers subscribed to each topic, 0-1 (default 1).
    #[serde(default = "d_one")]
    pub subscribe_share: f64,
    /// Number of peers that publish, drawn at random (default: every peer).
    #[serde(default)]
    pub publishers: Option<u32>,
    /// Messages per simulated second across the network (default 1).
    #[serde(default = "d_one")]
    pub rate_per_s: f64,
    /// Payload size in bytes (default 1024; at least 8).
    #[serde(default = "d_size")]
    pub message_bytes: usize,
    /// First publish, simulated seconds (default 5: after the first heartbeat).
    #[serde(default = "d_start")]
    pub start_s: f64,
    /// Publishing stops this long before the end so messages can drain (s, default 2).
    #[serde(default = "d_drain")]
    pub drain_s: f64,
}

fn d_topics() -> u32 {
    1
}
fn d_one() -> f64 {
    1.0
}
fn d_size() -> usize {
    1024
}
fn d_start() -> f64 {
    5.0
}
fn d_drain() -> f64 {
    2.0
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            topics: d_topics(),
            subscribe_share: d_one(),
            publishers: None,
            rate_per_s: d_one(),
            message_bytes: d_size(),
            start_s: d_start(),
            drain_s: d_drain(),
        }
    }
}

/// Limits that turn a runaway run into an error.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Maximum events per run (default 2e9).
    #[serde(default = "d_max_events")]
    pub max_events: u64,
}

fn d_max_events() -> u64 {
    2_000_000_000
}

impl Default for LimitsSpec {
    fn default() -> Self {
        LimitsSpec {
            max_events: d_max_events(),
        }
    }
}

/// Largest supported peer count (the size of the virtual address range).
pub const MAX_PEERS: u32 = 131_000;

impl Experiment {
    /// Checks everything serde cannot; the first problem found is returned.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(err(
                "name",
                format!("{:?}", self.name),
                "a non-empty name of letters, digits, '-', '_' or '.'",
            ));
        }
        if self.peers == 0 || self.peers > MAX_PEERS {
            return Err(err(
                "peers",
                self.peers,
                format!("an integer from 1 to {MAX_PEERS}"),
            ));
        }
        if !(self.duration_s.is_finite() && self.duration_s > 0.0 && self.duration_s <= 1e7) {
            return Err(err(
                "duration_s",
                self.duration_s,
                "a number of seconds > 0 (at most 1e7)",
            ));
        }
        self.network.validate()?;
        self.topology.validate(self.peers)?;
        self.gossipsub.validate()?;
        self.workload.validate(self.peers)?;
        if self.limits.max_events == 0 {
            return Err(err("limits.max_events", 0, "a positive integer"));
        }
        Ok(())
    }
}

fn finite_nonneg(key: &str, v: f64) -> Result<(), SpecError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(err(key, v, "a finite number >= 0"))
    }
}

impl NetworkSpec {
    fn validate(&self) -> Result<(), SpecError> {
        match self.latency {
            LatencySpec::Constant { ms } => finite_nonneg("network.latency.ms", ms)?,
            LatencySpec::Uniform { min_ms, max_ms } => {
                finite_nonneg("network.latency.min_ms", min_ms)?;
                finite_nonneg("network.latency.max_ms", max_ms)?;
                if max_ms < min_ms {
                    return Err(err(
                        "network.latency.max_ms",
                        max_ms,
                        format!("a value >= min_ms ({min_ms})"),
                    ));
                }
            }
        }
        finite_nonneg("network.detection_delay_ms", self.detection_delay_ms)?;
        finite_nonneg("network.dial_timeout_ms", self.dial_timeout_ms)
    }

    /// The engine's network configuration.
    pub fn to_net_config(&self) -> sim::NetConfig {
        sim::NetConfig {
            latency: match self.latency {
                LatencySpec::Constant { ms } => sim::latency::LatencyModel::Constant { ms },
                LatencySpec::Uniform { min_ms, max_ms } => {
                    sim::latency::LatencyModel::Uniform { min_ms, max_ms }
                }
            },
            detection_delay_ns: ms_to_ns(self.detection_delay_ms),
            dial_timeout_ns: ms_to_ns(self.dial_timeout_ms),
            ..sim::NetConfig::default()
        }
    }
}

/// Milliseconds (float) to nanoseconds.
pub fn ms_to_ns(ms: f64) -> u64 {
    (ms * 1e6).round().max(0.0) as u64
}

impl TopologySpec {
    fn validate(&self, peers: u32) -> Result<(), SpecError> {
        finite_nonneg("topology.dial_stagger_ms", self.dial_stagger_ms)?;
        match self.kind {
            TopologyKind::RandomRegular => {
                if self.degree == 0 || self.degree >= peers.max(2) {
                    return Err(err(
                        "topology.degree",
                        self.degree,
                        format!(
                            "an integer from 1 to peers - 1 ({})",
                            peers.saturating_sub(1)
                        ),
                    ));
                }
                if (u64::from(self.degree) * u64::from(peers)) % 2 == 1 {
                    return Err(err(
                        "topology.degree",
                        self.degree,
                        "degree x peers must be even for a regular graph",
                    ));
                }
            }
            TopologyKind::Chain => {}
            TopologyKind::Edges => {
                if self.edges.is_empty() {
                    return Err(err(
                        "topology.edges",
                        "[]",
                        "at least one edge [a, b] when kind = \"edges\"",
                    ));
                }
                for (i, [a, b]) in self.edges.iter().enumerate() {
                    if *a >= peers || *b >= peers || a == b {
                        return Err(err(
                            &format!("topology.edges[{i}]"),
                            format!("[{a}, {b}]"),
                            format!("two distinct peer indices below peers ({peers})"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl GossipsubSpec {
    fn validate(&self) -> Result<(), SpecError> {
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
        crate::peer::build_gossipsub_config(self)
            .map(|_| ())
            .map_err(|e| {
                err(
                    "gossipsub",
                    "(combination)",
                    format!("libp2p-gossipsub rejects this configuration: {e}"),
                )
            })
    }
}

impl WorkloadSpec {
    fn validate(&self, peers: u32) -> Result<(), SpecError> {
        if self.topics == 0 || self.topics > 1000 {
            return Err(err(
                "workload.topics",
                self.topics,
                "an integer from 1 to 1000",
            ));
        }
        if !(self.subscribe_share.is_finite()
            && self.subscribe_share > 0.0
            && self.subscribe_share <= 1.0)
        {
            return Err(err(
                "workload.subscribe_share",
                self.subscribe_share,
                "a number in (0, 1]",
            ));
        }
        if let Some(p) = self.publishers {
            if p == 0 || p > peers {
                return Err(err(
                    "workload.publishers",
                    p,
                    format!("an integer from 1 to peers ({peers})"),
                ));
            }
        }
        if !(self.rate_per_s.is_finite() && self.rate_per_s >= 0.0 && self.rate_per_s <= 1e6) {
            return Err(err(
                "workload.rate_per_s",
                self.rate_per_s,
                "a number of messages per second from 0 to 1e6",
            ));
        }
        if self.message_bytes < 8 || self.message_bytes > 64 << 20 {
            return Err(err(
                "workload.message_bytes",
                self.message_bytes,
                "an integer from 8 to 67108864 bytes",
            ));
        }
        finite_nonneg("workload.start_s", self.start_s)?;
        finite_nonneg("workload.drain_s", self.drain_s)
    }
}

#[cfg(test)]
mod tests {
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
    fn odd_regular_graph_is_rejected() {
        let mut e = Experiment::default();
        e.peers = 5;
        e.topology.degree = 3;
        assert_eq!(e.validate().unwrap_err().key, "topology.degree");
    }
}
