//! Framing on the history substreams, and the heads message.
//!
//! Every message on a substream is one frame: `uvarint(len) ‖ len bytes`
//! (unsigned LEB128, canonical, as libp2p's length-prefixed codecs). A frame
//! longer than the reader's limit is rejected from its prefix alone, before
//! any of its body is read.
//!
//! The heads message, sent once in each direction when a connection opens:
//! `root[16] ‖ uvarint(n) ‖ n × (uvarint(len) ‖ key)`, at most [`MAX_HEADS`]
//! keys of at most [`MAX_KEY_LEN`] bytes.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use std::io;

use crate::prolly::wire::MAX_KEY_LEN;
use crate::prolly::{Hash, K};

/// Most keys in a heads message.
pub const MAX_HEADS: usize = 64;
/// Largest heads frame.
pub const MAX_HEADS_FRAME: usize = K + 10 + MAX_HEADS * (2 + MAX_KEY_LEN);

pub use crate::wire::put_uvarint;

/// Length of `x` as a varint.
pub fn uvarint_len(x: u64) -> usize {
    (64 - (x | 1).leading_zeros()).div_ceil(7) as usize
}

/// Bytes a frame of `len` bytes occupies on the wire (prefix included).
pub fn frame_len(len: usize) -> u64 {
    (uvarint_len(len as u64) + len) as u64
}

/// Writes one frame and flushes.
pub async fn write_frame<S: AsyncWrite + Unpin>(io: &mut S, body: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(body.len() + 10);
    put_uvarint(&mut buf, body.len() as u64);
    buf.extend_from_slice(body);
    io.write_all(&buf).await?;
    io.flush().await
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Reads one frame of at most `max` bytes. `Ok(None)` on a clean end of
/// stream before the first byte; `InvalidData` for an overlong or
/// non-canonical prefix or a frame above `max`; `UnexpectedEof` mid-frame.
pub async fn read_frame<S: AsyncRead + Unpin>(
    io: &mut S,
    max: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut len = 0u64;
    let mut i = 0;
    loop {
        let mut b = [0u8; 1];
        let n = io.read(&mut b).await?;
        if n == 0 {
            return if i == 0 {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        let byte = b[0];
        if i == 9 && byte > 1 {
            return Err(invalid("frame length overflows u64".into()));
        }
        len |= u64::from(byte & 0x7f) << (7 * i);
        i += 1;
        if byte & 0x80 == 0 {
            if byte == 0 && i > 1 {
                return Err(invalid("non-canonical frame length".into()));
            }
            break;
        }
    }
    if len > max as u64 {
        return Err(invalid(format!("frame of {len} bytes exceeds {max}")));
    }
    let mut body = vec![0u8; len as usize];
    io.read_exact(&mut body).await?;
    Ok(Some(body))
}

/// What a peer announces when a connection opens: its root hash and heads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heads {
    /// Root hash of the sender's tree.
    pub root: Hash,
    /// The sender's newest heads (at most [`MAX_HEADS`]).
    pub heads: Vec<Vec<u8>>,
}

impl Heads {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.root.to_vec();
        put_uvarint(&mut out, self.heads.len() as u64);
        for h in &self.heads {
            put_uvarint(&mut out, h.len() as u64);
            out.extend_from_slice(h);
        }
        out
    }

    /// Decodes the message; `None` if malformed or over the limits.
    pub fn decode(buf: &[u8]) -> Option<Heads> {
        let root: Hash = buf.get(..K)?.try_into().ok()?;
        let mut rest = &buf[K..];
        let (n, used) = crate::wire::read_uvarint(rest)?;
        rest = &rest[used..];
        if n > MAX_HEADS as u64 {
            return None;
        }
        let mut heads = Vec::new();
        for _ in 0..n {
            let (len, used) = crate::wire::read_uvarint(rest)?;
            if len > MAX_KEY_LEN as u64 {
                return None;
            }
            let end = used.checked_add(len as usize)?;
            heads.push(rest.get(used..end)?.to_vec());
            rest = &rest[end..];
        }
        rest.is_empty().then_some(Heads { root, heads })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn frames_roundtrip_and_limits() {
        for len in [0usize, 1, 127, 128, 300, 20_000] {
            let body = vec![7u8; len];
            let mut wire = Vec::new();
            block_on(write_frame(&mut wire, &body)).unwrap();
            assert_eq!(wire.len() as u64, frame_len(len));
            let mut r = &wire[..];
            assert_eq!(block_on(read_frame(&mut r, 1 << 20)).unwrap(), Some(body));
            assert_eq!(block_on(read_frame(&mut r, 1 << 20)).unwrap(), None);
            if len > 0 {
                let mut r = &wire[..];
                let e = block_on(read_frame(&mut r, len - 1)).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidData);
                let mut r = &wire[..wire.len() - 1];
                let e = block_on(read_frame(&mut r, len)).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
            }
        }
        for bad in [&[0x80u8, 0x00][..], &[0xff; 11][..]] {
            let mut r = bad;
            let e = block_on(read_frame(&mut r, usize::MAX)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{bad:?}");
        }
        for x in [0u64, 1, 127, 128, 16383, 16384, u64::MAX] {
            let mut v = Vec::new();
            put_uvarint(&mut v, x);
            assert_eq!(v.len(), uvarint_len(x));
        }
    }

    #[test]
    fn heads_roundtrip_and_reject() {
        let h = Heads {
            root: [3; K],
            heads: vec![vec![1; 24], vec![2; 24]],
        };
        let b = h.encode();
        assert_eq!(Heads::decode(&b), Some(h));
        for cut in 0..b.len() {
            assert_eq!(Heads::decode(&b[..cut]), None);
        }
        let mut long = b.clone();
        long.push(0);
        assert_eq!(Heads::decode(&long), None);
        let mut many = vec![0u8; K];
        put_uvarint(&mut many, MAX_HEADS as u64 + 1);
        assert_eq!(Heads::decode(&many), None);
    }
}
