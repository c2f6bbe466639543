//! `[[timeline]]`: scheduled scenario events and their checks.

use super::{err, finite_nonneg, SpecError};
use serde::{Deserialize, Serialize};

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

pub(crate) fn validate_timeline(
    tl: &[TimelineEvent],
    peers: u32,
    duration_s: f64,
) -> Result<(), SpecError> {
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
                    return Err(err(&k("loss"), loss, "a probability from 0 to below 0.99"));
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
