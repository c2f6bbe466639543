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

/// A [`SpecError`] for `key`, its bad `value` and what is `allowed`.
pub(crate) fn err(
    key: &str,
    value: impl std::fmt::Display,
    allowed: impl Into<String>,
) -> SpecError {
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
    /// What is measured during the run.
    #[serde(default)]
    pub measure: MeasureSpec,
    /// Peer classes (`[[class]]`); none: every peer alike.
    #[serde(default, rename = "class")]
    pub classes: Vec<crate::classes::ClassSpec>,
    /// Latency models per pair of classes (`[[link]]`).
    #[serde(default, rename = "link")]
    pub links: Vec<crate::classes::LinkSpec>,
    /// The automatic dialer / connection manager.
    #[serde(default)]
    pub dialer: crate::classes::DialerSpec,
    /// Health-check probes.
    #[serde(default)]
    pub probes: crate::classes::ProbeSpec,
    /// Churn drawn from distributions.
    #[serde(default)]
    pub churn: crate::churn::ChurnSpec,
    /// Prolly-tree history sync (off by default).
    #[serde(default)]
    pub history: HistorySpec,
    /// Scheduled scenario events: peers going offline, partitions.
    #[serde(default)]
    pub timeline: Vec<TimelineEvent>,
    /// Peer scoring (off unless a preset is chosen).
    #[serde(default)]
    pub scoring: crate::scoring::ScoringSpec,
    /// Split the simulation into this many parts, each on its own thread
    /// (peers in contiguous index blocks), exchanging what crosses between
    /// them in windows of the smallest link latency (default 1: one thread).
    /// A run is reproducible for a given number; results differ between
    /// numbers, as between seeds. For networks of thousands of peers.
    #[serde(default = "d_partitions")]
    pub partitions: u16,
}

fn d_partitions() -> u16 {
    1
}

/// Most partitions a run may have.
pub const MAX_PARTITIONS: u16 = 64;

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
            measure: MeasureSpec::default(),
            classes: Vec::new(),
            links: Vec::new(),
            dialer: crate::classes::DialerSpec::default(),
            probes: crate::classes::ProbeSpec::default(),
            churn: crate::churn::ChurnSpec::default(),
            history: HistorySpec::default(),
            timeline: Vec::new(),
            scoring: crate::scoring::ScoringSpec::default(),
            partitions: 1,
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
    /// Normal with `mean_ms` and `std_ms`, clamped at `min_ms` (default 0).
    Normal {
        /// Mean, milliseconds.
        mean_ms: f64,
        /// Standard deviation, milliseconds.
        std_ms: f64,
        /// Lower clamp, milliseconds.
        #[serde(default)]
        min_ms: f64,
    },
    /// Log-normal with median `median_ms` and `sigma` of ln(latency),
    /// clamped at `min_ms` (default 0: no clamp).
    Lognormal {
        /// Median, milliseconds.
        median_ms: f64,
        /// Sigma of the underlying normal.
        sigma: f64,
        /// Lower clamp, milliseconds: no link is faster (what partitioned
        /// runs need from a log-normal).
        #[serde(default, skip_serializing_if = "is_zero")]
        min_ms: f64,
    },
}

impl LatencySpec {
    /// The engine's latency model.
    pub fn to_model(&self) -> sim::latency::LatencyModel {
        use sim::latency::LatencyModel as M;
        match *self {
            LatencySpec::Constant { ms } => M::Constant { ms },
            LatencySpec::Uniform { min_ms, max_ms } => M::Uniform { min_ms, max_ms },
            LatencySpec::Normal {
                mean_ms,
                std_ms,
                min_ms,
            } => M::Normal {
                mean_ms,
                std_ms,
                min_ms,
            },
            LatencySpec::Lognormal {
                median_ms,
                sigma,
                min_ms,
            } => M::LogNormal {
                median_ms,
                sigma,
                min_ms,
            },
        }
    }
}

/// Checks a latency model; `key` is its path (e.g. `network.latency`).
pub fn validate_latency(key: &str, l: &LatencySpec) -> Result<(), SpecError> {
    match *l {
        LatencySpec::Constant { ms } => finite_nonneg(&format!("{key}.ms"), ms),
        LatencySpec::Uniform { min_ms, max_ms } => {
            finite_nonneg(&format!("{key}.min_ms"), min_ms)?;
            finite_nonneg(&format!("{key}.max_ms"), max_ms)?;
            if max_ms < min_ms {
                return Err(err(
                    &format!("{key}.max_ms"),
                    max_ms,
                    format!("a value >= min_ms ({min_ms})"),
                ));
            }
            Ok(())
        }
        LatencySpec::Normal {
            mean_ms,
            std_ms,
            min_ms,
        } => {
            finite_nonneg(&format!("{key}.mean_ms"), mean_ms)?;
            finite_nonneg(&format!("{key}.std_ms"), std_ms)?;
            finite_nonneg(&format!("{key}.min_ms"), min_ms)
        }
        LatencySpec::Lognormal {
            median_ms,
            sigma,
            min_ms,
        } => {
            if !(median_ms.is_finite() && median_ms > 0.0) {
                return Err(err(
                    &format!("{key}.median_ms"),
                    median_ms,
                    "a latency in ms > 0",
                ));
            }
            finite_nonneg(&format!("{key}.sigma"), sigma)?;
            finite_nonneg(&format!("{key}.min_ms"), min_ms)
        }
    }
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
    /// Per-write jitter: uniform in [0, jitter_ms] added to each write, FIFO kept (default 0).
    #[serde(default)]
    pub jitter_ms: f64,
    /// Per-write loss probability, modelled as one retransmission delay per loss (default 0).
    #[serde(default)]
    pub loss: f64,
    /// Retransmission delay per loss (ms, default 200).
    #[serde(default = "d_rto")]
    pub rto_ms: f64,
    /// Bytes an uplink may queue before writers see backpressure (KiB, default 1024).
    #[serde(default = "d_buffer")]
    pub uplink_buffer_kib: u64,
    /// Region model: peers placed in regions by weight, link latency from the region matrix.
    #[serde(default)]
    pub regions: Option<crate::classes::RegionsSpec>,
}

fn d_rto() -> f64 {
    200.0
}
fn d_buffer() -> u64 {
    1024
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
            jitter_ms: 0.0,
            loss: 0.0,
            rto_ms: d_rto(),
            uplink_buffer_kib: d_buffer(),
            regions: None,
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
    /// The edges listed in `edges` (also what `file` is turned into when loaded).
    Edges,
    /// Erdos-Renyi G(n, p): each pair connected with probability `p`.
    ErdosRenyi,
    /// Barabasi-Albert preferential attachment: each new peer connects to `m` peers.
    BarabasiAlbert,
    /// Watts-Strogatz small world: a ring of `degree` neighbours, each edge rewired with probability `beta`.
    WattsStrogatz,
    /// Peers of `hub_class` form a random `hub_degree`-regular mesh (full mesh if
    /// there are few); every other peer dials `spoke_degree` random hubs.
    HubAndSpoke,
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
    /// Edge probability for `erdos_renyi`.
    #[serde(default)]
    pub p: Option<f64>,
    /// Edges per new peer for `barabasi_albert` (default 4).
    #[serde(default)]
    pub m: Option<u32>,
    /// Rewiring probability for `watts_strogatz` (default 0.1).
    #[serde(default)]
    pub beta: Option<f64>,
    /// The class whose peers are hubs, for `hub_and_spoke` (default: the classes that accept inbound connections).
    #[serde(default)]
    pub hub_class: Option<String>,
    /// Hubs each other peer connects to, for `hub_and_spoke` (default 2).
    #[serde(default)]
    pub spoke_degree: Option<u32>,
    /// Connections of each hub to other hubs, for `hub_and_spoke` (default: all hubs, up to 8).
    #[serde(default)]
    pub hub_degree: Option<u32>,
    /// A GML graph or an edge list (`a b` per line) to load; relative to the experiment file. Sets `kind = "edges"`.
    #[serde(default)]
    pub file: Option<String>,
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
            p: None,
            m: None,
            beta: None,
            hub_class: None,
            spoke_degree: None,
            hub_degree: None,
            file: None,
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

/// What is measured during the run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MeasureSpec {
    /// Interval of the mesh samples behind `timeseries.csv` and `convergence_s` (ms, default 1000; 0 = off).
    #[serde(default = "d_sample")]
    pub sample_interval_ms: u64,
    /// Keep every first delivery for `deliveries.csv` (default off).
    #[serde(default)]
    pub deliveries: bool,
    /// Collect GossipSub's own Prometheus metrics and write `metrics.prom` (default off).
    #[serde(default)]
    pub prometheus: bool,
    /// Decode GossipSub frames on the wire: duplicates, control counts, data/control bytes (default on).
    #[serde(default = "d_true")]
    pub wire: bool,
    /// Also sample every peer's mesh degree and connections (`peer_timeseries.csv`; default off).
    #[serde(default)]
    pub per_peer: bool,
}

fn d_sample() -> u64 {
    1000
}

impl Default for MeasureSpec {
    fn default() -> Self {
        MeasureSpec {
            sample_interval_ms: d_sample(),
            deliveries: false,
            prometheus: false,
            wire: true,
            per_peer: false,
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
    /// Test hook: the run panics at this simulated time (to exercise sweep
    /// failure handling and reproduction commands). Never set it otherwise.
    #[serde(default)]
    pub panic_at_s: Option<f64>,
    /// Refuse to start a run whose estimated memory exceeds this many MiB
    /// (default: 90% of the machine's memory, shared by parallel sweep runs).
    #[serde(default)]
    pub max_memory_mib: Option<u64>,
}

fn d_max_events() -> u64 {
    2_000_000_000
}

impl Default for LimitsSpec {
    fn default() -> Self {
        LimitsSpec {
            max_events: d_max_events(),
            panic_at_s: None,
            max_memory_mib: None,
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
        let region_names = self.network.regions.as_ref().map(|r| r.table().0);
        crate::classes::validate(
            &self.classes,
            &self.links,
            self.peers,
            region_names.as_deref(),
        )?;
        for (i, c) in self.classes.iter().enumerate() {
            if let Some(g) = &c.gossipsub {
                self.gossipsub.merged(g).validate().map_err(|mut e| {
                    e.key = e
                        .key
                        .replacen("gossipsub", &format!("class[{i}].gossipsub"), 1);
                    e
                })?;
            }
        }
        if self.dialer.enabled {
            self.dialer.validate(self.peers)?;
        }
        self.probes.validate(self.peers)?;
        self.churn.validate(self.peers, self.duration_s)?;
        self.topology.validate(self.peers)?;
        self.validate_consistency()?;
        if let (TopologyKind::HubAndSpoke, Some(h)) =
            (self.topology.kind, self.topology.hub_class.as_ref())
        {
            if !self.classes.iter().any(|c| &c.name == h) {
                let names: Vec<String> = self
                    .classes
                    .iter()
                    .map(|c| format!("{:?}", c.name))
                    .collect();
                return Err(err(
                    "topology.hub_class",
                    format!("{h:?}"),
                    if names.is_empty() {
                        "the name of a [[class]] (this experiment defines none)".to_string()
                    } else {
                        format!("the name of a [[class]]: {}", names.join(", "))
                    },
                ));
            }
        }
        self.gossipsub.validate()?;
        self.workload.validate(self.peers)?;
        self.validate_workload_fits()?;
        if let Some(t) = self.limits.panic_at_s {
            finite_nonneg("limits.panic_at_s", t)?;
        }
        if self.limits.max_events == 0 {
            return Err(err("limits.max_events", 0, "a positive integer"));
        }
        self.history.validate()?;
        validate_timeline(&self.timeline, self.peers, self.duration_s)?;
        self.scoring.validate("scoring")?;
        for (i, c) in self.classes.iter().enumerate() {
            if let Some(s) = &c.scoring {
                self.scoring
                    .merged(s)
                    .validate(&format!("class[{i}].scoring"))?;
            }
        }
        self.validate_partitions()
    }

    /// Settings that are each valid but contradict each other, or that
    /// another setting silently overrides.
    fn validate_consistency(&self) -> Result<(), SpecError> {
        if self.network.regions.is_some() {
            // Every peer is in a region and every link takes the latency
            // between its two regions.
            if let Some(l) = self.links.first() {
                return Err(err(
                    "link[0].latency",
                    format!("{:?} to {:?}", l.classes[0], l.classes[1]),
                    "no [[link]] with [network.regions]: every link takes the latency between its two regions (remove one of them)",
                ));
            }
            if self.network.latency != LatencySpec::default() {
                return Err(err(
                    "network.latency",
                    "(set)",
                    "left out with [network.regions]: every link takes the latency between its two regions (remove one of them)",
                ));
            }
        }
        if self.history.enabled && (self.workload.topics > 1 || self.workload.subscribe_share < 1.0)
        {
            let (k, v) = if self.workload.topics > 1 {
                ("workload.topics", self.workload.topics.to_string())
            } else {
                (
                    "workload.subscribe_share",
                    self.workload.subscribe_share.to_string(),
                )
            };
            return Err(err(
                k,
                v,
                "one topic that every peer subscribes to when history.enabled = true (one replicated log per peer: with more, replicas never converge)",
            ));
        }
        let signing = self.gossipsub.signing.unwrap_or(Signing::Ed25519);
        for (i, c) in self.classes.iter().enumerate() {
            if let Some(s) = c.gossipsub.as_ref().and_then(|g| g.signing) {
                if s != signing {
                    return Err(err(
                        &format!("class[{i}].gossipsub.signing"),
                        format!("{s:?}").to_lowercase(),
                        format!(
                            "the same as gossipsub.signing ({}): peers of another signing mode reject each other's messages",
                            format!("{signing:?}").to_lowercase()
                        ),
                    ));
                }
            }
        }
        if self.churn.share > 0.0 && self.churn.start_s >= self.duration_s {
            return Err(err(
                "churn.start_s",
                self.churn.start_s,
                format!(
                    "a time below duration_s ({}), or churn.share = 0 for no churn",
                    self.duration_s
                ),
            ));
        }
        if self.topology.kind == TopologyKind::HubAndSpoke && !self.classes.is_empty() {
            let counts = crate::classes::class_counts(&self.classes, self.peers);
            let hubs: u32 = self
                .classes
                .iter()
                .zip(&counts)
                .filter(|(c, _)| match &self.topology.hub_class {
                    Some(h) => &c.name == h,
                    None => c.accepts_inbound,
                })
                .map(|(_, n)| n)
                .sum();
            if hubs == 0 {
                return Err(err(
                    "topology.hub_class",
                    self.topology
                        .hub_class
                        .as_ref()
                        .map_or("(unset: classes that accept inbound)".to_string(), |h| {
                            format!("{h:?}")
                        }),
                    "a class with at least one peer (this one has none, so no peer could connect)",
                ));
            }
        }
        Ok(())
    }

    /// Messages larger than GossipSub's transmit limit can never be
    /// published: a mistake, not an experiment. (A run that ends before
    /// publishing starts is allowed, for short smoke runs; its summary says
    /// that no message was published.)
    fn validate_workload_fits(&self) -> Result<(), SpecError> {
        let w = &self.workload;
        let limit = |g: &GossipsubSpec| {
            g.max_transmit_size
                .unwrap_or(libp2p_gossipsub::Config::default().max_transmit_size())
        };
        let mut limits = vec![(
            "gossipsub.max_transmit_size".to_string(),
            limit(&self.gossipsub),
        )];
        for (i, c) in self.classes.iter().enumerate() {
            if let Some(g) = &c.gossipsub {
                limits.push((
                    format!("class[{i}].gossipsub.max_transmit_size"),
                    limit(&self.gossipsub.merged(g)),
                ));
            }
        }
        for (key, max) in limits {
            if w.message_bytes > max {
                return Err(err(
                    "workload.message_bytes",
                    w.message_bytes,
                    format!(
                        "at most {key} ({max}): larger messages fail to publish \
                         (raise {key} or lower workload.message_bytes)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The smallest one-way latency any link can have, ns (the window of a
    /// partitioned run).
    pub fn min_link_latency_ns(&self) -> u64 {
        let c = self.net_config();
        let mut min = c.latency.min_ns();
        for m in c.class_latency.values() {
            min = min.min(m.min_ns());
        }
        for row in &c.region_latency_ms {
            for &ms in row {
                min = min.min(ms_to_ns(ms));
            }
        }
        min
    }

    /// What a partitioned run supports: everything but links without a
    /// positive minimum latency (no window).
    fn validate_partitions(&self) -> Result<(), SpecError> {
        let p = self.partitions;
        if p == 0 || p > MAX_PARTITIONS || u32::from(p) > self.peers {
            return Err(err(
                "partitions",
                p,
                format!(
                    "an integer from 1 to {} (at most one per peer)",
                    u32::from(MAX_PARTITIONS).min(self.peers)
                ),
            ));
        }
        if p == 1 {
            return Ok(());
        }
        let min = self.min_link_latency_ns();
        if min == 0 {
            return Err(err(
                "partitions",
                p,
                "1 unless every link has a positive minimum latency (a 0 ms model has none, nor a log-normal without min_ms: add e.g. min_ms = 5.0 to it)",
            ));
        }
        Ok(())
    }
}

/// Leaves a zero `min_ms` out of a written experiment file.
fn is_zero(x: &f64) -> bool {
    *x == 0.0
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
        validate_latency("network.latency", &self.latency)?;
        finite_nonneg("network.detection_delay_ms", self.detection_delay_ms)?;
        finite_nonneg("network.dial_timeout_ms", self.dial_timeout_ms)?;
        finite_nonneg("network.jitter_ms", self.jitter_ms)?;
        finite_nonneg("network.rto_ms", self.rto_ms)?;
        if !(self.loss.is_finite() && (0.0..0.99).contains(&self.loss)) {
            return Err(err(
                "network.loss",
                self.loss,
                "a probability from 0 to 0.99",
            ));
        }
        if self.uplink_buffer_kib == 0 {
            return Err(err(
                "network.uplink_buffer_kib",
                0,
                "a positive number of KiB",
            ));
        }
        if let Some(r) = &self.regions {
            r.validate()?;
        }
        Ok(())
    }

    /// The engine's network configuration (without classes and regions; see
    /// [`Experiment::net_config`] for the whole of it).
    pub fn to_net_config(&self) -> sim::NetConfig {
        sim::NetConfig {
            latency: self.latency.to_model(),
            detection_delay_ns: ms_to_ns(self.detection_delay_ms),
            dial_timeout_ns: ms_to_ns(self.dial_timeout_ms),
            jitter_ns: ms_to_ns(self.jitter_ms),
            loss: self.loss,
            rto_ns: ms_to_ns(self.rto_ms),
            uplink_buffer_bytes: self.uplink_buffer_kib * 1024,
            ..sim::NetConfig::default()
        }
    }
}

impl Experiment {
    /// The engine's whole network configuration: links, per-class-pair
    /// latency models and the region matrix.
    pub fn net_config(&self) -> sim::NetConfig {
        let mut c = self.network.to_net_config();
        for l in &self.links {
            let idx = |n: &str| self.classes.iter().position(|c| c.name == n).unwrap_or(0) as u16;
            let (a, b) = (idx(&l.classes[0]), idx(&l.classes[1]));
            c.class_latency
                .insert((a.min(b), a.max(b)), l.latency.to_model());
        }
        if let Some(r) = &self.network.regions {
            c.region_latency_ms = r.table().2;
        }
        c
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
                if peers < 2 {
                    return Err(err(
                        "topology.kind",
                        "\"random_regular\"",
                        "a kind that allows a single peer (\"chain\"), or peers >= 2",
                    ));
                }
                if self.degree == 0 || self.degree >= peers {
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
            TopologyKind::ErdosRenyi => match self.p {
                Some(p) if p.is_finite() && p > 0.0 && p <= 1.0 => {}
                other => {
                    return Err(err(
                        "topology.p",
                        other.map_or("(missing)".to_string(), |p| p.to_string()),
                        "an edge probability in (0, 1] for kind = \"erdos_renyi\"",
                    ))
                }
            },
            TopologyKind::BarabasiAlbert => {
                let m = self.m.unwrap_or(4);
                if m == 0 || m >= peers {
                    return Err(err(
                        "topology.m",
                        m,
                        format!(
                            "an integer from 1 to peers - 1 ({})",
                            peers.saturating_sub(1)
                        ),
                    ));
                }
            }
            TopologyKind::WattsStrogatz => {
                if self.degree < 2 || self.degree % 2 == 1 || self.degree >= peers {
                    return Err(err(
                        "topology.degree",
                        self.degree,
                        "an even number from 2 to peers - 1 for kind = \"watts_strogatz\"",
                    ));
                }
                let b = self.beta.unwrap_or(0.1);
                if !(b.is_finite() && (0.0..=1.0).contains(&b)) {
                    return Err(err("topology.beta", b, "a probability from 0 to 1"));
                }
            }
            TopologyKind::HubAndSpoke => {
                if self.spoke_degree == Some(0) {
                    return Err(err("topology.spoke_degree", 0, "at least 1"));
                }
            }
            TopologyKind::Edges => {
                if self.edges.is_empty() && self.file.is_none() {
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

/// Prolly-tree history sync (`[history]`): each peer keeps a replicated log
/// of the messages it publishes and accepts, and catches up by syncing with
/// neighbours (see `models::history`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HistorySpec {
    /// Keep and sync the log (default false: GossipSub only).
    #[serde(default)]
    pub enabled: bool,
    /// A server aborts a sync this long after it began, and a client gives up
    /// on an unanswered request after it (ms, default 10000).
    #[serde(default = "d_sync_timeout")]
    pub sync_timeout_ms: u64,
    /// Cooldown the server asks for when it aborts (ms, default 0).
    #[serde(default)]
    pub abort_cooldown_ms: u64,
    /// Exchange heads when a connection opens and sync if the other side has
    /// heads we lack (default true).
    #[serde(default = "d_true")]
    pub heads_on_connect: bool,
    /// Sync with the propagation source of a GossipSub message whose parents
    /// are missing (default true; the message is reported `Ignore` either way).
    #[serde(default = "d_true")]
    pub sync_on_missing_parent: bool,
    /// Keep messages ignored for missing parents (up to 1024 per peer) and
    /// apply them to the log once their parents arrive (default true; they
    /// are not forwarded either way).
    #[serde(default = "d_true")]
    pub keep_orphans: bool,
    /// Period of anti-entropy syncs with a random neighbour (ms, default 0 = off).
    #[serde(default)]
    pub anti_entropy_interval_ms: u64,
    /// Keys per `GetValues` request (default 1024, the most the wire allows).
    #[serde(default = "d_keys_per_request")]
    pub max_keys_per_request: usize,
    /// Restarts of one sync request after server aborts (default 16).
    #[serde(default = "d_max_restarts")]
    pub max_restarts: u32,
    /// Period of the distinct-root time series (ms, default 1000; 0 = off).
    #[serde(default = "d_sample_interval")]
    pub sample_interval_ms: u64,
}

fn d_sync_timeout() -> u64 {
    10_000
}
fn d_true() -> bool {
    true
}
fn d_keys_per_request() -> usize {
    crate::prolly::wire::MAX_KEYS_PER_REQUEST
}
fn d_max_restarts() -> u32 {
    16
}
fn d_sample_interval() -> u64 {
    1000
}

impl Default for HistorySpec {
    fn default() -> Self {
        HistorySpec {
            enabled: false,
            sync_timeout_ms: d_sync_timeout(),
            abort_cooldown_ms: 0,
            heads_on_connect: true,
            sync_on_missing_parent: true,
            keep_orphans: true,
            anti_entropy_interval_ms: 0,
            max_keys_per_request: d_keys_per_request(),
            max_restarts: d_max_restarts(),
            sample_interval_ms: d_sample_interval(),
        }
    }
}

impl HistorySpec {
    fn validate(&self) -> Result<(), SpecError> {
        const DAY_MS: u64 = 86_400_000;
        if self.sync_timeout_ms == 0 || self.sync_timeout_ms > DAY_MS {
            return Err(err(
                "history.sync_timeout_ms",
                self.sync_timeout_ms,
                "a number of milliseconds from 1 to 86400000",
            ));
        }
        if self.abort_cooldown_ms > DAY_MS {
            return Err(err(
                "history.abort_cooldown_ms",
                self.abort_cooldown_ms,
                "a number of milliseconds from 0 to 86400000",
            ));
        }
        if self.anti_entropy_interval_ms != 0
            && !(10..=DAY_MS).contains(&self.anti_entropy_interval_ms)
        {
            return Err(err(
                "history.anti_entropy_interval_ms",
                self.anti_entropy_interval_ms,
                "0 (off) or a number of milliseconds from 10 to 86400000",
            ));
        }
        let max = crate::prolly::wire::MAX_KEYS_PER_REQUEST;
        if self.max_keys_per_request == 0 || self.max_keys_per_request > max {
            return Err(err(
                "history.max_keys_per_request",
                self.max_keys_per_request,
                format!("an integer from 1 to {max}"),
            ));
        }
        if self.max_restarts > 1000 {
            return Err(err(
                "history.max_restarts",
                self.max_restarts,
                "an integer from 0 to 1000",
            ));
        }
        if self.sample_interval_ms != 0 && !(10..=DAY_MS).contains(&self.sample_interval_ms) {
            return Err(err(
                "history.sample_interval_ms",
                self.sample_interval_ms,
                "0 (off) or a number of milliseconds from 10 to 86400000",
            ));
        }
        Ok(())
    }
}

/// A scheduled scenario event (`[[timeline]]`, with `action = "..."`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum TimelineEvent {
    /// Peers go offline (a crash: their connections are lost and the remotes
    /// notice after `network.detection_delay_ms`) and come back with the same
    /// identity and the same log, listening again and dialing their initial
    /// neighbours.
    Offline {
        /// When they go down (simulated seconds).
        at_s: f64,
        /// How long they stay down (s); absent: until the end of the run.
        #[serde(default)]
        duration_s: Option<f64>,
        /// The peers, by index; or use `count`.
        #[serde(default)]
        peers: Vec<u32>,
        /// This many peers drawn at random (the `churn` seed stream) among
        /// those up at `at_s`; or use `peers`.
        #[serde(default)]
        count: u32,
        /// On return, dial at most this many initial neighbours (default: all
        /// of them that are up and reachable).
        #[serde(default)]
        redial: Option<u32>,
        /// Leave gracefully (connections closed in an orderly way, the
        /// remotes notice after one link latency) instead of crashing.
        #[serde(default)]
        graceful: bool,
    },
    /// The network splits in two groups: every connection between them is
    /// lost and dials between them go unanswered until it heals; at healing,
    /// the pairs that were cut dial each other again.
    Partition {
        /// When it starts (simulated seconds).
        at_s: f64,
        /// How long it lasts (s); absent: until the end of the run.
        #[serde(default)]
        duration_s: Option<f64>,
        /// The first group, by peer index; or use `share`.
        #[serde(default)]
        group: Vec<u32>,
        /// The first group is peers `0 .. round(share x peers)` (default 0.5).
        #[serde(default)]
        share: Option<f64>,
    },
    /// Links of the listed peers degrade for an interval: added latency,
    /// loss (as retransmission delay) and a bandwidth factor.
    Degrade {
        /// When it starts (simulated seconds).
        at_s: f64,
        /// How long it lasts (s); absent: until the end of the run.
        #[serde(default)]
        duration_s: Option<f64>,
        /// The peers whose links degrade.
        peers: Vec<u32>,
        /// Added one-way latency, ms (default 0).
        #[serde(default)]
        extra_latency_ms: f64,
        /// Per-write loss probability (default 0).
        #[serde(default)]
        loss: f64,
        /// Multiplier on their bandwidth (default 1; needs a class with a bandwidth).
        #[serde(default = "one_f64")]
        bandwidth_factor: f64,
    },
    /// The listed peers' listen addresses vanish: new dials to them get no
    /// answer (existing connections stay), as in the original field report.
    Vanish {
        /// When (simulated seconds).
        at_s: f64,
        /// For how long (s); absent: until the end of the run.
        #[serde(default)]
        duration_s: Option<f64>,
        /// The peers.
        peers: Vec<u32>,
    },
}

impl TimelineEvent {
    /// Start time, seconds.
    pub fn at_s(&self) -> f64 {
        match self {
            TimelineEvent::Offline { at_s, .. }
            | TimelineEvent::Partition { at_s, .. }
            | TimelineEvent::Degrade { at_s, .. }
            | TimelineEvent::Vanish { at_s, .. } => *at_s,
        }
    }

    /// End time, seconds (`None`: never ends).
    pub fn end_s(&self) -> Option<f64> {
        match self {
            TimelineEvent::Offline {
                at_s, duration_s, ..
            }
            | TimelineEvent::Partition {
                at_s, duration_s, ..
            }
            | TimelineEvent::Degrade {
                at_s, duration_s, ..
            }
            | TimelineEvent::Vanish {
                at_s, duration_s, ..
            } => duration_s.map(|d| at_s + d),
        }
    }
}

fn overlaps(a: &TimelineEvent, b: &TimelineEvent) -> bool {
    let (a0, a1) = (a.at_s(), a.end_s().unwrap_or(f64::INFINITY));
    let (b0, b1) = (b.at_s(), b.end_s().unwrap_or(f64::INFINITY));
    a0 <= b1 && b0 <= a1
}

fn validate_peer_list(key: &str, list: &[u32], peers: u32) -> Result<(), SpecError> {
    let mut seen = std::collections::BTreeSet::new();
    for (j, &p) in list.iter().enumerate() {
        if p >= peers {
            return Err(err(
                &format!("{key}[{j}]"),
                p,
                format!("a peer index below peers ({peers})"),
            ));
        }
        if !seen.insert(p) {
            return Err(err(&format!("{key}[{j}]"), p, "each peer listed once"));
        }
    }
    Ok(())
}

fn validate_timeline(tl: &[TimelineEvent], peers: u32, duration_s: f64) -> Result<(), SpecError> {
    for (i, ev) in tl.iter().enumerate() {
        let k = |f: &str| format!("timeline[{i}].{f}");
        let at = ev.at_s();
        if !(at.is_finite() && at >= 0.0 && at < duration_s) {
            return Err(err(
                &k("at_s"),
                at,
                format!("a time in seconds from 0 to below duration_s ({duration_s})"),
            ));
        }
        let d = match ev {
            TimelineEvent::Offline { duration_s, .. }
            | TimelineEvent::Partition { duration_s, .. }
            | TimelineEvent::Degrade { duration_s, .. }
            | TimelineEvent::Vanish { duration_s, .. } => *duration_s,
        };
        if let Some(d) = d {
            if !(d.is_finite() && d > 0.0) {
                return Err(err(&k("duration_s"), d, "a number of seconds > 0"));
            }
        }
        match ev {
            TimelineEvent::Offline {
                peers: list, count, ..
            } => {
                if list.is_empty() == (*count == 0) {
                    return Err(err(
                        &k("count"),
                        count,
                        "either a non-empty `peers` list or `count` >= 1, not both",
                    ));
                }
                if *count >= peers {
                    return Err(err(
                        &k("count"),
                        count,
                        format!(
                            "an integer from 1 to peers - 1 ({})",
                            peers.saturating_sub(1)
                        ),
                    ));
                }
                // Overlapping offline intervals compose (a peer is down
                // while any covers it), so they need no check here.
                validate_peer_list(&k("peers"), list, peers)?;
            }
            TimelineEvent::Degrade {
                peers: list,
                extra_latency_ms,
                loss,
                bandwidth_factor,
                ..
            } => {
                if list.is_empty() {
                    return Err(err(&k("peers"), "[]", "at least one peer index"));
                }
                validate_peer_list(&k("peers"), list, peers)?;
                finite_nonneg(&k("extra_latency_ms"), *extra_latency_ms)?;
                if !(loss.is_finite() && (0.0..0.99).contains(loss)) {
                    return Err(err(&k("loss"), loss, "a probability from 0 to 0.99"));
                }
                if !(bandwidth_factor.is_finite() && *bandwidth_factor > 0.0) {
                    return Err(err(
                        &k("bandwidth_factor"),
                        bandwidth_factor,
                        "a factor > 0",
                    ));
                }
            }
            TimelineEvent::Vanish { peers: list, .. } => {
                if list.is_empty() {
                    return Err(err(&k("peers"), "[]", "at least one peer index"));
                }
                validate_peer_list(&k("peers"), list, peers)?;
            }
            TimelineEvent::Partition { group, share, .. } => {
                match (group.is_empty(), share) {
                    (false, Some(_)) => {
                        return Err(err(
                            &k("share"),
                            share.unwrap_or_default(),
                            "either `group` or `share`, not both",
                        ))
                    }
                    (true, Some(s)) if !(s.is_finite() && *s > 0.0 && *s < 1.0) => {
                        return Err(err(&k("share"), s, "a number strictly between 0 and 1"));
                    }
                    _ => {}
                }
                validate_peer_list(&k("group"), group, peers)?;
                if group.len() as u32 >= peers {
                    return Err(err(
                        &k("group"),
                        format!("{} peers", group.len()),
                        "a proper subset of the peers (the other group must not be empty)",
                    ));
                }
                let first = match share {
                    Some(s) => partition_size(*s, peers),
                    None if group.is_empty() => partition_size(0.5, peers),
                    None => group.len() as u32,
                };
                if first == 0 || first >= peers {
                    return Err(err(
                        &k("share"),
                        share.unwrap_or(0.5),
                        format!("a share that leaves both groups non-empty with {peers} peers"),
                    ));
                }
                for (j, other) in tl.iter().enumerate().take(i) {
                    if matches!(other, TimelineEvent::Partition { .. }) && overlaps(ev, other) {
                        return Err(err(
                            &k("at_s"),
                            at,
                            format!("a time after the partition of timeline[{j}] has healed"),
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

fn one_f64() -> f64 {
    1.0
}

/// Size of the first group of a partition by `share`.
pub fn partition_size(share: f64, peers: u32) -> u32 {
    (share * f64::from(peers))
        .round()
        .clamp(0.0, f64::from(peers)) as u32
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
        // A hub class that does not exist, a network nobody can dial into.
        assert_eq!(
            key(&|e| {
                e.topology.kind = TopologyKind::HubAndSpoke;
                e.topology.hub_class = Some("server".into());
            }),
            Err("topology.hub_class".into())
        );
        let mut c = crate::classes::ClassSpec::new(
            "browser",
            Experiment::default().peers,
            crate::classes::PeerBehaviourKind::default(),
        );
        c.accepts_inbound = false;
        assert_eq!(
            key(&|e| e.classes = vec![c.clone()]),
            Err("class[].accepts_inbound".into())
        );
        // A hub class without peers; regions that other settings contradict.
        let mut server = crate::classes::ClassSpec::new(
            "server",
            0,
            crate::classes::PeerBehaviourKind::default(),
        );
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
            e.network.regions = Some(crate::classes::RegionsSpec {
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
                e.network.latency = LatencySpec::Constant { ms: 300.0 };
            }),
            Err("network.latency".into())
        );
        let regions_with = |f: &dyn Fn(&mut crate::classes::RegionsSpec)| {
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
                e.churn.session = Some(crate::churn::DurationDist::Constant { s: 5.0 });
                e.churn.offline = Some(crate::churn::DurationDist::Constant { s: 5.0 });
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
}
