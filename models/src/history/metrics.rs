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

use super::behaviour::{Outcome, SyncReport};
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

    /// Peer `peer`'s root is now `root` (`None`: the peer went down).
    pub fn on_root(&mut self, peer: u32, root: Option<Hash>) {
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
        self.check();
    }

    /// Distinct roots among live peers right now.
    pub fn distinct_roots(&self) -> u32 {
        self.counts.len() as u32
    }

    /// Live peers right now.
    pub fn live_peers(&self) -> u32 {
        self.counts.values().sum()
    }

    fn check(&mut self) {
        if self.pending.is_empty() || self.counts.len() > 1 {
            return;
        }
        let now = Self::now_s();
        for i in self.pending.drain(..) {
            let c = &mut self.convergence[i];
            c.converged_after_s = Some(now - c.at_s);
        }
    }

    /// Peer `peer` returned (`kind = "return"`) or a partition healed
    /// (`"heal"`, no peer): convergence is timed from now.
    pub fn marker(&mut self, kind: &str, peer: Option<u32>) {
        self.convergence.push(ConvergenceRecord {
            kind: kind.to_string(),
            peer,
            at_s: Self::now_s(),
            converged_after_s: None,
        });
        self.pending.push(self.convergence.len() - 1);
        self.check();
    }

    /// Appends a sample to the time series.
    pub fn sample(&mut self) {
        self.series.push(RootSample {
            t_s: Self::now_s(),
            live_peers: self.live_peers(),
            distinct_roots: self.distinct_roots(),
        });
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
