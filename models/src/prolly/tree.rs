//! The incremental Prolly tree.
//!
//! Every level is kept as an ordered map `key -> hash` (anchor `None` first).
//! An insert changes one leaf; the change is then propagated level by level:
//! for each changed node we decide whether it starts or stops being a
//! boundary (which creates or removes a parent, i.e. splits or merges runs),
//! mark the parents whose run changed as dirty, and recompute only those
//! (each costs one run, about [`Q`](super::Q) hashes). Propagation stops as
//! soon as a level is unchanged, so an insert touches O(log n) nodes. The
//! result is exactly the tree [`Tree::from_entries`] builds bottom-up (this is
//! property-tested).
//!
//! The replicated log is *append-mostly*: entries are normally never changed
//! once written. Re-inserting a key with the same value is a no-op; with a
//! different value the entry is replaced (and the tree updated accordingly).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use super::{is_boundary, leaf_hash, truncate, Hash, Node, ANCHOR_HASH};

/// Node key: `None` is the anchor.
type Key = Option<Vec<u8>>;
/// One level: node key -> node hash.
type Level = BTreeMap<Key, Hash>;
/// Changes of one level: key -> (old hash, new hash); `None` = absent.
type Changes = BTreeMap<Key, (Option<Hash>, Option<Hash>)>;

/// What [`Tree::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// The key was new.
    Added,
    /// The key existed with another value, which was replaced.
    Replaced,
    /// The key existed with the same value; nothing changed.
    Unchanged,
}

/// A Prolly tree over byte-string entries (okra v3 layout).
///
/// Invariants: `levels[0]` holds the anchor and one leaf per entry; every
/// level but the last holds more than one node; the last level holds only its
/// anchor, the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
    levels: Vec<Level>,
}

impl Default for Tree {
    fn default() -> Self {
        Self::new()
    }
}

impl Tree {
    /// An empty tree; its root is `(0, None)` with the anchor hash.
    pub fn new() -> Self {
        let mut leaves = Level::new();
        leaves.insert(None, ANCHOR_HASH);
        Tree {
            entries: BTreeMap::new(),
            levels: vec![leaves],
        }
    }

    /// Builds a tree bottom-up from entries (later duplicates win).
    pub fn from_entries<K, V, I>(entries: I) -> Self
    where
        K: Into<Vec<u8>>,
        V: Into<Vec<u8>>,
        I: IntoIterator<Item = (K, V)>,
    {
        let entries: BTreeMap<Vec<u8>, Vec<u8>> = entries
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let mut leaves = Level::new();
        leaves.insert(None, ANCHOR_HASH);
        for (k, v) in &entries {
            leaves.insert(Some(k.clone()), leaf_hash(k, v));
        }
        let mut levels = vec![leaves];
        while let Some(top) = levels.last().filter(|l| l.len() > 1) {
            let parent = build_parent_level(top);
            levels.push(parent);
        }
        Tree { entries, levels }
    }

    /// Rebuilds every level from the entries (bottom-up). Test helper.
    pub fn rebuild(&self) -> Self {
        Self::from_entries(self.entries.iter().map(|(k, v)| (k.clone(), v.clone())))
    }

    /// Number of entries (leaves, anchor excluded).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the tree has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Level of the root (0 for a tree with no entries).
    pub fn height(&self) -> u8 {
        (self.levels.len() - 1) as u8
    }

    /// Value stored under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.entries.contains_key(key)
    }

    /// All entries in key order.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.entries
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// The root node `(height, None)`.
    pub fn root(&self) -> Node {
        let level = self.levels.len() - 1;
        let hash = self.levels[level]
            .get(&None)
            .copied()
            .unwrap_or(ANCHOR_HASH);
        Node {
            level: level as u8,
            key: None,
            hash,
        }
    }

    /// The node at `(level, key)`, if it exists.
    pub fn node(&self, level: u8, key: Option<&[u8]>) -> Option<Node> {
        let lvl = self.levels.get(level as usize)?;
        let key = key.map(<[u8]>::to_vec);
        let hash = *lvl.get(&key)?;
        Some(Node { level, key, hash })
    }

    /// Hash of the node at `(level, key)`, if it exists (no allocation when
    /// `key` is the anchor).
    pub fn node_hash(&self, level: u8, key: &Option<Vec<u8>>) -> Option<Hash> {
        self.levels.get(level as usize)?.get(key).copied()
    }

    /// Children of node `(level, key)`: the level `level - 1` nodes from
    /// `key` up to the next boundary. `None` if the node does not exist or is
    /// a leaf.
    pub fn children(&self, level: u8, key: Option<&[u8]>) -> Option<Vec<Node>> {
        if level == 0 {
            return None;
        }
        let key = key.map(<[u8]>::to_vec);
        self.levels.get(level as usize)?.get(&key)?;
        let below = &self.levels[level as usize - 1];
        let run = run(below, &key)
            .map(|(k, h)| Node {
                level: level - 1,
                key: k.clone(),
                hash: *h,
            })
            .collect();
        Some(run)
    }

    /// Entries in the subtree of node `(level, key)`: the leaves with keys in
    /// `[key, next key at level)`. Empty if the node does not exist.
    pub fn entries_under(
        &self,
        level: u8,
        key: Option<&[u8]>,
    ) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let key = key.map(<[u8]>::to_vec);
        let range = self.levels.get(level as usize).and_then(|lvl| {
            lvl.get(&key)?;
            let next = lvl
                .range((Bound::Excluded(&key), Bound::Unbounded))
                .next()
                .and_then(|(k, _)| k.clone());
            let lo = key.clone().map_or(Bound::Unbounded, Bound::Included);
            let hi = next.map_or(Bound::Unbounded, Bound::Excluded);
            Some(self.entries.range::<Vec<u8>, _>((lo, hi)))
        });
        range
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// All nodes of one level in key order (empty above the root).
    pub fn level_nodes(&self, level: u8) -> Vec<Node> {
        self.levels
            .get(level as usize)
            .into_iter()
            .flatten()
            .map(|(k, h)| Node {
                level,
                key: k.clone(),
                hash: *h,
            })
            .collect()
    }

    /// Inserts `key -> value`, updating the tree incrementally.
    ///
    /// The log is append-mostly: the same value again is a no-op
    /// ([`Insert::Unchanged`]); a different value replaces the old one
    /// ([`Insert::Replaced`]).
    pub fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Insert {
        let (key, value) = (key.into(), value.into());
        let new = leaf_hash(&key, &value);
        let outcome = match self.entries.get(&key) {
            Some(v) if *v == value => return Insert::Unchanged,
            Some(_) => Insert::Replaced,
            None => Insert::Added,
        };
        self.entries.insert(key.clone(), value);
        let k = Some(key);
        let old = self.levels[0].insert(k.clone(), new);
        let mut changes = Changes::new();
        changes.insert(k, (old, Some(new)));
        self.propagate(changes);
        outcome
    }

    /// Propagates the changes of level 0 upwards.
    fn propagate(&mut self, mut changes: Changes) {
        let mut level = 0;
        while !changes.is_empty() {
            if self.levels[level].len() == 1 {
                // Only the anchor is left: this level is the new root.
                self.levels.truncate(level + 1);
                return;
            }
            if level + 1 == self.levels.len() {
                // This level used to be the root and grew: build a new level.
                let parent = build_parent_level(&self.levels[level]);
                changes = parent
                    .iter()
                    .map(|(k, h)| (k.clone(), (None, Some(*h))))
                    .collect();
                self.levels.push(parent);
            } else {
                let (lower, upper) = self.levels.split_at_mut(level + 1);
                changes = update_parent_level(&lower[level], &mut upper[0], &changes);
            }
            level += 1;
        }
    }
}

/// Whether the node at `key` with hash `hash` starts a run.
fn starts_run(key: &Key, hash: Option<&Hash>) -> bool {
    key.is_none() || hash.is_some_and(is_boundary)
}

/// The run of `level` starting at `start`: `start` and the following nodes
/// up to (excluding) the next boundary.
fn run<'a>(level: &'a Level, start: &Key) -> impl Iterator<Item = (&'a Key, &'a Hash)> + 'a {
    let mut first = true;
    level.range(start..).take_while(move |(_, h)| {
        let keep = first || !is_boundary(h);
        first = false;
        keep
    })
}

/// Hash of the run of `level` starting at `start`.
fn run_hash(level: &Level, start: &Key) -> Hash {
    let mut h = blake3::Hasher::new();
    for (_, c) in run(level, start) {
        h.update(c);
    }
    truncate(h.finalize())
}

/// Builds the parent level of `child` from scratch.
fn build_parent_level(child: &Level) -> Level {
    let mut out = Level::new();
    let mut cur: Option<(Key, blake3::Hasher)> = None;
    for (k, h) in child {
        if starts_run(k, Some(h)) {
            if let Some((pk, hs)) = cur.take() {
                out.insert(pk, truncate(hs.finalize()));
            }
            cur = Some((k.clone(), blake3::Hasher::new()));
        }
        if let Some((_, hs)) = cur.as_mut() {
            hs.update(h);
        }
    }
    if let Some((pk, hs)) = cur {
        out.insert(pk, truncate(hs.finalize()));
    }
    out
}

/// Applies the `changes` of `child` (already applied to it) to `parent` and
/// returns the resulting changes of `parent`.
fn update_parent_level(child: &Level, parent: &mut Level, changes: &Changes) -> Changes {
    let mut out = Changes::new();
    let mut added = BTreeSet::new();
    // 1. Boundary changes split or merge runs: add or remove parents.
    for (k, (old, new)) in changes {
        let was = starts_run(k, old.as_ref());
        let now = starts_run(k, new.as_ref());
        if was && !now {
            if let Some(h) = parent.remove(k) {
                out.insert(k.clone(), (Some(h), None));
            }
        } else if now && !was {
            parent.insert(k.clone(), [0; super::K]);
            added.insert(k.clone());
        }
    }
    // 2. Parents whose run changed: the one now containing each changed
    //    node, and the one before a node that became a boundary.
    let mut dirty = BTreeSet::new();
    for k in changes.keys() {
        if let Some((p, _)) = parent.range(..=k).next_back() {
            dirty.insert(p.clone());
        }
        if added.contains(k) {
            if let Some((p, _)) = parent.range(..k).next_back() {
                dirty.insert(p.clone());
            }
        }
    }
    // 3. Recompute them.
    for p in dirty {
        let h = run_hash(child, &p);
        let old = parent.insert(p.clone(), h).filter(|_| !added.contains(&p));
        if old != Some(h) {
            out.insert(p, (old, Some(h)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(h: &Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn empty_tree() {
        let t = Tree::new();
        assert_eq!(t.root().level, 0);
        assert_eq!(t.root().key, None);
        assert_eq!(hex(&t.root().hash), "af1349b9f5f9a1a6a0404dea36dcc949");
        assert_eq!(t, Tree::from_entries(Vec::<(Vec<u8>, Vec<u8>)>::new()));
        assert_eq!(t.children(0, None), None);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn prolly_md_vectors() {
        let mut t = Tree::new();
        assert_eq!(t.insert("a", "foo"), Insert::Added);
        assert_eq!(t.insert("b", "bar"), Insert::Added);
        assert_eq!(t.insert("c", "baz"), Insert::Added);
        let leaf = |k: &str| hex(&t.node(0, Some(k.as_bytes())).unwrap().hash);
        assert_eq!(leaf("a"), "2f26b85f65eb9f7a8ac11e79e710148d");
        assert_eq!(leaf("b"), "684f1047a178e6cf9fff759ba1edec2d");
        assert_eq!(leaf("c"), "56cb13c78823525b08d471b6c1201360");
        let root = t.root();
        assert_eq!((root.level, root.key.clone()), (1, None));
        assert_eq!(hex(&root.hash), "6246b94074d09feb644be1a1c12c1f50");
        let children = t.children(1, None).unwrap();
        assert_eq!(children.len(), 4);
        assert_eq!(children[0].key, None);
        assert_eq!(hex(&children[0].hash), "af1349b9f5f9a1a6a0404dea36dcc949");
        assert_eq!(t, t.rebuild());
        let b = Tree::from_entries([("c", "baz"), ("a", "foo"), ("b", "bar")]);
        assert_eq!(b.root(), root);
    }

    #[test]
    fn insert_same_and_replace() {
        let mut t = Tree::from_entries([("a", "foo"), ("b", "bar")]);
        let root = t.root();
        assert_eq!(t.insert("a", "foo"), Insert::Unchanged);
        assert_eq!(t.root(), root);
        assert_eq!(t.insert("a", "other"), Insert::Replaced);
        assert_eq!(t.get(b"a"), Some(&b"other"[..]));
        assert_ne!(t.root(), root);
        assert_eq!(t, t.rebuild());
        assert_eq!(t.insert("a", "foo"), Insert::Replaced);
        assert_eq!(t.root(), root);
    }

    #[test]
    fn many_sequential_inserts_match_rebuild() {
        let mut t = Tree::new();
        for i in 0u32..3000 {
            t.insert(i.wrapping_mul(2_654_435_761).to_be_bytes(), i.to_le_bytes());
        }
        assert!(t.height() >= 2);
        assert_eq!(t, t.rebuild());
        // Every node's subtree covers [key, next key) and children link up.
        for level in 1..=t.height() {
            let mut total = 0;
            for n in t.level_nodes(level) {
                let ch = t.children(level, n.key.as_deref()).unwrap();
                assert_eq!(ch[0].key, n.key);
                assert_eq!(
                    n.hash,
                    super::super::parent_hash(ch.iter().map(|c| &c.hash))
                );
                total += ch.len();
            }
            assert_eq!(total, t.level_nodes(level - 1).len());
        }
        let under: usize = t
            .level_nodes(1)
            .iter()
            .map(|n| t.entries_under(1, n.key.as_deref()).count())
            .sum();
        assert_eq!(under, t.len());
        assert_eq!(t.entries_under(t.height(), None).count(), t.len());
    }
}
