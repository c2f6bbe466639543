//! The experiment specification: what an experiment file (TOML) says.
//!
//! Every section and key is optional except where noted; absent keys take
//! the defaults documented on each field (GossipSub knobs default to the
//! `libp2p-gossipsub` crate's own defaults). Unknown keys are errors.
//! [`Experiment::validate`] checks what serde cannot, and names the key path.

mod churn;
mod classes;
mod dialer;
mod gossipsub;
mod history;
mod limits;
mod measure;
mod network;
mod probes;
mod scoring;
#[cfg(test)]
mod tests;
mod timeline;
mod topology;
mod transport;
mod workload;

pub use churn::*;
pub use classes::*;
pub use dialer::*;
pub use gossipsub::*;
pub use history::*;
pub use limits::*;
pub use measure::*;
pub use network::*;
pub use probes::*;
pub use scoring::*;
pub use timeline::*;
pub use topology::*;
pub use transport::*;
pub use workload::*;

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
        value: short_value(&value.to_string()),
        allowed: allowed.into(),
    }
}

/// A value as an error message shows it: a long number in scientific
/// notation (`1e300`, not 301 digits), anything else long cut to about
/// 60 characters.
pub fn short_value(s: &str) -> String {
    if s.len() > 20 {
        if let Ok(x) = s.parse::<f64>() {
            return format!("{x:e}");
        }
    }
    if s.chars().count() <= 60 {
        return s.to_string();
    }
    let head: String = s.chars().take(50).collect();
    // A quote opened in the head is closed (`"yyy..."`), so that what
    // follows in a message is not read as quoted.
    let close = if head.matches('"').count() % 2 == 1 {
        "\""
    } else {
        ""
    };
    format!("{head}...{close} ({} characters)", s.chars().count())
}

/// One experiment: a network, a workload and how long to run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Experiment {
    /// Name; results go to `results/<name>/`.
    pub name: String,
    /// Free text shown in reports.
    pub description: String,
    /// Master seed (overridden by `--seed`).
    pub seed: u64,
    /// Number of simulated peers.
    pub peers: u32,
    /// Simulated seconds to run.
    pub duration_s: f64,
    /// Links.
    pub network: NetworkSpec,
    /// Initial connections.
    pub topology: TopologySpec,
    /// GossipSub configuration.
    pub gossipsub: GossipsubSpec,
    /// Topics, subscribers and publishing.
    pub workload: WorkloadSpec,
    /// Safety limits.
    pub limits: LimitsSpec,
    /// What is measured during the run.
    pub measure: MeasureSpec,
    /// Peer classes (`[[class]]`); none: every peer alike.
    #[serde(rename = "class")]
    pub classes: Vec<ClassSpec>,
    /// Latency models per pair of classes (`[[link]]`).
    #[serde(rename = "link")]
    pub links: Vec<LinkSpec>,
    /// The automatic dialer / connection manager.
    pub dialer: DialerSpec,
    /// Health-check probes.
    pub probes: ProbeSpec,
    /// Churn drawn from distributions.
    pub churn: ChurnSpec,
    /// Prolly-tree history sync (off by default).
    pub history: HistorySpec,
    /// Scheduled scenario events: peers going offline, partitions.
    pub timeline: Vec<TimelineEvent>,
    /// Peer scoring (off unless a preset is chosen).
    pub scoring: ScoringSpec,
    /// Split the simulation into this many parts, each on its own thread
    /// (peers in contiguous index blocks), exchanging what crosses between
    /// them in windows of the smallest link latency (default 1: one thread).
    /// A run is reproducible for a given number; results differ between
    /// numbers, as between seeds. For networks of thousands of peers.
    pub partitions: u16,
}

/// A day in milliseconds: the upper bound of the experiment's intervals
/// and durations in ms (beyond it, nanosecond arithmetic and GossipSub's
/// per-heartbeat storage are what would break).
pub const DAY_MS: u64 = 86_400_000;

/// Most partitions a run may have.
pub const MAX_PARTITIONS: u16 = 64;

impl Default for Experiment {
    fn default() -> Self {
        Experiment {
            name: "experiment".into(),
            description: String::new(),
            seed: 1,
            peers: 200,
            duration_s: 60.0,
            network: NetworkSpec::default(),
            topology: TopologySpec::default(),
            gossipsub: GossipsubSpec::default(),
            workload: WorkloadSpec::default(),
            limits: LimitsSpec::default(),
            measure: MeasureSpec::default(),
            classes: Vec::new(),
            links: Vec::new(),
            dialer: DialerSpec::default(),
            probes: ProbeSpec::default(),
            churn: ChurnSpec::default(),
            history: HistorySpec::default(),
            timeline: Vec::new(),
            scoring: ScoringSpec::default(),
            partitions: 1,
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
        classes::validate(
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
        self.measure.validate()?;
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
            if self.network.latency != default_latency() {
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
        self.validate_partial_combinations()?;
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
        if self.topology.kind == TopologyKind::HubAndSpoke && self.classes.is_empty() {
            return Err(err(
                "topology.kind",
                "\"hub_and_spoke\"",
                "a kind for peers without classes, or [[class]] entries: the hubs are the peers of \
                 topology.hub_class (or of the classes that accept inbound connections), so without \
                 classes every peer would be left alone",
            ));
        }
        if self.topology.kind == TopologyKind::HubAndSpoke && !self.classes.is_empty() {
            let counts = class_counts(&self.classes, self.peers);
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

    /// What partial messages do not carry: probes and history entries are
    /// full messages (requesting peers never get them), and adversarial
    /// behaviours and validation delays act on full messages only.
    fn validate_partial_combinations(&self) -> Result<(), SpecError> {
        if self.workload.partial().is_none() {
            return Ok(());
        }
        let why =
            "not with [workload.partial]: partial messages are not validated by the application \
                   and carry no probe or history entry (requesting peers never get full messages)";
        if self.probes.count > 0 {
            return Err(err("probes.count", self.probes.count, why));
        }
        if self.history.enabled {
            return Err(err("history.enabled", true, why));
        }
        for (i, c) in self.classes.iter().enumerate() {
            if c.behaviour != PeerBehaviourKind::Honest {
                return Err(err(
                    &format!("class[{i}].behaviour"),
                    format!("{:?}", c.behaviour).to_lowercase(),
                    format!("honest {why}"),
                ));
            }
            if c.validation_delay_ms > 0.0 {
                return Err(err(
                    &format!("class[{i}].validation_delay_ms"),
                    c.validation_delay_ms,
                    format!("0 {why}"),
                ));
            }
        }
        Ok(())
    }

    /// GossipSub's transmit limit (`max_transmit_size`) of the experiment
    /// and of each class that sets its own GossipSub keys, with their keys.
    fn transmit_limits(&self) -> Vec<(String, usize)> {
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
        limits
    }

    /// The smallest GossipSub transmit limit of any peer: frames up to this
    /// size may be held packed while they arrive (memory only; see
    /// `sim::NetConfig::read_hold_bytes`).
    pub fn smallest_transmit_limit(&self) -> usize {
        self.transmit_limits()
            .into_iter()
            .map(|(_, l)| l)
            .min()
            .unwrap_or(0)
    }

    /// Messages larger than GossipSub's transmit limit can never be
    /// published: a mistake, not an experiment. (A run that ends before
    /// publishing starts is allowed, for short smoke runs; its summary says
    /// that no message was published.)
    fn validate_workload_fits(&self) -> Result<(), SpecError> {
        let w = &self.workload;
        let limits = self.transmit_limits();
        // A partial message carrying every part is larger than the message:
        // its bitmap, the 8-byte group id, and the topic, group id, metadata
        // and field framing of its RPC (128 bytes covers topics of up to
        // about 60 bytes and 256 parts).
        let extra = match w.partial() {
            Some(p) => (p.parts as usize).div_ceil(8) + 8 + 128,
            None => 0,
        };
        for (key, max) in limits {
            if w.message_bytes + extra > max {
                let allowed = if extra > 0 {
                    format!(
                        "at most {key} ({max}) minus {extra} bytes, so {}: a partial message \
                         holding every part also carries the parts' bitmap, its group id and \
                         framing; larger messages fail to publish (raise {key} or lower \
                         workload.message_bytes)",
                        max.saturating_sub(extra)
                    )
                } else {
                    format!(
                        "at most {key} ({max}): larger messages fail to publish \
                         (raise {key} or lower workload.message_bytes)"
                    )
                };
                return Err(err("workload.message_bytes", w.message_bytes, allowed));
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

fn finite_nonneg(key: &str, v: f64) -> Result<(), SpecError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(err(key, v, "a finite number >= 0"))
    }
}
