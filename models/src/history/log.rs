//! The replicated log: one Prolly [`Tree`] per peer holding every message
//! the peer published or accepted, as GossipLog keeps its history.
//!
//! # Entries
//!
//! An entry's value is the GossipSub payload itself; its key is
//! `u64be(clock) ‖ blake3(payload)[..16]` ([`KEY_LEN`] = 24 bytes), so new
//! entries (high logical clocks) cluster at the right edge of the key space.
//! The payload layout keeps the workload's sequence number first:
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | workload sequence number, `u64` little-endian (read by the collector) |
//! | 8 | 1 | [`ENTRY_VERSION`] |
//! | 9 | 8 | logical clock, `u64` big-endian: 1 + the largest parent clock |
//! | 17 | 1 | number of parents `n` (at most [`MAX_PARENTS`]) |
//! | 18 | 24 `n` | parent keys, ascending |
//! | … | | zero padding up to the workload's message size |
//!
//! A message names as parents the publisher's current *heads*: the entries
//! of its log that no other entry names as a parent (the newest ones, at most
//! [`MAX_PARENTS`] of them). An entry arriving by GossipSub is applied only
//! when all its parents are present ([`Log::receive`]); otherwise the peer
//! has missed something and should sync.

use std::collections::{BTreeMap, BTreeSet};

use crate::prolly::{Hash, Request, Response, SyncClient, SyncError, Tree};

/// Length of an entry key: 8 bytes of clock and 16 of payload hash.
pub const KEY_LEN: usize = 24;
/// An entry key: `u64be(clock) ‖ blake3(payload)[..16]`.
pub type EntryKey = [u8; KEY_LEN];
/// Format version byte at offset 8 of a payload.
pub const ENTRY_VERSION: u8 = 1;
/// Most parents a message names (the newest heads win).
pub const MAX_PARENTS: usize = 32;
/// Offset of the history header in a payload (after the sequence number).
pub const HEADER_OFFSET: usize = 8;
/// Most orphans (messages waiting for their parents) a log keeps; the oldest go first.
pub const MAX_ORPHANS: usize = 1024;

/// A decoded history payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Workload sequence number (first 8 payload bytes, little-endian).
    pub seq: u64,
    /// Logical clock.
    pub clock: u64,
    /// Parent keys, ascending.
    pub parents: Vec<EntryKey>,
}

/// Why a payload is not a history entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Shorter than its header says.
    #[error("payload truncated")]
    Truncated,
    /// Unknown format version.
    #[error("unknown entry version {0}")]
    Version(u8),
    /// More parents than [`MAX_PARENTS`], or parents not strictly ascending.
    #[error("invalid parent list")]
    Parents,
    /// A parent's clock is not below the entry's clock.
    #[error("parent clock not below entry clock")]
    Clock,
}

impl Entry {
    /// Size of the header and sequence number for `parents` parents.
    pub fn header_len(parents: usize) -> usize {
        HEADER_OFFSET + 1 + 8 + 1 + parents * KEY_LEN
    }

    /// The payload for this entry, zero-padded to at least `len` bytes.
    pub fn encode(&self, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len.max(Self::header_len(self.parents.len())));
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.push(ENTRY_VERSION);
        out.extend_from_slice(&self.clock.to_be_bytes());
        out.push(self.parents.len() as u8);
        for p in &self.parents {
            out.extend_from_slice(p);
        }
        if out.len() < len {
            out.resize(len, 0);
        }
        out
    }

    /// Decodes a payload; never panics.
    pub fn decode(payload: &[u8]) -> Result<Entry, EntryError> {
        let get = |a: usize, b: usize| payload.get(a..b).ok_or(EntryError::Truncated);
        let seq = u64::from_le_bytes(get(0, 8)?.try_into().expect("8 bytes"));
        let version = get(8, 9)?[0];
        if version != ENTRY_VERSION {
            return Err(EntryError::Version(version));
        }
        let clock = u64::from_be_bytes(get(9, 17)?.try_into().expect("8 bytes"));
        let n = usize::from(get(17, 18)?[0]);
        if n > MAX_PARENTS {
            return Err(EntryError::Parents);
        }
        let mut parents: Vec<EntryKey> = Vec::with_capacity(n);
        for i in 0..n {
            let at = 18 + i * KEY_LEN;
            let p: EntryKey = get(at, at + KEY_LEN)?.try_into().expect("24 bytes");
            if parents.last().is_some_and(|last| *last >= p) {
                return Err(EntryError::Parents);
            }
            if clock_of(&p) >= clock {
                return Err(EntryError::Clock);
            }
            parents.push(p);
        }
        Ok(Entry {
            seq,
            clock,
            parents,
        })
    }
}

/// The key of `payload` at logical clock `clock`.
pub fn key_of(clock: u64, payload: &[u8]) -> EntryKey {
    let mut k = [0u8; KEY_LEN];
    k[..8].copy_from_slice(&clock.to_be_bytes());
    k[8..].copy_from_slice(&blake3::hash(payload).as_bytes()[..16]);
    k
}

/// The clock in an entry key.
pub fn clock_of(key: &EntryKey) -> u64 {
    u64::from_be_bytes(key[..8].try_into().expect("8 bytes"))
}

/// The workload sequence number in a payload, if it has one.
pub fn seq_of(payload: &[u8]) -> Option<u64> {
    payload
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// What [`Log::receive`] did with a GossipSub payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Receive {
    /// New entry, all parents present: applied.
    Applied(EntryKey),
    /// Already in the log (e.g. fetched by a sync first).
    Duplicate(EntryKey),
    /// Some parents are missing: not applied; sync with the sender.
    MissingParents {
        /// The entry's key.
        key: EntryKey,
        /// The parents the log lacks.
        missing: Vec<EntryKey>,
    },
    /// Not a history entry.
    Malformed(EntryError),
}

/// One peer's replica of the log.
#[derive(Clone, Debug, Default)]
pub struct Log {
    tree: Tree,
    /// Keys named as a parent by some entry of the log.
    referenced: BTreeSet<EntryKey>,
    /// Entries no entry names as a parent.
    heads: BTreeSet<EntryKey>,
    max_clock: u64,
    keep_orphans: bool,
    /// Messages waiting for their parents, by key (hence by clock).
    orphans: BTreeMap<EntryKey, Vec<u8>>,
    orphans_applied: u64,
}

impl Log {
    /// An empty log.
    pub fn new() -> Log {
        Log::default()
    }

    /// Keep messages whose parents are missing and apply them when the
    /// parents arrive (default off).
    pub fn set_keep_orphans(&mut self, keep: bool) {
        self.keep_orphans = keep;
        if !keep {
            self.orphans.clear();
        }
    }

    /// Messages waiting for their parents.
    pub fn orphans(&self) -> usize {
        self.orphans.len()
    }

    /// Orphans applied once their parents arrived, so far.
    pub fn orphans_applied(&self) -> u64 {
        self.orphans_applied
    }

    /// The Prolly tree of the log.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Hash of the tree's root: equal hashes mean equal logs.
    pub fn root_hash(&self) -> Hash {
        self.tree.root().hash
    }

    /// The current heads, ascending.
    pub fn heads(&self) -> &BTreeSet<EntryKey> {
        &self.heads
    }

    /// Whether the log holds `key`.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.tree.contains_key(key)
    }

    /// Appends a new message with sequence number `seq` on top of the current
    /// heads (the newest [`MAX_PARENTS`] of them); returns its key and its
    /// payload, zero-padded to at least `len` bytes.
    pub fn append(&mut self, seq: u64, len: usize) -> (EntryKey, Vec<u8>) {
        let parents: Vec<EntryKey> = {
            let mut p: Vec<EntryKey> = self.heads.iter().rev().take(MAX_PARENTS).copied().collect();
            p.reverse();
            p
        };
        let clock = self.max_clock + 1;
        let payload = Entry {
            seq,
            clock,
            parents,
        }
        .encode(len);
        let key = key_of(clock, &payload);
        self.add(key, payload.clone());
        (key, payload)
    }

    /// Applies a payload received by GossipSub if all its parents are present.
    pub fn receive(&mut self, payload: &[u8]) -> Receive {
        let entry = match Entry::decode(payload) {
            Ok(e) => e,
            Err(e) => return Receive::Malformed(e),
        };
        let key = key_of(entry.clock, payload);
        if self.tree.contains_key(&key) {
            return Receive::Duplicate(key);
        }
        let missing: Vec<EntryKey> = entry
            .parents
            .iter()
            .filter(|p| !self.tree.contains_key(p.as_slice()))
            .copied()
            .collect();
        if !missing.is_empty() {
            if self.keep_orphans {
                self.orphans.insert(key, payload.to_vec());
                while self.orphans.len() > MAX_ORPHANS {
                    self.orphans.pop_first();
                }
            }
            return Receive::MissingParents { key, missing };
        }
        self.add(key, payload.to_vec());
        self.apply_orphans();
        Receive::Applied(key)
    }

    fn add(&mut self, key: EntryKey, payload: Vec<u8>) {
        self.index(&key, &payload);
        self.tree.insert(key.to_vec(), payload);
    }

    /// Applies the orphans whose parents are all present (in clock order, so
    /// one pass also applies chains of orphans).
    fn apply_orphans(&mut self) {
        if self.orphans.is_empty() {
            return;
        }
        let keys: Vec<EntryKey> = self.orphans.keys().copied().collect();
        for k in keys {
            if self.tree.contains_key(&k) {
                self.orphans.remove(&k);
                continue;
            }
            let ready = {
                let p = &self.orphans[&k];
                Entry::decode(p).is_ok_and(|e| {
                    e.parents
                        .iter()
                        .all(|q| self.tree.contains_key(q.as_slice()))
                })
            };
            if ready {
                let payload = self.orphans.remove(&k).expect("present");
                self.add(k, payload);
                self.orphans_applied += 1;
            }
        }
    }

    /// Updates heads and clock for an entry just added to the tree.
    fn index(&mut self, key: &[u8], payload: &[u8]) {
        let Ok(key) = EntryKey::try_from(key) else {
            return; // not a log key: kept in the tree, no place in the DAG
        };
        let parents = Entry::decode(payload)
            .map(|e| e.parents)
            .unwrap_or_default();
        for p in parents {
            self.referenced.insert(p);
            self.heads.remove(&p);
        }
        if !self.referenced.contains(&key) {
            self.heads.insert(key);
        }
        self.max_clock = self.max_clock.max(clock_of(&key));
    }

    /// Feeds the response to `client`'s request in flight, inserting fetched
    /// entries into the log; returns the payloads of the entries added.
    pub fn apply_sync_response(
        &mut self,
        client: &mut SyncClient,
        resp: Response,
    ) -> Result<Vec<Vec<u8>>, SyncError> {
        let fresh: Vec<Vec<u8>> = match &resp {
            Response::Values(entries) => entries
                .iter()
                .filter(|(k, _)| !self.tree.contains_key(k))
                .map(|(k, _)| k.clone())
                .collect(),
            _ => Vec::new(),
        };
        let result = client.on_response(&mut self.tree, resp);
        let mut added = Vec::new();
        for k in fresh {
            if let Some(v) = self.tree.get(&k).map(<[u8]>::to_vec) {
                self.index(&k, &v);
                added.push(v);
            }
        }
        if !added.is_empty() {
            self.apply_orphans();
        }
        result.map(|()| added)
    }

    /// The next request of `client` against this log.
    pub fn next_request(&self, client: &mut SyncClient) -> Option<Request> {
        client.next_request(&self.tree)
    }

    /// Answers a sync request from a remote client.
    pub fn answer(&self, req: &Request) -> Response {
        crate::prolly::answer(&self.tree, req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prolly::SyncConfig;

    #[test]
    fn entries_roundtrip_and_keep_the_sequence_number_first() {
        let e = Entry {
            seq: 7,
            clock: 9,
            parents: vec![key_of(3, b"a"), key_of(8, b"b")],
        };
        let p = e.encode(100);
        assert_eq!(p.len(), 100);
        assert_eq!(seq_of(&p), Some(7));
        assert_eq!(Entry::decode(&p), Ok(e.clone()));
        // Bigger than asked: the header wins.
        assert_eq!(e.encode(8).len(), Entry::header_len(2));
        assert_eq!(Entry::decode(&p[..20]), Err(EntryError::Truncated));
        let mut bad = p.clone();
        bad[8] = 9;
        assert_eq!(Entry::decode(&bad), Err(EntryError::Version(9)));
        let unordered = Entry {
            parents: vec![key_of(8, b"b"), key_of(3, b"a")],
            ..e.clone()
        };
        assert_eq!(
            Entry::decode(&unordered.encode(0)),
            Err(EntryError::Parents)
        );
        let late = Entry { clock: 8, ..e };
        assert_eq!(Entry::decode(&late.encode(0)), Err(EntryError::Clock));
        for n in 0..40 {
            let _ = Entry::decode(&vec![0xff; n]);
        }
    }

    #[test]
    fn heads_clock_and_missing_parents() {
        let mut a = Log::new();
        let (k1, p1) = a.append(0, 64);
        let (k2, p2) = a.append(1, 64);
        assert_eq!(clock_of(&k1), 1);
        assert_eq!(clock_of(&k2), 2);
        assert_eq!(a.heads().iter().copied().collect::<Vec<_>>(), vec![k2]);
        let mut b = Log::new();
        assert_eq!(
            b.receive(&p2),
            Receive::MissingParents {
                key: k2,
                missing: vec![k1]
            }
        );
        assert_eq!(b.receive(&p1), Receive::Applied(k1));
        assert_eq!(b.receive(&p2), Receive::Applied(k2));
        assert_eq!(b.receive(&p2), Receive::Duplicate(k2));
        assert_eq!(a.root_hash(), b.root_hash());
        // Concurrent appends: two heads, merged by the next message.
        let (x, _) = a.append(2, 64);
        let (y, py) = b.append(3, 64);
        assert_eq!(a.receive(&py), Receive::Applied(y));
        assert_eq!(a.heads().len(), 2);
        assert!(a.heads().contains(&x) && a.heads().contains(&y));
        let (z, _) = a.append(4, 64);
        assert_eq!(a.heads().iter().copied().collect::<Vec<_>>(), vec![z]);
        assert_eq!(clock_of(&z), 4);
    }

    #[test]
    fn orphans_wait_for_their_parents() {
        let mut a = Log::new();
        let ps: Vec<Vec<u8>> = (0..4).map(|i| a.append(i, 40).1).collect();
        let mut b = Log::new();
        b.set_keep_orphans(true);
        assert!(matches!(b.receive(&ps[2]), Receive::MissingParents { .. }));
        assert!(matches!(b.receive(&ps[3]), Receive::MissingParents { .. }));
        assert_eq!(b.orphans(), 2);
        assert!(matches!(b.receive(&ps[1]), Receive::MissingParents { .. }));
        assert!(matches!(b.receive(&ps[0]), Receive::Applied(_)));
        assert_eq!((b.orphans(), b.orphans_applied()), (0, 3));
        assert_eq!(a.root_hash(), b.root_hash());
        let mut c = Log::new();
        assert!(matches!(c.receive(&ps[1]), Receive::MissingParents { .. }));
        assert!(matches!(c.receive(&ps[0]), Receive::Applied(_)));
        assert_eq!((c.len(), c.orphans()), (1, 0), "orphans off by default");
    }

    #[test]
    fn sync_fills_gaps_and_updates_heads() {
        let mut a = Log::new();
        let mut b = Log::new();
        for i in 0..50 {
            let (_, p) = a.append(i, 32);
            if i < 10 {
                assert!(matches!(b.receive(&p), Receive::Applied(_)));
            }
        }
        let mut client = SyncClient::with_config(SyncConfig::default());
        let mut added = 0;
        while let Some(req) = b.next_request(&mut client) {
            added += b
                .apply_sync_response(&mut client, a.answer(&req))
                .unwrap()
                .len();
        }
        assert_eq!(added, 40);
        assert_eq!(a.root_hash(), b.root_hash());
        assert_eq!(a.heads(), b.heads());
    }
}
