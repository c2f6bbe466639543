//! # meshsim-packed
//!
//! Bytes on their way, stored compactly: long runs of zero bytes (the
//! padding of large simulated messages) take no room. Reading gives back
//! exactly the bytes written; only the memory they take while in flight
//! (in the world's pipes and queues, in the wire decoder's buffers) changes.

use std::cell::Cell;

thread_local! {
    static WRITE_WINDOW: Cell<usize> = const { Cell::new(usize::MAX) };
    static READ_HOLD: Cell<usize> = const { Cell::new(0) };
    static FRAMES_HELD: Cell<u64> = const { Cell::new(0) };
}

/// The most bytes one write call of this thread's simulated transport
/// accepts (`usize::MAX`: all it is given). Writers that hold a large
/// frame packed unpack only this much of it per call.
pub fn write_window() -> usize {
    WRITE_WINDOW.with(Cell::get)
}

/// Sets [`write_window`] for this thread (the world, when a run starts).
pub fn set_write_window(n: usize) {
    WRITE_WINDOW.with(|w| w.set(n.max(1)));
}

/// The largest length-prefixed frame (prefix included) that a reader on
/// this thread may hold packed until it is complete, instead of offering
/// it to its decoder at every read (0: none). The world sets it to the
/// smallest size limit of the protocol's decoders: a decoder offered an
/// incomplete frame under its limit finds nothing, so not offering it
/// changes nothing.
pub fn read_hold() -> usize {
    READ_HOLD.with(Cell::get)
}

/// Sets [`read_hold`] for this thread and restarts [`frames_held`].
pub fn set_read_hold(n: usize) {
    READ_HOLD.with(|h| h.set(n));
    FRAMES_HELD.with(|c| c.set(0));
}

/// How many frames readers on this thread held packed since the last
/// [`set_read_hold`] (for tests: that the path is taken).
pub fn frames_held() -> u64 {
    FRAMES_HELD.with(Cell::get)
}

/// Counts a frame held packed (see [`frames_held`]).
pub fn note_frame_held() {
    FRAMES_HELD.with(|c| c.set(c.get() + 1));
}

/// The whole length (prefix included) of the frame at the start of `buf`,
/// when it starts with a minimal unsigned varint of at most 5 bytes (the
/// length prefix of libp2p's protobuf framing); `None` for anything else,
/// so that a caller holding frames only on `Some` holds no frame a varint
/// decoder would refuse.
pub fn varint_frame_len(buf: &[u8]) -> Option<usize> {
    let mut len = 0usize;
    for (i, &b) in buf.iter().take(5).enumerate() {
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            // Minimal: a last byte of zero after others is refused.
            return (i == 0 || b != 0).then_some(len + i + 1);
        }
    }
    None
}

/// Writes shorter than this are stored as they are.
const PACK_FROM: usize = 4096;
/// Zero runs shorter than this stay in the literal bytes.
const MIN_RUN: usize = 64;

/// Bytes in flight: as written, or as literal pieces at their offsets with
/// zeros between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packed {
    /// The bytes as they are.
    Plain(Vec<u8>),
    /// `len` bytes: zero except for the literal pieces, each at its offset
    /// (in order, not overlapping).
    Sparse {
        /// The number of bytes.
        len: usize,
        /// The non-zero pieces: (offset, bytes).
        pieces: Vec<(usize, Box<[u8]>)>,
    },
}

impl Default for Packed {
    fn default() -> Self {
        Packed::Plain(Vec::new())
    }
}

impl From<Vec<u8>> for Packed {
    fn from(v: Vec<u8>) -> Packed {
        if v.len() >= PACK_FROM {
            Packed::pack(&v)
        } else {
            Packed::Plain(v)
        }
    }
}

impl Packed {
    /// `bytes`, packed when long (reusing `spare` for short ones).
    pub fn copy_of(bytes: &[u8], spare: Option<Vec<u8>>) -> Packed {
        if bytes.len() >= PACK_FROM {
            return Packed::pack(bytes);
        }
        let mut v = spare.unwrap_or_default();
        v.extend_from_slice(bytes);
        Packed::Plain(v)
    }

    /// `bytes` with their zero runs left out.
    fn pack(bytes: &[u8]) -> Packed {
        let mut pieces = Vec::new();
        let (mut lit_start, mut i) = (0usize, 0usize);
        while i < bytes.len() {
            if bytes[i] != 0 {
                i += 1;
                continue;
            }
            let run_start = i;
            // Whole words at a time through the zeros.
            while i + 8 <= bytes.len()
                && u64::from_ne_bytes(bytes[i..i + 8].try_into().expect("8 bytes")) == 0
            {
                i += 8;
            }
            while i < bytes.len() && bytes[i] == 0 {
                i += 1;
            }
            if i - run_start >= MIN_RUN {
                if run_start > lit_start {
                    pieces.push((lit_start, bytes[lit_start..run_start].into()));
                }
                lit_start = i;
            }
        }
        if bytes.len() > lit_start {
            pieces.push((lit_start, bytes[lit_start..].into()));
        }
        Packed::Sparse {
            len: bytes.len(),
            pieces,
        }
    }

    /// The number of bytes.
    pub fn len(&self) -> usize {
        match self {
            Packed::Plain(v) => v.len(),
            Packed::Sparse { len, .. } => *len,
        }
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies bytes from `off` into `out`; returns how many (as many as fit).
    pub fn copy_out(&self, off: usize, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len().saturating_sub(off));
        match self {
            Packed::Plain(v) => out[..n].copy_from_slice(&v[off..off + n]),
            Packed::Sparse { pieces, .. } => {
                out[..n].fill(0);
                let end = off + n;
                let first = pieces.partition_point(|(at, b)| at + b.len() <= off);
                for (at, b) in &pieces[first..] {
                    if *at >= end {
                        break;
                    }
                    let (lo, hi) = ((*at).max(off), (at + b.len()).min(end));
                    out[lo - off..hi - off].copy_from_slice(&b[lo - at..hi - at]);
                }
            }
        }
        n
    }

    /// Calls `f(at, bytes)` for the bytes of `off..off + len` that are not
    /// left-out zeros, `at` counted from `off`: copying them into a buffer
    /// of zeros gives the bytes (and clearing them again restores it),
    /// without touching the zeros.
    pub fn for_each_piece(&self, off: usize, len: usize, mut f: impl FnMut(usize, &[u8])) {
        let end = (off + len).min(self.len());
        if off >= end {
            return;
        }
        match self {
            Packed::Plain(v) => f(0, &v[off..end]),
            Packed::Sparse { pieces, .. } => {
                let first = pieces.partition_point(|(at, b)| at + b.len() <= off);
                for (at, b) in &pieces[first..] {
                    if *at >= end {
                        break;
                    }
                    let (lo, hi) = ((*at).max(off), (at + b.len()).min(end));
                    f(lo - off, &b[lo - at..hi - at]);
                }
            }
        }
    }

    /// The bytes `from..to`.
    pub fn slice(&self, from: usize, to: usize) -> Packed {
        let mut v = vec![0u8; to - from];
        self.copy_out(from, &mut v);
        Packed::from(v)
    }

    /// The bytes as one contiguous vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.len()];
        self.copy_out(0, &mut v);
        v
    }

    /// Appends `more`.
    pub fn append(&mut self, more: &[u8]) {
        match self {
            Packed::Plain(v) if v.len() + more.len() < PACK_FROM => v.extend_from_slice(more),
            Packed::Plain(v) => {
                let mut all = std::mem::take(v);
                all.extend_from_slice(more);
                *self = Packed::pack(&all);
            }
            Packed::Sparse { len, pieces } => {
                if let Packed::Sparse {
                    pieces: p2,
                    len: l2,
                } = Packed::pack(more)
                {
                    pieces.extend(p2.into_iter().map(|(at, b)| (at + *len, b)));
                    *len += l2;
                }
            }
        }
    }

    /// The byte at `i` (`i < len`).
    pub fn byte(&self, i: usize) -> u8 {
        match self {
            Packed::Plain(v) => v[i],
            Packed::Sparse { pieces, .. } => {
                let k = pieces.partition_point(|(at, b)| at + b.len() <= i);
                match pieces.get(k) {
                    Some((at, b)) if *at <= i => b[i - at],
                    _ => 0,
                }
            }
        }
    }

    /// Drops the first `n` bytes.
    pub fn drain_front(&mut self, n: usize) {
        let n = n.min(self.len());
        match self {
            Packed::Plain(v) => {
                v.drain(..n);
            }
            Packed::Sparse { len, pieces } => {
                let mut kept = Vec::with_capacity(pieces.len());
                for (at, b) in pieces.drain(..) {
                    if at + b.len() <= n {
                        continue;
                    }
                    if at >= n {
                        kept.push((at - n, b));
                    } else {
                        kept.push((0, b[n - at..].into()));
                    }
                }
                *pieces = kept;
                *len -= n;
                if *len < PACK_FROM {
                    *self = Packed::Plain(self.to_vec());
                }
            }
        }
    }

    /// The vector of a plain value (for recycling).
    pub fn into_plain(self) -> Option<Vec<u8>> {
        match self {
            Packed::Plain(v) => Some(v),
            Packed::Sparse { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: usize) -> Vec<u8> {
        // A frame header, a sequence number, zero padding, a trailer.
        let mut v = vec![0u8; len];
        v[..12].copy_from_slice(b"header\x01\x02\x03\x04\x05\x06");
        v[20..28].copy_from_slice(&42u64.to_be_bytes());
        let n = v.len();
        v[n - 30..].fill(7);
        v
    }

    #[test]
    fn packing_keeps_every_byte_and_little_room() {
        for len in [0, 10, 4095, 4096, 100_000, 1_000_003] {
            let v = message(len.max(60));
            let p = Packed::from(v.clone());
            assert_eq!(p.len(), v.len());
            assert_eq!(p.to_vec(), v);
            // Reads at every kind of offset and length.
            for (off, n) in [
                (0, 7),
                (5, 40),
                (19, 10),
                (v.len() / 2, 100),
                (v.len() - 31, 31),
            ] {
                let mut out = vec![9u8; n];
                let got = p.copy_out(off, &mut out);
                assert_eq!(&out[..got], &v[off..off + got]);
            }
            assert_eq!(p.slice(3, v.len() - 3).to_vec(), v[3..v.len() - 3]);
            // Pieces copied into zeros give the bytes; cleared, the zeros.
            for (off, n) in [(0, v.len()), (11, 40), (v.len() - 40, 40)] {
                let mut out = vec![0u8; n];
                p.for_each_piece(off, n, |at, b| out[at..at + b.len()].copy_from_slice(b));
                assert_eq!(out, v[off..off + n]);
                p.for_each_piece(off, n, |at, b| out[at..at + b.len()].fill(0));
                assert!(out.iter().all(|&b| b == 0));
            }
            if let Packed::Sparse { pieces, .. } = &p {
                let kept: usize = pieces.iter().map(|(_, b)| b.len()).sum();
                assert!(kept < 100, "{kept} literal bytes");
            }
        }
    }

    #[test]
    fn varint_frame_lengths() {
        assert_eq!(varint_frame_len(&[]), None);
        assert_eq!(varint_frame_len(&[0]), Some(1));
        assert_eq!(varint_frame_len(&[5, 1, 2]), Some(6));
        // 300 = 0b10_0101100: 0xac 0x02, plus the 2 bytes of the prefix.
        assert_eq!(varint_frame_len(&[0xac, 0x02]), Some(302));
        // 1,000,000 in 3 bytes.
        assert_eq!(varint_frame_len(&[0xc0, 0x84, 0x3d, 9]), Some(1_000_003));
        // Incomplete, not minimal, or longer than 5 bytes.
        assert_eq!(varint_frame_len(&[0x80]), None);
        assert_eq!(varint_frame_len(&[0x85, 0x00]), None);
        assert_eq!(varint_frame_len(&[0xff; 6]), None);
    }

    #[test]
    fn appends_stay_exact() {
        let (a, b) = (message(5000), message(300));
        let mut p = Packed::from(a.clone());
        p.append(&b);
        let mut all = a;
        all.extend_from_slice(&b);
        assert_eq!(p.to_vec(), all);
        let mut d = p.clone();
        d.drain_front(4990);
        assert_eq!(d.to_vec(), all[4990..]);
        assert_eq!(d.byte(0), all[4990]);
        assert_eq!(p.byte(25), all[25]);
        let mut q = Packed::from(vec![1, 2, 3]);
        q.append(&message(8000));
        assert_eq!(q.len(), 8003);
        assert_eq!(&q.to_vec()[..3], &[1, 2, 3]);
    }
}
