//! History measurements of one run: per-sync records, the distinct root
//! hashes across live peers, convergence after each peer return or
//! partition healing, and the messages that only a sync delivered.
//!
//! Roots are tracked exactly, by event: each peer reports every change of its
//! log's root (and `None` when it goes down), so the number of distinct roots
//! among live peers is known at every instant. *Convergence* after a marker
//! (a peer's return, a partition's healing) is the first instant, at or after
//! the marker, when every live peer has the same root.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::events::{Outcome, SyncReport};
use crate::prolly::Hash;

/// One finished sync, as the client saw it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SyncRecord {
    /// Client peer.
    pub client: u32,
    /// Server peer.
    pub server: u32,
    /// Why it started: `connect`, `missing_parent`, `anti_entropy`, `manual`.
    pub trigger: String,
    /// `complete`, `aborted` or `failed`.
    pub outcome: String,
    /// When it started, simulated seconds.
    pub started_s: f64,
    /// How long it took, milliseconds.
    pub duration_ms: f64,
    /// Round trips (requests answered).
    pub round_trips: u64,
    /// Request bytes (frames) client to server.
    pub bytes_sent: u64,
    /// Response bytes (frames) server to client.
    pub bytes_received: u64,
    /// Entries fetched.
    pub entries_fetched: u64,
}

/// Convergence after one marker.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ConvergenceRecord {
    /// `return` (a peer came back) or `heal` (a partition healed).
    pub kind: String,
    /// The peer that returned (`None` for a healing).
    pub peer: Option<u32>,
    /// When, simulated seconds.
    pub at_s: f64,
    /// Seconds until every live peer had the same root; `None`: not by the end.
    pub converged_after_s: Option<f64>,
}

/// One sample of the distinct-roots time series.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RootSample {
    /// Simulated seconds.
    pub t_s: f64,
    /// Peers up.
    pub live_peers: u32,
    /// Distinct root hashes among them.
    pub distinct_roots: u32,
}

const GOSSIP: u8 = 1;
const SYNC: u8 = 2;

/// History measurements (part of the collector).
#[derive(Clone, Debug, Default)]
pub struct HistoryMetrics {
    roots: Vec<Option<Hash>>,
    counts: BTreeMap<Hash, u32>,
    pending: Vec<usize>,
    /// Convergence per marker, in marker order.
    pub convergence: Vec<ConvergenceRecord>,
    /// Every finished sync.
    pub syncs: Vec<SyncRecord>,
    /// The distinct-roots time series.
    pub series: Vec<RootSample>,
    /// Per peer, per message sequence number: delivered by GossipSub (bit 0), fetched by sync (bit 1).
    flags: Vec<Vec<u8>>,
    /// GossipSub messages reported `Ignore` for missing parents.
    pub missing_parent_ignored: u64,
    /// GossipSub messages applied to a log.
    pub applied_by_gossip: u64,
    /// Malformed or oversized sync messages rejected.
    pub rejected: u64,
    /// Syncs aborted by their server at the deadline.
    pub server_aborts: u64,
    /// Every root change, kept in a partition of a partitioned run (see
    /// [`HistoryMetrics::merge_partitions`]).
    log: Option<RootLog>,
}

/// Root changes as (ns, peer, root id), 16 bytes each: the roots themselves
/// are stored once (most changes are to a root other peers already have).
#[derive(Clone, Debug, Default)]
struct RootLog {
    changes: Vec<(u64, u32, u32)>,
    /// Root id (from 1; 0 is no root) by root.
    ids: BTreeMap<Hash, u32>,
    /// Root by id - 1.
    roots: Vec<Hash>,
}

impl RootLog {
    fn push(&mut self, t: u64, peer: u32, root: Option<Hash>) {
        let id = match root {
            None => 0,
            Some(r) => match self.ids.get(&r) {
                Some(&id) => id,
                None => {
                    self.roots.push(r);
                    let id = self.roots.len() as u32;
                    self.ids.insert(r, id);
                    id
                }
            },
        };
        self.changes.push((t, peer, id));
    }

    fn root(&self, id: u32) -> Option<Hash> {
        id.checked_sub(1).map(|i| self.roots[i as usize])
    }
}

impl HistoryMetrics {
    /// Metrics for `peers` peers.
    pub fn new(peers: usize) -> HistoryMetrics {
        HistoryMetrics {
            roots: vec![None; peers],
            flags: vec![Vec::new(); peers],
            ..HistoryMetrics::default()
        }
    }

    fn now_s() -> f64 {
        sim::clock::now_ns().unwrap_or(0) as f64 / 1e9
    }

    /// Keeps every root change, for [`HistoryMetrics::merge_partitions`].
    pub fn keep_root_log(&mut self) {
        self.log.get_or_insert_with(RootLog::default);
    }

    /// Peer `peer`'s root is now `root` (`None`: the peer went down).
    pub fn on_root(&mut self, peer: u32, root: Option<Hash>) {
        if let Some(log) = self.log.as_mut() {
            log.push(sim::clock::now_ns().unwrap_or(0), peer, root);
        }
        self.on_root_at(peer, root, Self::now_s());
    }

    fn on_root_at(&mut self, peer: u32, root: Option<Hash>, now_s: f64) {
        let Some(slot) = self.roots.get_mut(peer as usize) else {
            return;
        };
        if let Some(old) = slot.take() {
            if let Some(n) = self.counts.get_mut(&old) {
                *n -= 1;
                if *n == 0 {
                    self.counts.remove(&old);
                }
            }
        }
        *slot = root;
        if let Some(r) = root {
            *self.counts.entry(r).or_default() += 1;
        }
        self.check(now_s);
    }

    /// Distinct roots among live peers right now.
    pub fn distinct_roots(&self) -> u32 {
        self.counts.len() as u32
    }

    /// Live peers right now.
    pub fn live_peers(&self) -> u32 {
        self.counts.values().sum()
    }

    fn check(&mut self, now: f64) {
        if self.pending.is_empty() || self.counts.len() > 1 {
            return;
        }
        for i in self.pending.drain(..) {
            let c = &mut self.convergence[i];
            c.converged_after_s = Some(now - c.at_s);
        }
    }

    /// Peer `peer` returned (`kind = "return"`) or a partition healed
    /// (`"heal"`, no peer): convergence is timed from now.
    pub fn marker(&mut self, kind: &str, peer: Option<u32>) {
        self.marker_at(kind, peer, Self::now_s());
    }

    fn marker_at(&mut self, kind: &str, peer: Option<u32>, at_s: f64) {
        self.convergence.push(ConvergenceRecord {
            kind: kind.to_string(),
            peer,
            at_s,
            converged_after_s: None,
        });
        self.pending.push(self.convergence.len() - 1);
        self.check(at_s);
    }

    /// Appends a sample to the time series.
    pub fn sample(&mut self) {
        self.sample_at(Self::now_s());
    }

    fn sample_at(&mut self, t_s: f64) {
        self.series.push(RootSample {
            t_s,
            live_peers: self.live_peers(),
            distinct_roots: self.distinct_roots(),
        });
    }

    /// The history metrics of a partitioned run from its partitions' (in
    /// partition order; each kept its root log, see
    /// [`HistoryMetrics::keep_root_log`]). Every partition recorded the
    /// same markers and sample times and the root changes of its own peers:
    /// the root changes of all partitions are replayed in time order (at
    /// equal times, partition by partition, before markers and samples),
    /// which gives the convergence times and the distinct-roots series of
    /// the whole network. Syncs, flags and counters add up.
    pub fn merge_partitions(parts: Vec<HistoryMetrics>) -> HistoryMetrics {
        let peers = parts.first().map_or(0, |p| p.roots.len());
        let mut m = HistoryMetrics::new(peers);
        let Some(first) = parts.first() else {
            return m;
        };
        let ns = |s: f64| (s * 1e9).round() as u64;
        // A merge of lists each in time order, by (time, order at equal
        // times: root changes, markers, samples; partition): every
        // partition's root changes, the first one's markers and samples.
        let empty = RootLog::default();
        let logs: Vec<&RootLog> = parts
            .iter()
            .map(|p| p.log.as_ref().unwrap_or(&empty))
            .collect();
        let mut next = vec![0usize; logs.len()];
        let (mut marker, mut sample) = (0, 0);
        loop {
            // (key, what: partition k's root change, or a marker, or a sample)
            let mut best: Option<((u64, u8, usize), Option<usize>)> = None;
            let mut consider = |key: (u64, u8, usize), what: Option<usize>| {
                if best.is_none_or(|(b, _)| key < b) {
                    best = Some((key, what));
                }
            };
            for (k, log) in logs.iter().enumerate() {
                if let Some(&(t, ..)) = log.changes.get(next[k]) {
                    consider((t, 0, k), Some(k));
                }
            }
            if let Some(c) = first.convergence.get(marker) {
                consider((ns(c.at_s), 1, 0), None);
            }
            if let Some(r) = first.series.get(sample) {
                consider((ns(r.t_s), 2, 0), None);
            }
            match best {
                None => break,
                Some(((t, _, _), Some(k))) => {
                    let (_, peer, id) = logs[k].changes[next[k]];
                    next[k] += 1;
                    m.on_root_at(peer, logs[k].root(id), t as f64 / 1e9);
                }
                Some(((_, 1, _), None)) => {
                    let c = &first.convergence[marker];
                    marker += 1;
                    m.marker_at(&c.kind, c.peer, c.at_s);
                }
                Some(_) => {
                    let t_s = first.series[sample].t_s;
                    sample += 1;
                    m.sample_at(t_s);
                }
            }
        }
        for p in &parts {
            for (a, b) in m.flags.iter_mut().zip(&p.flags) {
                if a.len() < b.len() {
                    a.resize(b.len(), 0);
                }
                for (x, y) in a.iter_mut().zip(b) {
                    *x |= y;
                }
            }
            m.syncs.extend(p.syncs.iter().cloned());
            m.missing_parent_ignored += p.missing_parent_ignored;
            m.applied_by_gossip += p.applied_by_gossip;
            m.rejected += p.rejected;
            m.server_aborts += p.server_aborts;
        }
        // In the order they ended, as one thread records them.
        let end = |r: &SyncRecord| r.started_s + r.duration_ms / 1e3;
        m.syncs.sort_by(|a, b| {
            end(a)
                .total_cmp(&end(b))
                .then(a.client.cmp(&b.client))
                .then(a.server.cmp(&b.server))
        });
        m
    }

    fn flag(&mut self, peer: u32, seq: u64, bit: u8) {
        let Some(v) = self.flags.get_mut(peer as usize) else {
            return;
        };
        let Ok(i) = usize::try_from(seq) else { return };
        if i >= 1 << 32 {
            return; // not a workload sequence number
        }
        if v.len() <= i {
            v.resize(i + 1, 0);
        }
        v[i] |= bit;
    }

    /// GossipSub delivered message `seq` to `peer` (`applied`: its parents were present).
    pub fn on_gossip(&mut self, peer: u32, seq: u64, applied: bool) {
        self.flag(peer, seq, GOSSIP);
        if applied {
            self.applied_by_gossip += 1;
        }
    }

    /// A sync added messages `seqs` to `peer`'s log.
    pub fn on_fetched(&mut self, peer: u32, seqs: &[u64]) {
        for &s in seqs {
            self.flag(peer, s, SYNC);
        }
    }

    /// Messages (per peer) that a sync fetched and GossipSub never delivered.
    pub fn recovered_only_by_sync(&self) -> u64 {
        self.flags
            .iter()
            .flatten()
            .filter(|&&f| f & SYNC != 0 && f & GOSSIP == 0)
            .count() as u64
    }

    /// Records a finished sync of `client` with `server`.
    pub fn on_sync(&mut self, client: u32, server: u32, r: &SyncReport) {
        let duration_ms = r.duration.as_secs_f64() * 1e3;
        self.syncs.push(SyncRecord {
            client,
            server,
            trigger: r.trigger.as_str().to_string(),
            outcome: match r.outcome {
                Outcome::Complete => "complete",
                Outcome::Aborted => "aborted",
                Outcome::Failed(_) => "failed",
            }
            .to_string(),
            started_s: Self::now_s() - duration_ms / 1e3,
            duration_ms,
            round_trips: r.round_trips,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            entries_fetched: r.entries_fetched,
        });
    }
}
