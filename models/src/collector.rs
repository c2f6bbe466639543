//! What a run measures, and the trace hash that proves determinism.
//!
//! The trace hash is a BLAKE3 hash over one fixed-size record per traced
//! event: every first delivery (virtual time, peer, message), connection
//! open and close, remote subscription, publish, and at the end each peer's
//! sorted mesh. ConnectionIds and other process-wide counters stay out of it.

use crate::history::metrics::HistoryMetrics;
use crate::history::{Outcome, SyncReport};
use crate::trace::{Rec, TraceRec};
use crate::wire::{RpcSummary, WireDecoder};
use libp2p_identity::PeerId;
use std::collections::BTreeMap;

/// One published message.
#[derive(Clone, Debug)]
pub struct MsgRecord {
    /// Publisher peer.
    pub publisher: u32,
    /// Topic index.
    pub topic: u32,
    /// Publish time, ns.
    pub published_ns: u64,
    /// Subscribers (other than the publisher) that should receive it.
    pub expected: u32,
    /// Expected receivers that got it (each once): never more than `expected`
    /// (see [`Collector::on_publish_to`]).
    pub delivered: u32,
    /// Copies received on the wire (first deliveries and duplicates).
    pub copies: u32,
    /// Slowest first delivery so far, ns.
    pub latency_max_ns: u64,
    /// A health-check probe (not part of the workload).
    pub probe: bool,
}

impl MsgRecord {
    /// A message `publisher` published on `topic` at `published_ns`,
    /// nothing received yet (`expected` is set by [`Collector::on_publish_to`]).
    pub fn new(publisher: u32, topic: u32, published_ns: u64, probe: bool) -> MsgRecord {
        MsgRecord {
            publisher,
            topic,
            published_ns,
            expected: 0,
            delivered: 0,
            copies: 0,
            latency_max_ns: 0,
            probe,
        }
    }
}

/// Run-wide counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    /// First deliveries.
    pub deliveries: u64,
    /// Copies of workload messages received on the wire (not probes, not spam).
    pub copies_received: u64,
    /// Connections established (counted at both ends).
    pub connection_events_open: u64,
    /// Connections closed (counted at both ends).
    pub connection_events_closed: u64,
    /// Dials that failed.
    pub dial_failures: u64,
    /// Publishes GossipSub refused (e.g. no peers).
    pub publish_errors: u64,
    /// Initial edges between two peers that both refuse inbound connections (not dialed).
    pub impossible_edges: u64,
    /// Control messages seen on the wire.
    pub ihave: u64,
    /// IWANT entries.
    pub iwant: u64,
    /// GRAFT entries.
    pub graft: u64,
    /// PRUNE entries.
    pub prune: u64,
    /// IDONTWANT entries.
    pub idontwant: u64,
    /// Trace records.
    pub trace_records: u64,
    /// Parts the receivers took from partial-message bodies that they did
    /// not hold yet (counted by the application).
    pub partial_parts_new: u64,
    /// Partial-message bodies on the wire.
    pub partial_bodies: u64,
    /// Partial messages on the wire (with a body or metadata only).
    pub partial_messages: u64,
    /// Parts the expected receivers lacked when their messages were published.
    pub partial_parts_missing: u64,
    /// Partial messages that were not valid (wrong group id, bad body).
    pub partial_invalid: u64,
    /// Bytes of partial-message bodies on the wire.
    pub partial_data_bytes: u64,
    /// Other bytes of partial messages on the wire (topic, group id,
    /// metadata, field framing).
    pub partial_control_bytes: u64,
}

/// Per-peer wire counters (GossipSub frames only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerCounters {
    /// Bytes of published messages sent.
    pub data_bytes_sent: u64,
    /// Bytes of published messages received.
    pub data_bytes_received: u64,
    /// Control bytes sent (subscriptions, IHAVE, IWANT, GRAFT, PRUNE, IDONTWANT, framing).
    pub control_bytes_sent: u64,
    /// Control bytes received.
    pub control_bytes_received: u64,
    /// Published-message copies received.
    pub messages_received: u64,
    /// IHAVE entries received.
    pub ihave_received: u64,
    /// IWANT entries received.
    pub iwant_received: u64,
    /// GRAFT entries received.
    pub graft_received: u64,
    /// PRUNE entries received.
    pub prune_received: u64,
    /// IDONTWANT entries received.
    pub idontwant_received: u64,
    /// First deliveries of workload messages to this peer, of those it was
    /// expected to receive (counted in `deliveries_expected`).
    pub deliveries: u64,
    /// Workload messages published while this peer was up and subscribed (not by itself).
    pub deliveries_expected: u64,
}

impl PeerCounters {
    /// Adds `o` field by field.
    pub fn add(&mut self, o: &PeerCounters) {
        self.data_bytes_sent += o.data_bytes_sent;
        self.data_bytes_received += o.data_bytes_received;
        self.control_bytes_sent += o.control_bytes_sent;
        self.control_bytes_received += o.control_bytes_received;
        self.messages_received += o.messages_received;
        self.ihave_received += o.ihave_received;
        self.iwant_received += o.iwant_received;
        self.graft_received += o.graft_received;
        self.prune_received += o.prune_received;
        self.idontwant_received += o.idontwant_received;
        self.deliveries += o.deliveries;
        self.deliveries_expected += o.deliveries_expected;
    }
}

/// Collects a run's measurements.
pub struct Collector {
    trace: blake3::Hasher,
    peer_index: BTreeMap<PeerId, u32>,
    /// Every published message, by sequence number.
    pub messages: Vec<MsgRecord>,
    /// First-delivery latencies, ns.
    pub latencies_ns: Vec<u64>,
    /// Counters.
    pub counters: Counters,
    /// Where trace records are written, and whether as binary records.
    trace_out: Option<(Box<dyn std::io::Write + Send>, bool)>,
    /// The first error writing them.
    trace_failed: Option<String>,
    /// Per-peer wire counters, by peer index.
    pub peers: Vec<PeerCounters>,
    /// Seconds each peer spent without mesh peers (sampled), by peer index.
    pub isolated_s: Vec<f64>,
    /// Whether each peer subscribes to topic 0 (whose mesh `isolated_s` measures), by peer index.
    pub subscribed0: Vec<bool>,
    /// Per-peer samples (t_s, peer, mesh degree, connections), when `measure.per_peer` is on.
    pub peer_samples: Vec<(f64, u32, u32, u32)>,
    /// When each peer last came up (ns). For a message published with
    /// [`Collector::on_publish`] (receivers not given), deliveries count only
    /// for messages published at or after it.
    pub up_since: Vec<u64>,
    /// Health-check probe peers (a probe message counts only where it reaches one).
    pub probe_peers: std::collections::BTreeSet<u32>,
    /// Periodic network samples (see [`crate::sampler`]).
    pub samples: Vec<crate::series::Sample>,
    /// Every first delivery of a workload message (not probes) as (message
    /// seq, peer, time ns), when enabled with [`Collector::keep_deliveries`].
    pub deliveries: Option<Vec<(u64, u32, u64)>>,
    /// History sync measurements (empty unless history is on).
    pub history: HistoryMetrics,
    /// By message sequence number: the expected receivers that have not had
    /// it yet (`None`: published without its receivers, see [`Collector::on_publish`]).
    awaited: Vec<Option<PeerSet>>,
    wire: WireDecoder,
    /// When set, payloads do not start with the sequence number: their first
    /// 8 bytes (read little-endian) map to it here (test-plans interop runs).
    pub payload_keys: Option<BTreeMap<u64, u64>>,
    /// When set, a partial message's (topic hash, group) maps to its
    /// sequence number here (interop runs); else the group is the sequence number.
    pub partial_groups: Option<BTreeMap<(String, u64), u64>>,
    /// Groups each peer completed (held every part of), by peer index.
    pub partial_complete: Vec<u32>,
}

impl Collector {
    /// A collector that knows the peer ids of all peers.
    pub fn new(peer_ids: &[PeerId]) -> Collector {
        Collector {
            trace: blake3::Hasher::new(),
            peer_index: peer_ids
                .iter()
                .enumerate()
                .map(|(i, p)| (*p, i as u32))
                .collect(),
            messages: Vec::new(),
            latencies_ns: Vec::new(),
            counters: Counters::default(),
            deliveries: None,
            samples: Vec::new(),
            trace_out: None,
            trace_failed: None,
            probe_peers: std::collections::BTreeSet::new(),
            up_since: vec![0; peer_ids.len()],
            peers: vec![PeerCounters::default(); peer_ids.len()],
            isolated_s: vec![0.0; peer_ids.len()],
            subscribed0: vec![true; peer_ids.len()],
            peer_samples: Vec::new(),
            history: HistoryMetrics::new(peer_ids.len()),
            awaited: Vec::new(),
            wire: WireDecoder::default(),
            payload_keys: None,
            partial_groups: None,
            partial_complete: vec![0; peer_ids.len()],
        }
    }

    /// Keeps every first delivery of a workload message (message, peer, time) from now on.
    pub fn keep_deliveries(&mut self) {
        self.deliveries.get_or_insert_with(Vec::new);
    }

    fn now() -> u64 {
        sim::clock::now_ns().unwrap_or(0)
    }

    /// Adds a record to the trace hash.
    pub fn record(&mut self, kind: Rec, a: u64, b: u64) {
        let mut r = [0u8; TraceRec::BYTES];
        r[0] = kind as u8;
        r[1..9].copy_from_slice(&Self::now().to_le_bytes());
        r[9..17].copy_from_slice(&a.to_le_bytes());
        r[17..25].copy_from_slice(&b.to_le_bytes());
        self.trace.update(&r);
        self.counters.trace_records += 1;
        if let Some((out, binary)) = self.trace_out.as_mut() {
            use std::io::Write as _;
            let written = if *binary {
                out.write_all(&r)
            } else {
                let rec = TraceRec {
                    t_ns: Self::now(),
                    kind,
                    a,
                    b,
                };
                out.write_all(rec.json_line().as_bytes())
            };
            if let Err(e) = written {
                self.trace_out = None;
                self.trace_failed = Some(e.to_string());
            }
        }
    }

    /// Also writes every trace record to `out`: as one JSON object per line
    /// (a one-thread run's `--trace`), or with `binary` as its
    /// [`TraceRec::BYTES`] bytes (a partition's records, merged at the end).
    pub fn trace_to(&mut self, out: Box<dyn std::io::Write + Send>, binary: bool) {
        self.trace_out = Some((out, binary));
    }

    /// Flushes and closes the trace of [`Collector::trace_to`]; the error of
    /// any write that failed.
    pub fn trace_finish(&mut self) -> Result<(), String> {
        use std::io::Write as _;
        if let Some(e) = self.trace_failed.take() {
            return Err(e);
        }
        match self.trace_out.take() {
            Some((mut out, _)) => out.flush().map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }

    /// Adds what another partition of the same partitioned run measured
    /// (see [`crate::scenario::run_with`]): every partition records every
    /// publish, while deliveries, copies and wire counters are counted where
    /// they happen, so counts add up. Samples are combined index by index
    /// (every partition samples at the same times). The trace hash is not
    /// merged here: the run's hash combines the partitions' hashes.
    pub fn absorb(&mut self, o: Collector) {
        for (m, x) in self.messages.iter_mut().zip(&o.messages) {
            m.delivered += x.delivered;
            m.copies += x.copies;
            m.latency_max_ns = m.latency_max_ns.max(x.latency_max_ns);
        }
        self.latencies_ns.extend_from_slice(&o.latencies_ns);
        let (c, x) = (&mut self.counters, o.counters);
        c.deliveries += x.deliveries;
        c.copies_received += x.copies_received;
        c.connection_events_open += x.connection_events_open;
        c.connection_events_closed += x.connection_events_closed;
        c.dial_failures += x.dial_failures;
        c.publish_errors += x.publish_errors;
        // `impossible_edges` is not added: every partition sees the same initial graph.
        c.ihave += x.ihave;
        c.iwant += x.iwant;
        c.graft += x.graft;
        c.prune += x.prune;
        c.idontwant += x.idontwant;
        c.partial_parts_new += x.partial_parts_new;
        c.partial_bodies += x.partial_bodies;
        c.partial_messages += x.partial_messages;
        // Each partition counts the parts its own peers lacked.
        c.partial_parts_missing += x.partial_parts_missing;
        c.partial_invalid += x.partial_invalid;
        c.partial_data_bytes += x.partial_data_bytes;
        c.partial_control_bytes += x.partial_control_bytes;
        for (a, b) in self.partial_complete.iter_mut().zip(&o.partial_complete) {
            *a += b;
        }
        // Every partition records every publish: count those once.
        c.trace_records += x.trace_records.saturating_sub(o.messages.len() as u64);
        for (p, x) in self.peers.iter_mut().zip(&o.peers) {
            p.add(x);
        }
        for (a, b) in self.isolated_s.iter_mut().zip(&o.isolated_s) {
            *a += b;
        }
        for (a, b) in self.samples.iter_mut().zip(&o.samples) {
            a.absorb(b);
        }
        self.peer_samples.extend_from_slice(&o.peer_samples);
        if let (Some(a), Some(b)) = (self.deliveries.as_mut(), o.deliveries.as_ref()) {
            a.extend_from_slice(b);
        }
    }

    /// Puts the lists [`Collector::absorb`] appended to in a fixed order (by time, then peer and message).
    pub fn sort_merged(&mut self) {
        self.peer_samples
            .sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        if let Some(d) = self.deliveries.as_mut() {
            d.sort_unstable_by_key(|&(seq, peer, t)| (t, seq, peer));
        }
    }

    /// The trace hash so far (hex, 32 characters).
    pub fn trace_hash(&self) -> String {
        let h = self.trace.finalize();
        h.to_hex()[..32].to_string()
    }

    fn index_of(&self, p: &PeerId) -> u64 {
        self.peer_index.get(p).map_or(u64::MAX, |&i| u64::from(i))
    }

    /// The index of peer `p`, if it is one of ours.
    pub fn peer_index(&self, p: &PeerId) -> Option<u32> {
        self.peer_index.get(p).copied()
    }

    /// A history sync of `client` with `server` ended.
    pub fn on_sync(&mut self, client: u32, server: u32, r: &SyncReport) {
        let outcome = match r.outcome {
            Outcome::Complete => 0,
            Outcome::Aborted => 1,
            Outcome::Failed(_) => 2,
        };
        self.record(
            Rec::Sync,
            (u64::from(client) << 32) | u64::from(server),
            (r.entries_fetched << 32) | (r.round_trips.min(0xff_ffff) << 8) | outcome,
        );
        self.history.on_sync(client, server, r);
    }

    /// A message was published; its receivers are not known here, so a
    /// delivery counts if the peer was up at the publish (see
    /// [`Collector::up_since`]) and, for a probe, is a probe peer. Prefer
    /// [`Collector::on_publish_to`], which cannot count more deliveries than
    /// `rec.expected`.
    pub fn on_publish(&mut self, rec: MsgRecord) -> u64 {
        let seq = self.messages.len() as u64;
        self.record(Rec::Publish, u64::from(rec.publisher), seq);
        self.messages.push(rec);
        self.awaited.push(None);
        seq
    }

    /// A message was published, expected at `receivers` (the subscribers up
    /// now, other than the publisher): only their first deliveries count,
    /// each once, so `delivered <= expected` (`rec.expected` is set to the
    /// number of distinct receivers).
    pub fn on_publish_to(&mut self, mut rec: MsgRecord, receivers: &[u32]) -> u64 {
        let set = PeerSet::new(receivers);
        rec.expected = set.left;
        let seq = self.on_publish(rec);
        self.awaited[seq as usize] = Some(set);
        seq
    }

    /// GossipSub delivered a message to `peer`'s application.
    pub fn on_delivery(&mut self, peer: u32, data: &[u8]) {
        let Some(seq) = data
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        else {
            return;
        };
        let seq = match &self.payload_keys {
            Some(keys) => match keys.get(&seq) {
                Some(&s) => s,
                None => return,
            },
            None => seq,
        };
        self.deliver_seq(peer, seq);
    }

    /// `peer` now holds every part of `group` on `topic` (a topic hash): a
    /// completion, and the delivery of the message the group is.
    pub fn on_partial_complete(&mut self, peer: u32, topic: &str, group: u64) {
        if let Some(n) = self.partial_complete.get_mut(peer as usize) {
            *n += 1;
        }
        let seq = match &self.partial_groups {
            Some(g) => match g.get(&(topic.to_string(), group)) {
                Some(&s) => s,
                None => return,
            },
            None => group,
        };
        self.deliver_seq(peer, seq);
    }

    /// Message `seq` reached `peer`'s application.
    fn deliver_seq(&mut self, peer: u32, seq: u64) {
        self.record(Rec::Delivery, u64::from(peer), seq);
        let now = Self::now();
        if let Some(m) = self.messages.get_mut(seq as usize) {
            let counts = match self.awaited.get_mut(seq as usize).and_then(Option::as_mut) {
                // Only the expected receivers count, each once (a peer that
                // restarted may get the message a second time).
                Some(set) => set.take(peer),
                // Receivers not given: those that were up when it was published.
                // A peer that came back later (and got it by gossip) does not count.
                None => {
                    (!m.probe || self.probe_peers.contains(&peer))
                        && self
                            .up_since
                            .get(peer as usize)
                            .is_none_or(|&t| t <= m.published_ns)
                }
            };
            if !counts {
                return;
            }
            m.delivered += 1;
            let lat = now.saturating_sub(m.published_ns);
            m.latency_max_ns = m.latency_max_ns.max(lat);
            if !m.probe {
                // Probes are reported on their own (timeseries.csv), not in the
                // workload's numbers: neither in the latencies nor in `deliveries`
                // (deliveries.csv and the latency CDF agree with the summary).
                self.latencies_ns.push(lat);
                self.counters.deliveries += 1;
                if let Some(pc) = self.peers.get_mut(peer as usize) {
                    pc.deliveries += 1;
                }
                if let Some(d) = self.deliveries.as_mut() {
                    d.push((seq, peer, now));
                }
            }
        }
    }

    /// A remote subscribed to a topic (seen by `peer`).
    pub fn on_remote_subscribed(&mut self, peer: u32, remote: &PeerId, _topic: &str) {
        let r = self.index_of(remote);
        self.record(Rec::Subscribed, u64::from(peer), r);
    }

    /// A connection opened or closed at `peer`.
    pub fn on_connection(&mut self, peer: u32, remote: &PeerId, open: bool) {
        let r = self.index_of(remote);
        if open {
            self.counters.connection_events_open += 1;
            self.record(Rec::ConnOpen, u64::from(peer), r);
        } else {
            self.counters.connection_events_closed += 1;
            self.record(Rec::ConnClose, u64::from(peer), r);
        }
    }

    fn on_rpc(
        messages: &mut [MsgRecord],
        c: &mut Counters,
        peers: &mut [PeerCounters],
        from: u32,
        to: u32,
        s: &RpcSummary,
    ) {
        let control = u64::from(s.frame_bytes - s.data_bytes.min(s.frame_bytes));
        if let Some(p) = peers.get_mut(from as usize) {
            p.data_bytes_sent += u64::from(s.data_bytes);
            p.control_bytes_sent += control;
        }
        if let Some(p) = peers.get_mut(to as usize) {
            p.data_bytes_received += u64::from(s.data_bytes);
            p.control_bytes_received += control;
            p.messages_received += s.publish_seqs.len() as u64;
            p.ihave_received += u64::from(s.ihave);
            p.iwant_received += u64::from(s.iwant);
            p.graft_received += u64::from(s.graft);
            p.prune_received += u64::from(s.prune);
            p.idontwant_received += u64::from(s.idontwant);
        }
        for &seq in &s.publish_seqs {
            // Only copies of published workload and probe messages (not spam);
            // the run-wide count (duplicates per delivery) only workload copies,
            // as its deliveries are workload deliveries only.
            if let Some(m) = messages.get_mut(seq as usize) {
                m.copies += 1;
                if !m.probe {
                    c.copies_received += 1;
                }
            }
        }
        c.ihave += u64::from(s.ihave);
        c.iwant += u64::from(s.iwant);
        c.graft += u64::from(s.graft);
        c.prune += u64::from(s.prune);
        c.idontwant += u64::from(s.idontwant);
        c.partial_data_bytes += u64::from(s.partial_data_bytes);
        c.partial_bodies += u64::from(s.partial_bodies);
        c.partial_messages += u64::from(s.partial_messages);
        c.partial_control_bytes += u64::from(s.partial_bytes - s.partial_data_bytes);
    }

    /// Feeds the wire decoder (called by the tap).
    pub fn on_wire(&mut self, from: u32, to: u32, stream: u64, bytes: &[u8]) {
        let (messages, counters, peers) = (&mut self.messages, &mut self.counters, &mut self.peers);
        let keys = self.payload_keys.as_ref();
        self.wire.feed(stream, from, bytes, |mut s| {
            if let Some(k) = keys {
                for q in &mut s.publish_seqs {
                    *q = k.get(q).copied().unwrap_or(u64::MAX);
                }
            }
            Self::on_rpc(messages, counters, peers, from, to, &s)
        });
    }
}

/// A set of peer indices that only shrinks: a message's expected receivers
/// still waiting for it. Freed once empty.
#[derive(Clone, Debug)]
struct PeerSet {
    words: Box<[u64]>,
    left: u32,
}

impl PeerSet {
    fn new(peers: &[u32]) -> PeerSet {
        let n = peers.iter().max().map_or(0, |&p| p as usize / 64 + 1);
        let mut s = PeerSet {
            words: vec![0; n].into_boxed_slice(),
            left: 0,
        };
        for &p in peers {
            let (w, bit) = (p as usize / 64, 1u64 << (p % 64));
            if s.words[w] & bit == 0 {
                s.words[w] |= bit;
                s.left += 1;
            }
        }
        s
    }

    /// Removes `peer`; whether it was there.
    fn take(&mut self, peer: u32) -> bool {
        let (w, bit) = (peer as usize / 64, 1u64 << (peer % 64));
        match self.words.get_mut(w) {
            Some(x) if *x & bit != 0 => {
                *x &= !bit;
                self.left -= 1;
                if self.left == 0 {
                    self.words = Box::default();
                }
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
