//! meshsim: results of pure functions remembered on a simulation thread.
//!
//! This module is meshsim's only addition to ed25519-dalek 3.0.0. In a
//! simulation every peer verifies the same few signatures again and again:
//! GossipSub verifies every copy it receives, duplicates included, so one
//! message published to 1,000 peers of degree 8 is verified about 5,000 times
//! (once per received copy) with the same (key, message, signature). Verification and point
//! decompression are pure functions of their inputs, so remembering their
//! successful results changes no result anywhere; it only saves the CPU time
//! of computing them again.
//!
//! - Only successes are remembered. A failure (a forged or corrupt signature,
//!   a key that is not a curve point) is computed every time and returns the
//!   original error value.
//! - A verification is remembered under BLAKE3(key || signature || message):
//!   a different message, key or signature never matches.
//! - Each table is emptied (and its memory freed) when it reaches
//!   [`MAX_ENTRIES`], so memory stays bounded. Which entries are present
//!   changes only the time taken.
//! - The memo belongs to one simulation: it starts empty whenever the
//!   thread's virtual clock is a new one (`meshsim_clock::memo_epoch`).
//! - Off a simulation thread (`memo_epoch()` is `None`), or when a run turns
//!   it off, nothing is remembered and this crate behaves exactly like the
//!   original.
//! - The tables hash their keys with a fixed function (the keys are already
//!   uniformly distributed), never with `RandomState`: creating a
//!   `RandomState` would advance std's per-thread hash keys and so change the
//!   iteration order of every `HashMap` GossipSub creates afterwards.

extern crate std;

use core::cell::RefCell;
use core::hash::{BuildHasherDefault, Hasher};
use std::collections::HashMap;
use std::thread_local;

use crate::{PUBLIC_KEY_LENGTH, SignatureError, VerifyingKey};

/// Entries per table before it is cleared.
pub(crate) const MAX_ENTRIES: usize = 1 << 16;

/// Hashes a key that is already uniformly distributed (a BLAKE3 digest or a
/// compressed curve point) by taking its first eight bytes.
#[derive(Default)]
struct FirstBytes(u64);

impl Hasher for FirstBytes {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut b = [0u8; 8];
        let n = bytes.len().min(8);
        b[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(b);
    }
}

type Table<V> = HashMap<[u8; 32], V, BuildHasherDefault<FirstBytes>>;

#[derive(Default)]
struct Memo {
    epoch: u64,
    verified: Table<()>,
    keys: Table<VerifyingKey>,
}

impl Memo {
    /// Empties the memo if it belongs to an earlier simulation.
    fn enter(&mut self, epoch: u64) {
        if self.epoch != epoch {
            *self = Memo {
                epoch,
                ..Memo::default()
            };
        }
    }
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

fn insert<V>(table: &mut Table<V>, key: [u8; 32], value: V) {
    if table.len() >= MAX_ENTRIES {
        *table = Table::default();
    }
    table.insert(key, value);
}

/// `verify(key, message, signature)` through the memo.
pub(crate) fn verify(
    key: &VerifyingKey,
    message: &[u8],
    signature: &ed25519::Signature,
    compute: impl FnOnce() -> Result<(), SignatureError>,
) -> Result<(), SignatureError> {
    let Some(epoch) = meshsim_clock::memo_epoch() else {
        return compute();
    };
    let mut h = blake3::Hasher::new();
    h.update(key.as_bytes());
    h.update(&signature.to_bytes());
    h.update(message);
    let digest: [u8; 32] = *h.finalize().as_bytes();
    let known = MEMO.with(|m| {
        let mut m = m.borrow_mut();
        m.enter(epoch);
        m.verified.contains_key(&digest)
    });
    meshsim_clock::count_memo(known);
    if known {
        return Ok(());
    }
    let r = compute();
    if r.is_ok() {
        MEMO.with(|m| insert(&mut m.borrow_mut().verified, digest, ()));
    }
    r
}

/// `VerifyingKey::from_bytes(bytes)` (point decompression) through the memo.
pub(crate) fn from_bytes(
    bytes: &[u8; PUBLIC_KEY_LENGTH],
    compute: impl FnOnce() -> Result<VerifyingKey, SignatureError>,
) -> Result<VerifyingKey, SignatureError> {
    let Some(epoch) = meshsim_clock::memo_epoch() else {
        return compute();
    };
    let known = MEMO.with(|m| {
        let mut m = m.borrow_mut();
        m.enter(epoch);
        m.keys.get(bytes).copied()
    });
    meshsim_clock::count_memo(known.is_some());
    if let Some(k) = known {
        return Ok(k);
    }
    let r = compute();
    if let Ok(k) = r {
        MEMO.with(|m| insert(&mut m.borrow_mut().keys, *bytes, k));
    }
    r
}
