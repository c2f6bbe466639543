//! The summary of one run (what `meshsim run` prints and `runs.csv` holds).

use crate::collector::Collector;
use crate::history::metrics::{ConvergenceRecord, RootSample, SyncRecord};
use crate::spec::Experiment;
use serde::{Deserialize, Serialize};

/// Latency percentiles, milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

/// Min / mean / max of a per-peer quantity.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MinMeanMax {
    /// Minimum.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Maximum.
    pub max: f64,
}

/// Summary of one run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RunSummary {
    /// Hash of the event trace: equal hashes mean identical runs.
    pub trace_hash: String,
    /// Experiment name.
    pub experiment: String,
    /// Master seed.
    pub seed: u64,
    /// Peers.
    pub peers: u32,
    /// Simulated seconds.
    pub sim_seconds: f64,
    /// Wall-clock seconds (measured around the run; not part of the trace).
    pub wall_seconds: f64,
    /// Messages published.
    pub messages_published: u64,
    /// First deliveries to subscribers.
    pub deliveries: u64,
    /// Deliveries that should have happened (subscribers other than the publisher).
    pub deliveries_expected: u64,
    /// deliveries / deliveries_expected.
    pub delivery_ratio: f64,
    /// First-delivery latency, milliseconds.
    pub latency_ms: Percentiles,
    /// Extra copies received per delivery: (copies on the wire - deliveries) / deliveries.
    pub duplicates_per_delivery: f64,
    /// Mean bytes written per peer (all protocols, including negotiation).
    pub bytes_sent_per_peer: f64,
    /// Final mesh degree over live (up) subscribed peers and topics, as
    /// `isolated_peers_end` counts them (0s when none is up).
    pub mesh_degree: MinMeanMax,
    /// Engine events processed.
    pub events: u64,
    /// Node polls.
    pub polls: u64,
    /// Connected components of the initial graph (1 = connected).
    pub initial_components: usize,
    /// GRAFT entries seen on the wire.
    pub graft: u64,
    /// PRUNE entries.
    pub prune: u64,
    /// IHAVE entries.
    pub ihave: u64,
    /// IWANT entries.
    pub iwant: u64,
    /// IDONTWANT entries.
    pub idontwant: u64,
    /// Publishes refused by GossipSub.
    pub publish_errors: u64,
    /// Mesh convergence time, simulated seconds: from when on every live
    /// subscriber's mesh stayed at or above min(D_lo, subscribed neighbours)
    /// (see `sampler`); -1 when it had not converged by the end.
    #[serde(default)]
    pub convergence_s: f64,
    /// Most live subscribers without any mesh peer in one sample, after the
    /// initial mesh formation; never less than `isolated_peers_end`.
    #[serde(default)]
    pub isolated_peers_max: u32,
    /// Live subscribers without any mesh peer in the last sample.
    #[serde(default)]
    pub isolated_peers_end: u32,
    /// Live subscribers without any connection in the last sample.
    #[serde(default)]
    pub disconnected_peers_end: u32,
    /// Publish time of the first message from which on every message reached
    /// every live subscriber (s); -1 if the last messages did not.
    #[serde(default)]
    pub delivery_recovered_s: f64,
    /// Health-check probes: share of probe messages that reached every other
    /// live probe (-1 without any probe message: not applicable).
    #[serde(default = "not_applicable")]
    pub probe_full_delivery_ratio: f64,
    /// Connections established during the run.
    #[serde(default)]
    pub connections_opened: u64,
    /// Connections closed or lost during the run.
    #[serde(default)]
    pub connections_closed: u64,
    /// Initial edges that could not be dialed (both ends refuse inbound connections).
    #[serde(default)]
    pub impossible_edges: u64,
    /// GossipSub control bytes per published-message byte on the wire.
    #[serde(default)]
    pub control_overhead_ratio: f64,
    /// Dials the automatic dialers started (peers up at the end).
    #[serde(default)]
    pub dialer_dials: u64,
    /// Of those, dials that failed.
    #[serde(default)]
    pub dialer_failures: u64,
    /// Address-book entries given up after `dialer.retry_limit` failures.
    #[serde(default)]
    pub dialer_given_up: u64,
    /// Peers the dialers learned through GossipSub peer exchange (PRUNE with PX).
    #[serde(default)]
    pub dialer_px_learned: u64,
    /// Delivery ratio to peers of `behaviour = "honest"` classes (all peers without classes).
    #[serde(default)]
    pub honest_delivery_ratio: f64,
    /// Delivery ratio to peers with another behaviour (-1 without any).
    #[serde(default)]
    pub attacker_delivery_ratio: f64,
    /// The lowest delivery ratio of any class's honest peers (the whole network without classes).
    #[serde(default)]
    pub min_class_delivery_ratio: f64,
    /// Mean bytes sent per attacker peer (-1 without any).
    #[serde(default)]
    pub attacker_bytes_sent_per_peer: f64,
    /// Mean seconds an honest subscriber of topic 0 spent without any mesh peer there (sampled).
    #[serde(default)]
    pub honest_isolated_s_mean: f64,
    /// The same for peers with another behaviour (-1 without any).
    #[serde(default)]
    pub attacker_isolated_s_mean: f64,
    /// The highest of those means over the classes of honest peers (which
    /// class is cut off; per-peer values are `isolated_s` in peers.csv).
    #[serde(default)]
    pub max_class_isolated_s_mean: f64,
    /// PRUNE entries received per honest peer (needs `measure.wire`, else 0).
    #[serde(default)]
    pub honest_prunes_received_per_peer: f64,
    /// Fake message ids the `promise_breaker` peers advertised (IHAVE).
    #[serde(default)]
    pub forged_ihave_ids: u64,
    /// GRAFTs the `graft_spammer` peers sent inside a backoff.
    #[serde(default)]
    pub forged_grafts: u64,
    /// Scoring: most honest peers that some neighbour scored below the graylist threshold in one sample.
    #[serde(default)]
    pub graylisted_honest_max: f64,
    /// Scoring: lowest score any neighbour gave an honest peer over the samples (0 when scoring is off).
    #[serde(default)]
    pub score_min_honest: f64,
    /// Entropy requests served by the seeded hook on the simulation thread.
    pub entropy_served: u64,
    /// Entropy requests the simulation thread sent to the OS (must be 0).
    pub entropy_os_fallbacks: u64,
    /// ed25519 verifications and key decompressions answered from the
    /// simulation thread's memo (computed once, remembered for every peer).
    #[serde(default)]
    pub memo_hits: u64,
    /// ed25519 verifications and key decompressions computed after a memo
    /// lookup (0 with `--no-memo`, where nothing is looked up).
    #[serde(default)]
    pub memo_misses: u64,
    /// GossipSub data bytes sent per peer: published messages and
    /// partial-message bodies, as decoded on the wire.
    #[serde(default)]
    pub data_bytes_per_peer: f64,
    /// GossipSub control bytes sent per peer (subscriptions, GRAFT, PRUNE,
    /// IHAVE, IWANT, IDONTWANT, partial-message metadata and framing).
    #[serde(default)]
    pub control_bytes_per_peer: f64,
    /// Messages were sent as partial messages (`[workload.partial]`): a
    /// delivery is then a peer holding every part, and its latency is the
    /// time until then. The `partial_*` fields below are zero otherwise.
    #[serde(default)]
    pub partial_enabled: bool,
    /// Parts the receivers lacked when their messages were published (what
    /// their metadata requests).
    #[serde(default)]
    pub partial_parts_missing: u64,
    /// Parts in partial-message bodies on the wire (every copy).
    #[serde(default)]
    pub partial_parts_received: u64,
    /// Of them, parts their receiver already held (or got from another
    /// peer first): on the wire minus those the receivers took as new.
    #[serde(default)]
    pub partial_parts_duplicate: u64,
    /// Partial messages on the wire that carried parts.
    #[serde(default)]
    pub partial_messages_with_parts: u64,
    /// Partial messages on the wire that carried only metadata (what the
    /// sender holds: the extension's announcements and requests).
    #[serde(default)]
    pub partial_messages_metadata_only: u64,
    /// Partial messages that were not valid (wrong group, bad body).
    #[serde(default)]
    pub partial_invalid: u64,
    /// Bytes of partial-message bodies sent per peer.
    #[serde(default)]
    pub partial_data_bytes_per_peer: f64,
    /// Other bytes of partial messages sent per peer (topic, group id,
    /// metadata, framing of the extension's fields).
    #[serde(default)]
    pub partial_control_bytes_per_peer: f64,
    /// History sync was on (`history.enabled`); the `sync_*` fields below are zero otherwise.
    #[serde(default)]
    pub history_enabled: bool,
    /// Syncs finished (complete, aborted or failed).
    #[serde(default)]
    pub syncs: u64,
    /// Syncs that completed their walk.
    #[serde(default)]
    pub syncs_completed: u64,
    /// Syncs aborted by their server (timeout); the client restarts them.
    #[serde(default)]
    pub syncs_aborted: u64,
    /// Syncs that failed (connection lost, refused, malformed answer).
    #[serde(default)]
    pub syncs_failed: u64,
    /// Round trips per sync (p50, p90, p99, max).
    #[serde(default)]
    pub sync_round_trips: Percentiles,
    /// Duration per sync, milliseconds.
    #[serde(default)]
    pub sync_duration_ms: Percentiles,
    /// Request bytes of all syncs (client to server, frame prefixes included).
    #[serde(default)]
    pub sync_bytes_sent: u64,
    /// Response bytes of all syncs (server to client).
    #[serde(default)]
    pub sync_bytes_received: u64,
    /// Entries fetched by all syncs.
    #[serde(default)]
    pub sync_entries_fetched: u64,
    /// Sync convergence time after the last peer return or partition healing:
    /// seconds until every live replica had the same root (`None`: no such
    /// event, or not converged by the end).
    #[serde(default)]
    pub sync_convergence_s: Option<f64>,
    /// The longest convergence time over all returns and healings (`None` if
    /// there were none or one did not converge).
    #[serde(default)]
    pub sync_convergence_max_s: Option<f64>,
    /// Every return and healing was followed by convergence.
    #[serde(default)]
    pub sync_converged: bool,
    /// Peer returns and partition healings after which convergence was measured.
    #[serde(default)]
    pub sync_events: u64,
    /// Those of them not followed by convergence by the end.
    #[serde(default)]
    pub sync_unconverged: u64,
    /// (peer, message) pairs that a sync fetched and GossipSub never delivered.
    #[serde(default)]
    pub messages_recovered_by_sync: u64,
    /// GossipSub messages reported `Ignore` because parents were missing.
    #[serde(default)]
    pub missing_parent_ignored: u64,
    /// Distinct root hashes among live peers at the end.
    #[serde(default)]
    pub final_distinct_roots: u32,
    /// Malformed or oversized sync messages rejected.
    #[serde(default)]
    pub sync_rejected: u64,
    /// Syncs aborted by their server at the deadline (seen by servers).
    #[serde(default)]
    pub sync_server_aborts: u64,
    /// Per-sync records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_records: Vec<SyncRecord>,
    /// Convergence per peer return or partition healing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub convergence: Vec<ConvergenceRecord>,
    /// Distinct root hashes across live peers over time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub root_series: Vec<RootSample>,
}

/// -1: the value of a metric that does not apply.
fn not_applicable() -> f64 {
    -1.0
}

/// Publish time (s) of the first workload message from which on every message
/// was delivered to all its expected receivers; -1 if the last one was not.
pub fn delivery_recovered_s(messages: &[crate::collector::MsgRecord]) -> f64 {
    let work: Vec<_> = messages.iter().filter(|m| !m.probe).collect();
    match work.iter().rposition(|m| m.delivered < m.expected) {
        None => work.first().map_or(0.0, |m| m.published_ns as f64 / 1e9),
        Some(i) => work
            .get(i + 1)
            .map_or(-1.0, |m| m.published_ns as f64 / 1e9),
    }
}

/// Most live subscribers without any mesh peer in one sample: the samples
/// after the initial mesh formation (from the first converged sample on),
/// and always the last sample, so that the maximum is never below the end
/// state (a run whose meshes never form has no converged sample at all).
pub fn isolated_peers_max(samples: &[crate::series::Sample]) -> u32 {
    let after_formation = samples.iter().skip_while(|s| !s.converged());
    after_formation
        .chain(samples.last())
        .map(|s| s.isolated_peers)
        .max()
        .unwrap_or(0)
}

/// Percentile by nearest rank on sorted data.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl RunSummary {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build(
        spec: &Experiment,
        seed: u64,
        c: &Collector,
        mesh_degrees: &[u32],
        bytes_sent: &[u64],
        stats: sim::EngineStats,
        initial_components: usize,
        now_ns: u64,
    ) -> RunSummary {
        let mut lat = c.latencies_ns.clone();
        lat.sort_unstable();
        let ms = |ns: u64| ns as f64 / 1e6;
        let expected: u64 = c
            .messages
            .iter()
            .filter(|m| !m.probe)
            .map(|m| u64::from(m.expected))
            .sum();
        let deliveries = c.counters.deliveries;
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let per_peer = |total: u64| {
            if c.peers.is_empty() {
                0.0
            } else {
                total as f64 / c.peers.len() as f64
            }
        };
        // Parts on the wire: each body is its bitmap, its parts and the
        // 8-byte group id; parts all have the layout's size.
        let on_wire = spec.workload.partial().map_or(0, |p| {
            let l = p.layout(spec.workload.message_bytes);
            let framing = c.counters.partial_bodies * (l.bitmap_bytes() as u64 + 8);
            c.counters.partial_data_bytes.saturating_sub(framing) / u64::from(l.part_bytes.max(1))
        });
        let degrees: Vec<f64> = mesh_degrees.iter().map(|&d| f64::from(d)).collect();
        RunSummary {
            trace_hash: c.trace_hash(),
            experiment: spec.name.clone(),
            seed,
            peers: spec.peers,
            sim_seconds: now_ns as f64 / 1e9,
            wall_seconds: 0.0,
            messages_published: c.messages.iter().filter(|m| !m.probe).count() as u64,
            deliveries,
            deliveries_expected: expected,
            delivery_ratio: if expected == 0 {
                1.0
            } else {
                deliveries as f64 / expected as f64
            },
            latency_ms: Percentiles {
                p50: ms(percentile(&lat, 50.0)),
                p90: ms(percentile(&lat, 90.0)),
                p99: ms(percentile(&lat, 99.0)),
                max: ms(lat.last().copied().unwrap_or(0)),
            },
            duplicates_per_delivery: if deliveries == 0 {
                0.0
            } else {
                c.counters.copies_received.saturating_sub(deliveries) as f64 / deliveries as f64
            },
            bytes_sent_per_peer: mean(&bytes_sent.iter().map(|&b| b as f64).collect::<Vec<_>>()),
            mesh_degree: MinMeanMax {
                min: degrees.iter().copied().reduce(f64::min).unwrap_or(0.0),
                mean: mean(&degrees),
                max: degrees.iter().copied().fold(0.0, f64::max),
            },
            events: stats.events,
            polls: stats.polls,
            initial_components,
            graft: c.counters.graft,
            prune: c.counters.prune,
            ihave: c.counters.ihave,
            iwant: c.counters.iwant,
            idontwant: c.counters.idontwant,
            publish_errors: c.counters.publish_errors,
            convergence_s: crate::series::convergence_s(&c.samples).unwrap_or(-1.0),
            isolated_peers_max: isolated_peers_max(&c.samples),
            isolated_peers_end: c.samples.last().map_or(0, |s| s.isolated_peers),
            disconnected_peers_end: c.samples.last().map_or(0, |s| s.disconnected_peers),
            delivery_recovered_s: delivery_recovered_s(&c.messages),
            // Counted at both ends.
            connections_opened: c.counters.connection_events_open / 2,
            connections_closed: c.counters.connection_events_closed / 2,
            impossible_edges: c.counters.impossible_edges,
            control_overhead_ratio: {
                let data: u64 = c.peers.iter().map(|p| p.data_bytes_sent).sum();
                let control: u64 = c.peers.iter().map(|p| p.control_bytes_sent).sum();
                if data == 0 {
                    0.0
                } else {
                    control as f64 / data as f64
                }
            },
            probe_full_delivery_ratio: {
                let probes: Vec<_> = c.messages.iter().filter(|m| m.probe).collect();
                if probes.is_empty() {
                    -1.0
                } else {
                    probes.iter().filter(|m| m.delivered >= m.expected).count() as f64
                        / probes.len() as f64
                }
            },
            data_bytes_per_peer: per_peer(c.peers.iter().map(|p| p.data_bytes_sent).sum()),
            control_bytes_per_peer: per_peer(c.peers.iter().map(|p| p.control_bytes_sent).sum()),
            partial_enabled: spec.workload.partial().is_some(),
            partial_parts_missing: c.counters.partial_parts_missing,
            partial_parts_received: on_wire,
            partial_parts_duplicate: on_wire.saturating_sub(c.counters.partial_parts_new),
            partial_messages_with_parts: c.counters.partial_bodies,
            partial_messages_metadata_only: c
                .counters
                .partial_messages
                .saturating_sub(c.counters.partial_bodies),
            partial_invalid: c.counters.partial_invalid,
            partial_data_bytes_per_peer: per_peer(c.counters.partial_data_bytes),
            partial_control_bytes_per_peer: per_peer(c.counters.partial_control_bytes),
            entropy_served: 0,
            entropy_os_fallbacks: 0,
            ..RunSummary::default()
        }
        .with_history(spec, c)
        .with_behaviours(spec, c, bytes_sent)
    }

    /// Delivery split by behaviour and class, and score extremes from the samples.
    fn with_behaviours(
        mut self,
        spec: &Experiment,
        c: &Collector,
        bytes_sent: &[u64],
    ) -> RunSummary {
        use crate::spec::PeerBehaviourKind;
        let counts = crate::spec::class_counts(&spec.classes, spec.peers);
        let mut class_of = Vec::with_capacity(spec.peers as usize);
        for (k, &n) in counts.iter().enumerate() {
            class_of.extend(std::iter::repeat_n(k, n as usize));
        }
        let honest = |p: usize| {
            class_of
                .get(p)
                .and_then(|&k| spec.classes.get(k))
                .is_none_or(|cl| cl.behaviour == PeerBehaviourKind::Honest)
        };
        let ratio = |(d, e): (u64, u64)| if e == 0 { 1.0 } else { d as f64 / e as f64 };
        let mut h = (0u64, 0u64);
        let mut a = (0u64, 0u64);
        let mut a_bytes = (0u64, 0u64);
        let mut per_class = vec![(0u64, 0u64); spec.classes.len().max(1)];
        // Isolation: (seconds, peers) for honest peers, attackers, and per honest class.
        let mut iso_h = (0.0f64, 0u32);
        let mut iso_a = (0.0f64, 0u32);
        let mut iso_class = vec![(0.0f64, 0u32); spec.classes.len().max(1)];
        let (mut honest_prunes, mut honest_n) = (0u64, 0u32);
        for (p, pc) in c.peers.iter().enumerate() {
            let (d, e) = (pc.deliveries, pc.deliveries_expected);
            // Isolation means count topic-0 subscribers only (the others have no mesh to lose).
            let sub = u32::from(c.subscribed0.get(p).copied().unwrap_or(true));
            let iso = c.isolated_s.get(p).copied().unwrap_or(0.0);
            if honest(p) {
                h.0 += d;
                h.1 += e;
                iso_h = (iso_h.0 + iso, iso_h.1 + sub);
                honest_n += 1;
                honest_prunes += pc.prune_received;
                let k = class_of.get(p).copied().unwrap_or(0);
                if let Some(x) = per_class.get_mut(k) {
                    x.0 += d;
                    x.1 += e;
                }
                if let Some(x) = iso_class.get_mut(k) {
                    *x = (x.0 + iso, x.1 + sub);
                }
            } else {
                a.0 += d;
                a.1 += e;
                a_bytes.0 += bytes_sent.get(p).copied().unwrap_or(0);
                a_bytes.1 += 1;
                iso_a = (iso_a.0 + iso, iso_a.1 + sub);
            }
        }
        let mean = |(s, n): (f64, u32)| if n == 0 { 0.0 } else { s / f64::from(n) };
        self.honest_isolated_s_mean = mean(iso_h);
        self.attacker_isolated_s_mean = if iso_a.1 == 0 { -1.0 } else { mean(iso_a) };
        self.max_class_isolated_s_mean = iso_class
            .iter()
            .filter(|x| x.1 > 0)
            .map(|&x| mean(x))
            .fold(0.0, f64::max);
        self.honest_prunes_received_per_peer = if honest_n == 0 {
            0.0
        } else {
            honest_prunes as f64 / f64::from(honest_n)
        };
        self.honest_delivery_ratio = ratio(h);
        self.attacker_delivery_ratio = if a_bytes.1 == 0 { -1.0 } else { ratio(a) };
        self.attacker_bytes_sent_per_peer = if a_bytes.1 == 0 {
            -1.0
        } else {
            a_bytes.0 as f64 / a_bytes.1 as f64
        };
        self.min_class_delivery_ratio = per_class
            .iter()
            .filter(|x| x.1 > 0)
            .map(|&x| ratio(x))
            .fold(1.0, f64::min);
        let metric = |name: &'static str| -> Vec<f64> {
            c.samples
                .iter()
                .flat_map(|s| s.extra.iter())
                .filter(|(m, _)| m == name)
                .map(|(_, v)| *v)
                .collect()
        };
        self.graylisted_honest_max = metric("graylisted_honest").into_iter().fold(0.0, f64::max);
        self.score_min_honest = metric("score_min_honest").into_iter().fold(0.0, f64::min);
        self
    }

    fn with_history(mut self, spec: &Experiment, c: &Collector) -> RunSummary {
        if !spec.history.enabled {
            return self;
        }
        let h = &c.history;
        let pct = |mut v: Vec<u64>, scale: f64| {
            v.sort_unstable();
            Percentiles {
                p50: percentile(&v, 50.0) as f64 / scale,
                p90: percentile(&v, 90.0) as f64 / scale,
                p99: percentile(&v, 99.0) as f64 / scale,
                max: v.last().copied().unwrap_or(0) as f64 / scale,
            }
        };
        let count = |o: &str| h.syncs.iter().filter(|s| s.outcome == o).count() as u64;
        let times: Vec<Option<f64>> = h.convergence.iter().map(|c| c.converged_after_s).collect();
        self.history_enabled = true;
        self.syncs = h.syncs.len() as u64;
        self.syncs_completed = count("complete");
        self.syncs_aborted = count("aborted");
        self.syncs_failed = count("failed");
        self.sync_round_trips = pct(h.syncs.iter().map(|s| s.round_trips).collect(), 1.0);
        self.sync_duration_ms = pct(
            h.syncs
                .iter()
                .map(|s| (s.duration_ms * 1e3).round() as u64)
                .collect(),
            1e3,
        );
        self.sync_bytes_sent = h.syncs.iter().map(|s| s.bytes_sent).sum();
        self.sync_bytes_received = h.syncs.iter().map(|s| s.bytes_received).sum();
        self.sync_entries_fetched = h.syncs.iter().map(|s| s.entries_fetched).sum();
        self.sync_convergence_s = times.last().copied().flatten();
        self.sync_converged = times.iter().all(Option::is_some);
        self.sync_events = times.len() as u64;
        self.sync_unconverged = times.iter().filter(|t| t.is_none()).count() as u64;
        self.sync_convergence_max_s = if self.sync_converged {
            times.iter().flatten().copied().reduce(f64::max)
        } else {
            None
        };
        self.messages_recovered_by_sync = h.recovered_only_by_sync();
        self.missing_parent_ignored = h.missing_parent_ignored;
        self.final_distinct_roots = h.distinct_roots();
        self.sync_rejected = h.rejected;
        self.sync_server_aborts = h.server_aborts;
        self.sync_records = h.syncs.clone();
        self.convergence = h.convergence.clone();
        self.root_series = h.series.clone();
        self
    }
}

#[cfg(test)]
mod tests;
