//! Prolly tree (okra v3 layout) and its pull-based merkle sync protocol.
//!
//! This module is pure: no I/O, no async, no clocks. It is the data model of
//! the replicated, append-mostly message log that GossipLog keeps on top of
//! okra, plus a sans-IO state machine for the GossipLog-style sync.
//!
//! # Layout
//!
//! * Hash: BLAKE3 truncated to [`K`] = 16 bytes; target fanout [`Q`] = 32.
//! * A node is `(level, key)`; `key = None` is the *anchor*, the first node
//!   of every level (it sorts before every `Some` key).
//! * Level 0 holds the anchor (hash [`ANCHOR_HASH`] = `blake3("")[..16]`) and
//!   one leaf per entry, sorted by key bytes. A leaf hashes
//!   `u32be(len k) ‖ k ‖ u32be(len v) ‖ v` (see [`leaf_hash`]).
//! * A node is a *boundary* iff `u32be(hash[0..4]) <` [`LIMIT`]
//!   (`floor(2^32 / Q)`), see [`is_boundary`].
//! * Level `L+1` splits level `L` into runs, each starting at the anchor or a
//!   boundary node; every run becomes one parent whose key is the key of the
//!   run's first node and whose hash is BLAKE3 over the run's hashes
//!   concatenated in key order (see [`parent_hash`]).
//! * Levels are built until one holds only its anchor: that is the root
//!   `(h, None)`. The empty tree's root is `(0, None)` with the anchor hash.
//! * `children(L, k)` are the level `L-1` nodes from `k` (inclusive) up to the
//!   next boundary node (exclusive).
//!
//! Consequently the subtree of node `(L, k)` covers exactly the leaves whose
//! keys lie in `[k, k')` where `k'` is the next key at level `L`, and two
//! trees that agree on the hash of `(L, k)` hold the same entries in that
//! range. The sync protocol relies on this to prune equal subtrees.
//!
//! # Submodules
//!
//! * [`tree`]: [`Tree`], the incremental tree (O(log n) nodes recomputed per
//!   insert) and its bottom-up builder [`Tree::from_entries`].
//! * [`wire`]: [`Request`] / [`Response`] messages and their compact,
//!   length-prefixed binary encoding with a strict decoder.
//! * [`server`]: [`answer`], the stateless server side.
//! * [`client`]: [`SyncClient`], the lockstep client state machine, and
//!   [`sync_in_memory`], which drives a whole sync through the encoding.

pub mod client;
pub mod server;
pub mod tree;
pub mod wire;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod proptests;

pub use client::{sync_in_memory, SyncClient, SyncConfig, SyncError, SyncStats};
pub use server::answer;
pub use tree::{Insert, Tree};
pub use wire::{DecodeError, Request, Response};

/// Hash output size in bytes (BLAKE3 truncated).
pub const K: usize = 16;

/// Target fanout of the tree.
pub const Q: u32 = 32;

/// Boundary limit: a node is a boundary iff `u32be(hash[0..4]) < LIMIT`.
pub const LIMIT: u32 = ((1u64 << 32) / Q as u64) as u32;

/// A truncated BLAKE3 hash.
pub type Hash = [u8; K];

/// Hash of the level-0 anchor: `blake3("")[..16]`.
pub const ANCHOR_HASH: Hash = [
    0xaf, 0x13, 0x49, 0xb9, 0xf5, 0xf9, 0xa1, 0xa6, 0xa0, 0x40, 0x4d, 0xea, 0x36, 0xdc, 0xc9, 0x49,
];

/// A node of the tree: its position `(level, key)` and its hash.
///
/// `key == None` denotes the anchor of the level.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Node {
    /// Level of the node; leaves are at level 0.
    pub level: u8,
    /// Key of the node (the key of its first leaf); `None` for the anchor.
    pub key: Option<Vec<u8>>,
    /// Truncated BLAKE3 hash of the node.
    pub hash: Hash,
}

/// Truncates a BLAKE3 hash to [`K`] bytes.
pub(crate) fn truncate(h: blake3::Hash) -> Hash {
    let mut out = [0u8; K];
    out.copy_from_slice(&h.as_bytes()[..K]);
    out
}

/// Hash of the leaf for entry `key -> value`:
/// `blake3(u32be(len k) ‖ k ‖ u32be(len v) ‖ v)[..16]`.
///
/// Keys and values longer than `u32::MAX` bytes are not supported (their
/// length prefix is truncated).
pub fn leaf_hash(key: &[u8], value: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&(key.len() as u32).to_be_bytes());
    h.update(key);
    h.update(&(value.len() as u32).to_be_bytes());
    h.update(value);
    truncate(h.finalize())
}

/// Hash of a parent: BLAKE3 over the children's hashes concatenated in key
/// order, truncated.
pub fn parent_hash<'a>(children: impl IntoIterator<Item = &'a Hash>) -> Hash {
    let mut h = blake3::Hasher::new();
    for c in children {
        h.update(c);
    }
    truncate(h.finalize())
}

/// Whether a node with this hash is a boundary (starts a new run).
///
/// Note that the anchor always starts a run, whatever its hash.
pub fn is_boundary(hash: &Hash) -> bool {
    u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]]) < LIMIT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants() {
        assert_eq!(LIMIT, 0x0800_0000);
        assert_eq!(ANCHOR_HASH, truncate(blake3::hash(b"")));
        assert!(!is_boundary(&ANCHOR_HASH));
        let mut h = [0xffu8; K];
        h[..4].copy_from_slice(&0x07ff_ffffu32.to_be_bytes());
        assert!(is_boundary(&h));
        h[..4].copy_from_slice(&0x0800_0000u32.to_be_bytes());
        assert!(!is_boundary(&h));
    }
}
