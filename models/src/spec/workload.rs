//! `[workload]`: topics, subscribers and publishing.

use super::{err, finite_nonneg, SpecError};
use serde::{Deserialize, Serialize};

/// Who subscribes, who publishes, how often, how big.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Number of topics (default 1).
    pub topics: u32,
    /// Share of peers subscribed to each topic, 0-1 (default 1).
    pub subscribe_share: f64,
    /// Number of peers that publish, drawn at random (default: every peer).
    pub publishers: Option<u32>,
    /// Messages per simulated second across the network (default 1).
    pub rate_per_s: f64,
    /// Payload size in bytes (default 1024; at least 8).
    pub message_bytes: usize,
    /// First publish, simulated seconds (default 5: after the first heartbeat).
    pub start_s: f64,
    /// Publishing stops this long before the end so messages can drain (s, default 2).
    pub drain_s: f64,
    /// `[workload.partial]`: messages sent as partial messages (GossipSub's
    /// partial-messages extension); absent: full messages.
    pub partial: Option<PartialSpec>,
}

/// `[workload.partial]`: each message cut into parts; subscribers may hold
/// some parts already when it is published (as PeerDAS nodes that got
/// columns from elsewhere).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PartialSpec {
    /// Partial messages on (default); `false` sends full messages, the
    /// baseline, so that one sweep axis can compare the two.
    pub enabled: bool,
    /// Parts per message, 1 to 256 (default 8); `message_bytes` must be a
    /// multiple of it (each part is `message_bytes / parts` bytes).
    pub parts: u32,
    /// Share of a holder's parts it holds at the publish, 0-1 (default 0):
    /// each holder holds this share of the parts (rounded), drawn at random
    /// per message.
    pub held_share: f64,
    /// Share of the subscribers that are holders, 0-1 (default 1).
    pub holders_share: f64,
    /// Send parts to a peer before its metadata is known, as the test-plans
    /// rust node (default false: send our metadata and wait for its, as the
    /// test-plans Go node).
    pub eager: bool,
}

impl Default for PartialSpec {
    fn default() -> Self {
        PartialSpec {
            enabled: true,
            parts: 8,
            held_share: 0.0,
            holders_share: 1.0,
            eager: false,
        }
    }
}

impl WorkloadSpec {
    /// `[workload.partial]` when it is present and enabled.
    pub fn partial(&self) -> Option<&PartialSpec> {
        self.partial.as_ref().filter(|p| p.enabled)
    }
}

impl PartialSpec {
    /// The layout of messages of `message_bytes` bytes.
    pub fn layout(&self, message_bytes: usize) -> crate::partial::Layout {
        crate::partial::Layout {
            parts: self.parts,
            part_bytes: (message_bytes / self.parts.max(1) as usize) as u32,
            eager: self.eager,
        }
    }
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            topics: 1,
            subscribe_share: 1.0,
            publishers: None,
            rate_per_s: 1.0,
            message_bytes: 1024,
            start_s: 5.0,
            drain_s: 2.0,
            partial: None,
        }
    }
}

impl WorkloadSpec {
    pub(crate) fn validate(&self, peers: u32) -> Result<(), SpecError> {
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
        finite_nonneg("workload.drain_s", self.drain_s)?;
        if let Some(p) = self.partial() {
            if p.parts == 0 || p.parts > crate::partial::MAX_PARTS {
                return Err(err(
                    "workload.partial.parts",
                    p.parts,
                    "an integer from 1 to 256",
                ));
            }
            if !self.message_bytes.is_multiple_of(p.parts as usize) {
                return Err(err(
                    "workload.partial.parts",
                    p.parts,
                    format!(
                        "a divisor of workload.message_bytes ({}): every part has the same size",
                        self.message_bytes
                    ),
                ));
            }
            for (k, v) in [
                ("held_share", p.held_share),
                ("holders_share", p.holders_share),
            ] {
                if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                    return Err(err(
                        &format!("workload.partial.{k}"),
                        v,
                        "a share from 0 to 1",
                    ));
                }
            }
        }
        Ok(())
    }
}
