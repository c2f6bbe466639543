//! Decoding what GossipSub really sends: a wire tap on every substream.
//!
//! The virtual transport shows us every write. Each direction of each
//! substream starts with multistream-select lines (uvarint-length-prefixed,
//! ending in `\n`); once a GossipSub protocol (`/meshsub/...`) is agreed, the
//! rest is uvarint-length-prefixed protobuf `RPC` frames, which we walk just
//! far enough to count published messages (and read our payload's sequence
//! number) and control messages by type. Other protocols are skipped.

use sim::packed::Packed;

/// What one RPC frame carried.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpcSummary {
    /// Sequence numbers (first 8 payload bytes) of the published messages it carried.
    pub publish_seqs: Vec<u64>,
    /// Subscription changes.
    pub subscriptions: u32,
    /// IHAVE entries.
    pub ihave: u32,
    /// IWANT entries.
    pub iwant: u32,
    /// GRAFT entries.
    pub graft: u32,
    /// PRUNE entries.
    pub prune: u32,
    /// IDONTWANT entries.
    pub idontwant: u32,
    /// Bytes of the frame (length prefix excluded).
    pub frame_bytes: u32,
    /// Bytes of its published messages and partial-message bodies (the
    /// rest is control: subscriptions, IHAVE, ..., partial metadata).
    pub data_bytes: u32,
    /// Bytes of its partial message (`RPC.partial`, field 10), tag and length excluded.
    pub partial_bytes: u32,
    /// Of them, the body (`partialMessage`, field 3: the parts).
    pub partial_data_bytes: u32,
    /// Partial messages (`RPC.partial`, 0 or 1 per RPC).
    pub partial_messages: u32,
    /// Partial-message bodies (0 or 1 per RPC).
    pub partial_bodies: u32,
}

enum State {
    Negotiating,
    Gossipsub,
    Other,
}

struct Direction {
    state: State,
    buf: Packed,
}

/// A fast, deterministic hasher for the decoder's small integer keys (the
/// map is never iterated, so its order cannot leak into results).
#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(26) ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type KeyHash = std::hash::BuildHasherDefault<KeyHasher>;

/// Per-direction decoders: looked up, never iterated, with a fixed hasher.
#[allow(clippy::disallowed_types)]
type DirMap = std::collections::HashMap<(u64, u32), Direction, KeyHash>;

/// Per-direction decoders, keyed by (substream id, writer node).
pub struct WireDecoder {
    dirs: DirMap,
    /// Drawn only to keep the simulation thread's sequence of std `HashMap`
    /// keys as it was when this map used `RandomState`: every `RandomState`
    /// created on a thread shifts the keys of all later ones (GossipSub's
    /// maps included, and with them its iteration orders and the trace hash).
    _keys: std::collections::hash_map::RandomState,
}

impl Default for WireDecoder {
    fn default() -> Self {
        WireDecoder {
            dirs: DirMap::default(),
            _keys: std::collections::hash_map::RandomState::new(),
        }
    }
}

/// Reads an unsigned LEB128 varint; `None` if incomplete or too long.
pub fn read_uvarint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Appends `x` as an unsigned LEB128 varint.
pub fn put_uvarint(out: &mut Vec<u8>, mut x: u64) {
    loop {
        let b = (x & 0x7f) as u8;
        x >>= 7;
        if x == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Appends protobuf field `n` with a length-delimited `payload`.
pub fn put_field(out: &mut Vec<u8>, n: u64, payload: &[u8]) {
    put_uvarint(out, n << 3 | 2);
    put_uvarint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Bytes the decoder reads: a slice, or a packed buffer (whose zero runs
/// take no memory: a large frame is never held whole).
trait Src {
    fn len(&self) -> usize;
    fn at(&self, i: usize) -> u8;
    /// Copies `out.len()` bytes from `i`.
    fn copy(&self, i: usize, out: &mut [u8]);
}

impl Src for [u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn at(&self, i: usize) -> u8 {
        self[i]
    }
    fn copy(&self, i: usize, out: &mut [u8]) {
        out.copy_from_slice(&self[i..i + out.len()]);
    }
}

impl Src for Packed {
    fn len(&self) -> usize {
        Packed::len(self)
    }
    fn at(&self, i: usize) -> u8 {
        self.byte(i)
    }
    fn copy(&self, i: usize, out: &mut [u8]) {
        self.copy_out(i, out);
    }
}

/// A varint at `pos` of `b`, not past `end`: (value, bytes used).
fn uvarint_at(b: &(impl Src + ?Sized), pos: usize, end: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..10 {
        if pos + i >= end {
            return None;
        }
        let byte = b.at(pos + i);
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Walks the protobuf fields of `b[start..end]`: calls `f(field_number,
/// payload_start, payload_end)` for length-delimited fields (wire type 2)
/// and skips the others. `None` if malformed.
fn walk(
    b: &(impl Src + ?Sized),
    start: usize,
    end: usize,
    mut f: impl FnMut(u64, usize, usize),
) -> Option<()> {
    let mut p = start;
    while p < end {
        let (key, n) = uvarint_at(b, p, end)?;
        p += n;
        let (field, wt) = (key >> 3, key & 7);
        match wt {
            0 => p += uvarint_at(b, p, end)?.1,
            1 => p = p.checked_add(8).filter(|&q| q <= end)?,
            5 => p = p.checked_add(4).filter(|&q| q <= end)?,
            2 => {
                let (len, n) = uvarint_at(b, p, end)?;
                let a = p + n;
                let z = a
                    .checked_add(usize::try_from(len).ok()?)
                    .filter(|&q| q <= end)?;
                f(field, a, z);
                p = z;
            }
            _ => return None,
        }
    }
    Some(())
}

/// Summarises one GossipSub `RPC` protobuf frame.
pub fn summarize_rpc(frame: &[u8]) -> Option<RpcSummary> {
    summarize(frame, 0, frame.len())
}

/// Summarises the `RPC` frame `b[start..end]`.
fn summarize(b: &(impl Src + ?Sized), start: usize, end: usize) -> Option<RpcSummary> {
    let mut s = RpcSummary::default();
    let mut ok = true;
    walk(b, start, end, |field, a, z| match field {
        1 => s.subscriptions += 1,
        2 => {
            // Message { from = 1; data = 2; seqno = 3; topic = 4; ... }
            s.data_bytes += (z - a) as u32;
            let mut seq = None;
            ok &= walk(b, a, z, |f, pa, pz| {
                if f == 2 && pz - pa >= 8 {
                    let mut x = [0u8; 8];
                    b.copy(pa, &mut x);
                    seq = Some(u64::from_le_bytes(x));
                }
            })
            .is_some();
            s.publish_seqs.push(seq.unwrap_or(u64::MAX));
        }
        10 => {
            // PartialMessagesExtension { topicID = 1; groupID = 2;
            // partialMessage = 3; partsMetadata = 4 }
            s.partial_bytes += (z - a) as u32;
            s.partial_messages += 1;
            ok &= walk(b, a, z, |f, pa, pz| {
                if f == 3 {
                    s.partial_bodies += 1;
                    s.partial_data_bytes += (pz - pa) as u32;
                    s.data_bytes += (pz - pa) as u32;
                }
            })
            .is_some();
        }
        3 => {
            ok &= walk(b, a, z, |f, _, _| match f {
                1 => s.ihave += 1,
                2 => s.iwant += 1,
                3 => s.graft += 1,
                4 => s.prune += 1,
                5 => s.idontwant += 1,
                _ => {}
            })
            .is_some();
        }
        _ => {}
    })?;
    s.frame_bytes = (end - start) as u32;
    ok.then_some(s)
}

impl WireDecoder {
    /// Feeds bytes written by `from` on substream `stream`; calls `on_rpc`
    /// for every complete GossipSub frame.
    pub fn feed(
        &mut self,
        stream: u64,
        from: u32,
        bytes: &[u8],
        mut on_rpc: impl FnMut(RpcSummary),
    ) {
        let d = self.dirs.entry((stream, from)).or_insert(Direction {
            state: State::Negotiating,
            buf: Packed::default(),
        });
        if matches!(d.state, State::Other) {
            return;
        }
        // Common case: nothing buffered, so frames are decoded straight from
        // `bytes` and only an incomplete tail is kept (packed: a large
        // frame's zero padding takes no memory while it arrives).
        if d.buf.is_empty() {
            let off = Self::frames(&mut d.state, bytes, &mut on_rpc);
            if !matches!(d.state, State::Other) && off < bytes.len() {
                d.buf = Packed::from(bytes[off..].to_vec());
            }
            return;
        }
        d.buf.append(bytes);
        let off = Self::frames(&mut d.state, &d.buf, &mut on_rpc);
        d.buf.drain_front(off);
        if matches!(d.state, State::Other) {
            d.buf = Packed::default();
        }
    }

    /// Decodes the complete frames at the start of `buf`; returns how many bytes they took.
    fn frames(
        state: &mut State,
        buf: &(impl Src + ?Sized),
        on_rpc: &mut impl FnMut(RpcSummary),
    ) -> usize {
        let d = state;
        let (mut off, len_all) = (0, buf.len());
        while let Some((len, n)) = uvarint_at(buf, off, len_all) {
            let Ok(len) = usize::try_from(len) else {
                *d = State::Other;
                break;
            };
            let Some((a, z)) = off
                .checked_add(n)
                .and_then(|a| Some((a, a.checked_add(len)?)))
                .filter(|&(_, z)| z <= len_all)
            else {
                break;
            };
            match d {
                State::Negotiating => {
                    let mut head = vec![0u8; (z - a).min(16)];
                    buf.copy(a, &mut head);
                    if head.starts_with(b"/meshsub/") || head.starts_with(b"/floodsub/") {
                        *d = State::Gossipsub;
                    } else if head.starts_with(b"/multistream/") || (z - a == 3 && head == b"na\n")
                    {
                        // still negotiating
                    } else {
                        *d = State::Other;
                    }
                }
                State::Gossipsub => {
                    if let Some(s) = summarize(buf, a, z) {
                        on_rpc(s);
                    }
                }
                State::Other => {}
            }
            off = z;
            if matches!(d, State::Other) {
                break;
            }
        }
        off
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, payload: &[u8], out: &mut Vec<u8>) {
        put_field(out, n, payload);
    }

    fn framed(msg: &[u8], out: &mut Vec<u8>) {
        put_uvarint(out, msg.len() as u64);
        out.extend_from_slice(msg);
    }

    #[test]
    fn decodes_negotiation_then_frames_split_anywhere() {
        let mut data = 42u64.to_le_bytes().to_vec();
        data.extend_from_slice(b"payload");
        let mut message = Vec::new();
        field(2, &data, &mut message);
        let mut control = Vec::new();
        field(3, b"", &mut control);
        field(3, b"", &mut control);
        field(4, b"", &mut control);
        let mut rpc = Vec::new();
        field(2, &message, &mut rpc);
        field(3, &control, &mut rpc);
        let mut wire = Vec::new();
        framed(b"/multistream/1.0.0\n", &mut wire);
        framed(b"/meshsub/1.2.0\n", &mut wire);
        framed(&rpc, &mut wire);
        for split in 0..wire.len() {
            let mut dec = WireDecoder::default();
            let mut got = Vec::new();
            dec.feed(1, 0, &wire[..split], |s| got.push(s));
            dec.feed(1, 0, &wire[split..], |s| got.push(s));
            assert_eq!(got.len(), 1, "split at {split}");
            assert_eq!(got[0].publish_seqs, vec![42]);
            assert_eq!((got[0].graft, got[0].prune), (2, 1));
        }
    }

    #[test]
    fn a_large_frame_arriving_in_pieces_is_never_held_whole() {
        // A 1 MB message (a sequence number, then zeros) in 16 KiB pieces.
        let mut data = 7u64.to_le_bytes().to_vec();
        data.resize(1_000_000, 0);
        let mut message = Vec::new();
        field(2, &data, &mut message);
        let mut rpc = Vec::new();
        field(2, &message, &mut rpc);
        let mut wire = Vec::new();
        framed(b"/meshsub/1.2.0\n", &mut wire);
        framed(&rpc, &mut wire);
        let mut dec = WireDecoder::default();
        let mut got = Vec::new();
        let mut held = 0usize;
        for piece in wire.chunks(16 << 10) {
            dec.feed(3, 1, piece, |s| got.push(s));
            if let Some(d) = dec.dirs.get(&(3, 1)) {
                if let Packed::Sparse { pieces, .. } = &d.buf {
                    held = held.max(pieces.iter().map(|(_, b)| b.len()).sum());
                }
            }
        }
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].publish_seqs, vec![7]);
        assert_eq!(got[0].data_bytes as usize, message.len());
        assert!(held < 1024, "{held} bytes held while the frame arrived");
    }

    #[test]
    fn partial_messages_are_split_into_body_and_control() {
        // A 3-part body of 4-byte parts of group 9, and its 1-byte metadata.
        let body: Vec<u8> = [0b111]
            .into_iter()
            .chain([0; 12])
            .chain(9u64.to_be_bytes())
            .collect();
        let mut ext = Vec::new();
        field(1, b"t", &mut ext);
        field(2, &9u64.to_be_bytes(), &mut ext);
        field(3, &body, &mut ext);
        field(4, &[0b111], &mut ext);
        let mut rpc = Vec::new();
        field(10, &ext, &mut rpc);
        let mut wire = Vec::new();
        framed(b"/meshsub/1.3.0\n", &mut wire);
        framed(&rpc, &mut wire);
        let mut dec = WireDecoder::default();
        let mut got = Vec::new();
        dec.feed(1, 0, &wire, |s| got.push(s));
        assert_eq!(got.len(), 1);
        // Body 21 bytes; the extension: topic 3, group 10, body 2 + 21, metadata 3.
        assert_eq!(got[0].partial_data_bytes, 21);
        assert_eq!(got[0].partial_bytes, 3 + 10 + 23 + 3);
        assert_eq!(got[0].data_bytes, 21);
        assert_eq!(got[0].partial_bodies, 1);
        assert_eq!(got[0].partial_messages, 1);
        assert!(got[0].publish_seqs.is_empty());
    }

    #[test]
    fn other_protocols_are_ignored() {
        let mut wire = Vec::new();
        framed(b"/multistream/1.0.0\n", &mut wire);
        framed(b"/ipfs/id/1.0.0\n", &mut wire);
        framed(b"\x12\x00", &mut wire);
        let mut dec = WireDecoder::default();
        let mut n = 0;
        dec.feed(1, 0, &wire, |_| n += 1);
        assert_eq!(n, 0);
    }
}
