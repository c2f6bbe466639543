//! Peer classes, per-class-pair links, regions, the dialer and probes: the
//! parts of the experiment file that describe heterogeneous networks.
//!
//! ```toml
//! [[class]]
//! name = "server"
//! share = 0.2                # or count = 20; shares must sum to 1
//! upload_mbps = 1024.0
//! download_mbps = 1024.0
//! [[class]]
//! name = "browser"
//! share = 0.8
//! upload_mbps = 5.0
//! accepts_inbound = false    # browsers only dial (WebSocket/WebRTC clients)
//! [class.gossipsub]          # overrides of the [gossipsub] section for this class
//! mesh_n_low = 2
//! [[link]]                   # latency model for a pair of classes
//! classes = ["browser", "server"]
//! latency = { model = "lognormal", median_ms = 80.0, sigma = 0.4 }
//! ```
//!
//! Peers are assigned to classes in index order: the first class gets peers
//! `0..count0`, the next the following ones, and so on.

use super::{err, GossipsubSpec, LinkSpec, SpecError};
use serde::{Deserialize, Serialize};

/// A class of peers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClassSpec {
    /// Name (used by `[[link]]`, the topology and reports).
    pub name: String,
    /// Share of the peers (0-1); or use `count`.
    #[serde(default)]
    pub share: Option<f64>,
    /// Number of peers; or use `share`.
    #[serde(default)]
    pub count: Option<u32>,
    /// Upload rate, Mbit/s (absent: unlimited).
    #[serde(default)]
    pub upload_mbps: Option<f64>,
    /// Download rate, Mbit/s (absent: unlimited).
    #[serde(default)]
    pub download_mbps: Option<f64>,
    /// Whether peers of this class accept inbound connections (default true).
    #[serde(default = "yes")]
    pub accepts_inbound: bool,
    /// Place every peer of this class in this region (with `[network.regions]`).
    #[serde(default)]
    pub region: Option<String>,
    /// Overrides of the `[gossipsub]` section for this class.
    #[serde(default)]
    pub gossipsub: Option<GossipsubSpec>,
    /// What the peers of this class do (default `honest`).
    #[serde(default)]
    pub behaviour: PeerBehaviourKind,
    /// Attack rate per simulated second (default 2): invalid messages each
    /// `invalid_spammer` publishes; fake IHAVE ids per neighbour of a
    /// `promise_breaker`; GRAFTs per pruning neighbour of a `graft_spammer`.
    #[serde(default = "d_spam_rate")]
    pub spam_rate_per_s: f64,
    /// Every peer of this class shares one virtual IP (distinct ports), like
    /// Sybils behind one host: GossipSub's IP colocation penalty (P6) sees them.
    #[serde(default)]
    pub shared_ip: bool,
    /// Overrides of the `[scoring]` section for this class's peers (how they score others).
    #[serde(default)]
    pub scoring: Option<crate::spec::ScoringSpec>,
    /// Application validation delay of this class's peers, ms (default 0): an
    /// honest-but-slow peer forwards a message only this long after receiving it.
    #[serde(default)]
    pub validation_delay_ms: f64,
    /// With `[workload.partial]`: whether this class's peers `request`
    /// partial messages (default) or only `support` them (they get the full
    /// messages, and metadata).
    #[serde(default)]
    pub partial: PartialMode,
}

/// How a class takes part in partial messages.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PartialMode {
    /// Requests partial messages: gets parts, and no full message.
    #[default]
    Request,
    /// Supports them only: gets full messages, and partial metadata.
    Support,
}

fn yes() -> bool {
    true
}

impl ClassSpec {
    /// `count` peers named `name` doing `behaviour`, every other key at its
    /// experiment-file default.
    pub fn new(name: &str, count: u32, behaviour: PeerBehaviourKind) -> ClassSpec {
        ClassSpec {
            name: name.into(),
            share: None,
            count: Some(count),
            upload_mbps: None,
            download_mbps: None,
            accepts_inbound: true,
            region: None,
            gossipsub: None,
            behaviour,
            spam_rate_per_s: d_spam_rate(),
            shared_ip: false,
            scoring: None,
            validation_delay_ms: 0.0,
            partial: PartialMode::Request,
        }
    }
}

fn d_spam_rate() -> f64 {
    2.0
}

/// A peer behaviour, acting through the real swarm and GossipSub API.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PeerBehaviourKind {
    /// Validates (when validation is on), forwards and publishes normally.
    #[default]
    Honest,
    /// Reports `Ignore` for every message it receives, so GossipSub never
    /// forwards anything through it (it still publishes its own messages).
    NonForwarder,
    /// Publishes `spam_rate_per_s` messages marked invalid, which honest
    /// peers `Reject` (P4); otherwise honest.
    InvalidSpammer,
    /// Stays connected but never validates (so never forwards) and never
    /// publishes.
    Silent,
    /// Otherwise honest, but advertises (IHAVE) message ids it never
    /// delivers: `spam_rate_per_s` fake ids per topic per neighbour per
    /// second, forged at the transport (broken promises, P7).
    PromiseBreaker,
    /// Otherwise honest, but keeps GRAFTing neighbours that pruned it while
    /// their backoff lasts, at most `spam_rate_per_s` times per second per
    /// neighbour, forged at the transport (behaviour penalty, P7).
    GraftSpammer,
}

impl PeerBehaviourKind {
    /// Whether this behaviour needs GossipSub's `validate_messages()`.
    pub fn needs_validation(self) -> bool {
        matches!(
            self,
            PeerBehaviourKind::NonForwarder
                | PeerBehaviourKind::InvalidSpammer
                | PeerBehaviourKind::Silent
        )
    }
}

/// Resolves class counts for `peers` peers: largest remainder on shares.
pub fn class_counts(classes: &[ClassSpec], peers: u32) -> Vec<u32> {
    if classes.is_empty() {
        return Vec::new();
    }
    let fixed: u64 = classes.iter().filter_map(|c| c.count).map(u64::from).sum();
    let rest = u32::try_from(u64::from(peers).saturating_sub(fixed)).unwrap_or(0);
    let shares: Vec<f64> = classes.iter().map(|c| c.share.unwrap_or(0.0)).collect();
    let total: f64 = shares.iter().sum();
    let mut counts: Vec<u32> = classes
        .iter()
        .zip(&shares)
        .map(|(c, s)| {
            c.count.unwrap_or_else(|| {
                if total > 0.0 {
                    (s / total * f64::from(rest)).floor() as u32
                } else {
                    0
                }
            })
        })
        .collect();
    let placed: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    let left = u32::try_from(u64::from(peers).saturating_sub(placed)).unwrap_or(0);
    // Largest remainders first (ties by class order).
    let mut rema: Vec<(f64, usize)> = classes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.count.is_none())
        .map(|(i, _)| {
            let exact = if total > 0.0 {
                shares[i] / total * f64::from(rest)
            } else {
                0.0
            };
            (exact - exact.floor(), i)
        })
        .collect();
    rema.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rema.iter().cycle().take(left as usize) {
        counts[*i] += 1;
    }
    counts
}

/// Validates classes and links against the peer count and region names.
pub fn validate(
    classes: &[ClassSpec],
    links: &[LinkSpec],
    peers: u32,
    region_names: Option<&[String]>,
) -> Result<(), SpecError> {
    let mut names = std::collections::BTreeSet::new();
    for (i, c) in classes.iter().enumerate() {
        let k = |f: &str| format!("class[{i}].{f}");
        if c.name.is_empty() || !names.insert(c.name.clone()) {
            return Err(err(
                &k("name"),
                format!("{:?}", c.name),
                "a non-empty name, different from the other classes",
            ));
        }
        match (c.share, c.count) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(err(
                    &k("share"),
                    format!("{:?}", c.share),
                    "give exactly one of `share` (0-1) or `count`",
                ))
            }
            (Some(s), None) if !(s.is_finite() && (0.0..=1.0).contains(&s)) => {
                return Err(err(&k("share"), s, "a number from 0 to 1"))
            }
            _ => {}
        }
        if !(c.validation_delay_ms.is_finite() && c.validation_delay_ms >= 0.0) {
            return Err(err(
                &k("validation_delay_ms"),
                c.validation_delay_ms,
                "a delay in ms >= 0",
            ));
        }
        for (f, v) in [
            ("upload_mbps", c.upload_mbps),
            ("download_mbps", c.download_mbps),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(err(
                        &k(f),
                        v,
                        "a bandwidth in Mbit/s > 0 (leave it out for unlimited)",
                    ));
                }
            }
        }
        if !(c.spam_rate_per_s.is_finite() && (0.0..=1000.0).contains(&c.spam_rate_per_s)) {
            return Err(err(
                &k("spam_rate_per_s"),
                c.spam_rate_per_s,
                "a rate from 0 to 1000 messages per second",
            ));
        }
        if let Some(r) = &c.region {
            match region_names {
                None => {
                    return Err(err(
                        &k("region"),
                        format!("{r:?}"),
                        "a region needs a [network.regions] model",
                    ))
                }
                Some(ns) if !ns.contains(r) => {
                    return Err(err(
                        &k("region"),
                        format!("{r:?}"),
                        format!("one of {}", ns.join(", ")),
                    ))
                }
                _ => {}
            }
        }
    }
    if peers > 1 && !classes.is_empty() && classes.iter().all(|c| !c.accepts_inbound) {
        return Err(err(
            "class[].accepts_inbound",
            "false in every class",
            "true in at least one class: a peer can only dial one that accepts inbound connections, so no connection could form",
        ));
    }
    if !classes.is_empty() {
        let shares: Vec<f64> = classes.iter().filter_map(|c| c.share).collect();
        // Summed wide: counts near u32::MAX must not wrap to a small total.
        let fixed: u64 = classes.iter().filter_map(|c| c.count).map(u64::from).sum();
        if fixed > u64::from(peers) {
            return Err(err(
                "class",
                format!("counts summing to {fixed}"),
                format!("at most peers ({peers})"),
            ));
        }
        if classes.iter().all(|c| c.share.is_some()) {
            let sum: f64 = shares.iter().sum();
            if (sum - 1.0).abs() > 1e-6 {
                return Err(err(
                    "class[].share",
                    format!("shares summing to {sum}"),
                    "shares that sum to 1",
                ));
            }
        } else if !shares.is_empty() && fixed == u64::from(peers) && shares.iter().any(|&s| s > 0.0)
        {
            return Err(err(
                "class[].share",
                "shares with counts that already fill every peer",
                "counts summing to less than peers",
            ));
        }
    }
    for (i, l) in links.iter().enumerate() {
        for (j, n) in l.classes.iter().enumerate() {
            if !names.contains(n) {
                return Err(err(
                    &format!("link[{i}].classes[{j}]"),
                    format!("{n:?}"),
                    format!(
                        "a class name ({})",
                        names.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        crate::spec::validate_latency(&format!("link[{i}].latency"), &l.latency)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{builtin_regions, LatencyModel};

    fn class(name: &str, share: Option<f64>, count: Option<u32>) -> ClassSpec {
        ClassSpec {
            share,
            count,
            ..ClassSpec::new(name, 0, PeerBehaviourKind::Honest)
        }
    }

    #[test]
    fn counts_follow_shares_exactly() {
        let c = [class("a", Some(0.2), None), class("b", Some(0.8), None)];
        assert_eq!(class_counts(&c, 100), vec![20, 80]);
        assert_eq!(class_counts(&c, 7), vec![1, 6]);
        let c = [class("a", None, Some(3)), class("b", Some(1.0), None)];
        assert_eq!(class_counts(&c, 10), vec![3, 7]);
    }

    #[test]
    fn shares_must_sum_to_one_and_names_must_exist() {
        let c = [class("a", Some(0.3), None), class("b", Some(0.3), None)];
        assert_eq!(
            validate(&c, &[], 10, None).unwrap_err().key,
            "class[].share"
        );
        let c = [class("a", Some(0.5), None), class("b", Some(0.5), None)];
        let l = [LinkSpec {
            classes: ["a".into(), "zz".into()],
            latency: LatencyModel::Constant { ms: 1.0 },
        }];
        assert_eq!(
            validate(&c, &l, 10, None).unwrap_err().key,
            "link[0].classes[1]"
        );
        let mut r = class("a", Some(1.0), None);
        r.region = Some("mars".into());
        let (names, _, _) = builtin_regions();
        assert_eq!(
            validate(&[r], &[], 10, Some(&names)).unwrap_err().key,
            "class[0].region"
        );
    }

    #[test]
    fn builtin_regions_are_complete() {
        let (names, weights, m) = builtin_regions();
        assert_eq!(names.len(), 8);
        assert_eq!(weights.len(), 8);
        assert!(
            m.iter().all(|r| r.iter().all(|&x| x > 0.0)),
            "every pair has a latency"
        );
        let eu = names.iter().position(|n| n == "europe").unwrap();
        assert!(m[eu][eu] < m[eu][0]);
    }
}
