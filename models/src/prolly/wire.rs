//! Sync protocol messages and their compact binary encoding.
//!
//! One message is one buffer (the transport frames it). Layout, with
//! `varint` = unsigned LEB128 (canonical, at most 10 bytes) and
//! `optkey` = `varint(0)` for the anchor or `varint(len + 1) ‖ key bytes`:
//!
//! | message | bytes |
//! |---|---|
//! | `GetRoot` | `0x00` |
//! | `GetNode{level,key}` | `0x01 ‖ level:u8 ‖ optkey` |
//! | `GetChildren{level,key}` | `0x02 ‖ level:u8 ‖ optkey` |
//! | `GetValues{keys}` | `0x03 ‖ varint(n) ‖ n × (varint(len) ‖ key)` |
//! | `Root(node)` | `0x00 ‖ node` |
//! | `Node(None)` / `Node(Some(node))` | `0x01 ‖ 0x00` / `0x01 ‖ 0x01 ‖ node` |
//! | `Children(nodes)` | `0x02 ‖ varint(n) ‖ n × node` |
//! | `Values(entries)` | `0x03 ‖ varint(n) ‖ n × (varint(len) ‖ key ‖ varint(len) ‖ value)` |
//! | `Abort{cooldown_ms}` | `0x04 ‖ varint(cooldown_ms)` |
//!
//! where `node = level:u8 ‖ optkey ‖ hash[16]`.
//!
//! The decoders never panic: they reject messages longer than
//! [`MAX_MESSAGE_LEN`], keys longer than [`MAX_KEY_LEN`], values longer than
//! [`MAX_VALUE_LEN`], more than [`MAX_KEYS_PER_REQUEST`] keys or entries, more
//! than [`MAX_NODES_PER_RESPONSE`] nodes, unknown tags, non-canonical
//! varints, truncated input and trailing bytes. Hence every accepted buffer
//! re-encodes to itself.

use std::fmt;

use super::{Hash, Node, K};

/// Largest encoded message, in bytes.
pub const MAX_MESSAGE_LEN: usize = 8 << 20;
/// Longest key, in bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// Longest value, in bytes.
pub const MAX_VALUE_LEN: usize = 1 << 20;
/// Most keys in a `GetValues` request, and most entries in a `Values` reply.
pub const MAX_KEYS_PER_REQUEST: usize = 1024;
/// Most nodes in a `Children` reply.
pub const MAX_NODES_PER_RESPONSE: usize = 4096;

/// A request from the sync client to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Ask for the root node.
    GetRoot,
    /// Ask for the node at `(level, key)`.
    GetNode {
        /// Level of the node.
        level: u8,
        /// Key of the node (`None` = anchor).
        key: Option<Vec<u8>>,
    },
    /// Ask for the children of the node at `(level, key)`.
    GetChildren {
        /// Level of the parent node (at least 1).
        level: u8,
        /// Key of the parent node (`None` = anchor).
        key: Option<Vec<u8>>,
    },
    /// Ask for the values of these keys.
    GetValues {
        /// Keys wanted, at most [`MAX_KEYS_PER_REQUEST`].
        keys: Vec<Vec<u8>>,
    },
}

/// A response from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// Answer to `GetRoot`.
    Root(Node),
    /// Answer to `GetNode`: the node, or `None` if it does not exist.
    Node(Option<Node>),
    /// Answer to `GetChildren`: empty if the node does not exist (a node
    /// always has at least one child).
    Children(Vec<Node>),
    /// Answer to `GetValues`, in request order; keys the server lacks are
    /// skipped, and the list may stop early to respect [`MAX_MESSAGE_LEN`].
    Values(Vec<(Vec<u8>, Vec<u8>)>),
    /// The server gives up on this sync; retry after `cooldown_ms`.
    Abort {
        /// Suggested delay before the next attempt, in milliseconds.
        cooldown_ms: u64,
    },
}

/// Why a buffer was rejected by a decoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer is longer than [`MAX_MESSAGE_LEN`].
    TooLong(usize),
    /// The buffer ends in the middle of a field.
    Truncated,
    /// Bytes are left after the message.
    TrailingBytes,
    /// Unknown message tag.
    UnknownTag(u8),
    /// Invalid option flag.
    BadFlag(u8),
    /// Overlong, non-canonical or overflowing varint.
    BadVarint,
    /// A key is longer than [`MAX_KEY_LEN`].
    KeyTooLong(u64),
    /// A value is longer than [`MAX_VALUE_LEN`].
    ValueTooLong(u64),
    /// A list is longer than its limit.
    TooManyItems(u64),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLong(n) => write!(f, "message of {n} bytes exceeds {MAX_MESSAGE_LEN}"),
            DecodeError::Truncated => write!(f, "truncated message"),
            DecodeError::TrailingBytes => write!(f, "trailing bytes after message"),
            DecodeError::UnknownTag(t) => write!(f, "unknown message tag {t:#04x}"),
            DecodeError::BadFlag(t) => write!(f, "invalid option flag {t:#04x}"),
            DecodeError::BadVarint => write!(f, "invalid varint"),
            DecodeError::KeyTooLong(n) => write!(f, "key of {n} bytes exceeds {MAX_KEY_LEN}"),
            DecodeError::ValueTooLong(n) => {
                write!(f, "value of {n} bytes exceeds {MAX_VALUE_LEN}")
            }
            DecodeError::TooManyItems(n) => write!(f, "list of {n} items exceeds its limit"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl Request {
    /// Encodes the request.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        match self {
            Request::GetRoot => out.push(0),
            Request::GetNode { level, key } | Request::GetChildren { level, key } => {
                out.push(if matches!(self, Request::GetNode { .. }) {
                    1
                } else {
                    2
                });
                out.push(*level);
                put_optkey(&mut out, key);
            }
            Request::GetValues { keys } => {
                out.push(3);
                put_varint(&mut out, keys.len() as u64);
                for k in keys {
                    put_bytes(&mut out, k);
                }
            }
        }
        out
    }

    /// Size of [`Request::encode`]'s output, computed without encoding.
    pub fn encoded_len(&self) -> usize {
        match self {
            Request::GetRoot => 1,
            Request::GetNode { key, .. } | Request::GetChildren { key, .. } => 2 + optkey_len(key),
            Request::GetValues { keys } => {
                1 + varint_len(keys.len() as u64) + keys.iter().map(|k| bytes_len(k)).sum::<usize>()
            }
        }
    }

    /// Decodes a request, rejecting malformed or oversized input.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf)?;
        let req = match r.u8()? {
            0 => Request::GetRoot,
            1 => Request::GetNode {
                level: r.u8()?,
                key: r.optkey()?,
            },
            2 => Request::GetChildren {
                level: r.u8()?,
                key: r.optkey()?,
            },
            3 => {
                let n = r.count(MAX_KEYS_PER_REQUEST)?;
                let mut keys = Vec::new();
                for _ in 0..n {
                    keys.push(r.key()?);
                }
                Request::GetValues { keys }
            }
            t => return Err(DecodeError::UnknownTag(t)),
        };
        r.finish()?;
        Ok(req)
    }
}

impl Response {
    /// Encodes the response.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        match self {
            Response::Root(n) => {
                out.push(0);
                put_node(&mut out, n);
            }
            Response::Node(n) => {
                out.push(1);
                match n {
                    None => out.push(0),
                    Some(n) => {
                        out.push(1);
                        put_node(&mut out, n);
                    }
                }
            }
            Response::Children(nodes) => {
                out.push(2);
                put_varint(&mut out, nodes.len() as u64);
                for n in nodes {
                    put_node(&mut out, n);
                }
            }
            Response::Values(entries) => {
                out.push(3);
                put_varint(&mut out, entries.len() as u64);
                for (k, v) in entries {
                    put_bytes(&mut out, k);
                    put_bytes(&mut out, v);
                }
            }
            Response::Abort { cooldown_ms } => {
                out.push(4);
                put_varint(&mut out, *cooldown_ms);
            }
        }
        out
    }

    /// Size of [`Response::encode`]'s output, computed without encoding.
    pub fn encoded_len(&self) -> usize {
        match self {
            Response::Root(n) => 1 + node_len(n),
            Response::Node(None) => 2,
            Response::Node(Some(n)) => 2 + node_len(n),
            Response::Children(nodes) => {
                1 + varint_len(nodes.len() as u64) + nodes.iter().map(node_len).sum::<usize>()
            }
            Response::Values(entries) => {
                1 + varint_len(entries.len() as u64)
                    + entries.iter().map(|(k, v)| entry_len(k, v)).sum::<usize>()
            }
            Response::Abort { cooldown_ms } => 1 + varint_len(*cooldown_ms),
        }
    }

    /// Decodes a response, rejecting malformed or oversized input.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf)?;
        let resp = match r.u8()? {
            0 => Response::Root(r.node()?),
            1 => match r.u8()? {
                0 => Response::Node(None),
                1 => Response::Node(Some(r.node()?)),
                f => return Err(DecodeError::BadFlag(f)),
            },
            2 => {
                let n = r.count(MAX_NODES_PER_RESPONSE)?;
                let mut nodes = Vec::new();
                for _ in 0..n {
                    nodes.push(r.node()?);
                }
                Response::Children(nodes)
            }
            3 => {
                let n = r.count(MAX_KEYS_PER_REQUEST)?;
                let mut entries = Vec::new();
                for _ in 0..n {
                    let k = r.key()?;
                    let v = r.value()?;
                    entries.push((k, v));
                }
                Response::Values(entries)
            }
            4 => Response::Abort {
                cooldown_ms: r.varint()?,
            },
            t => return Err(DecodeError::UnknownTag(t)),
        };
        r.finish()?;
        Ok(resp)
    }
}

/// Encoded size of one `Values` entry.
pub(crate) fn entry_len(k: &[u8], v: &[u8]) -> usize {
    bytes_len(k) + bytes_len(v)
}

fn varint_len(mut x: u64) -> usize {
    let mut n = 1;
    while x >= 0x80 {
        x >>= 7;
        n += 1;
    }
    n
}

fn bytes_len(b: &[u8]) -> usize {
    varint_len(b.len() as u64) + b.len()
}

fn optkey_len(k: &Option<Vec<u8>>) -> usize {
    match k {
        None => 1,
        Some(k) => varint_len(k.len() as u64 + 1) + k.len(),
    }
}

fn node_len(n: &Node) -> usize {
    1 + optkey_len(&n.key) + K
}

fn put_varint(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_optkey(out: &mut Vec<u8>, k: &Option<Vec<u8>>) {
    match k {
        None => out.push(0),
        Some(k) => {
            put_varint(out, k.len() as u64 + 1);
            out.extend_from_slice(k);
        }
    }
}

fn put_node(out: &mut Vec<u8>, n: &Node) {
    out.push(n.level);
    put_optkey(out, &n.key);
    out.extend_from_slice(&n.hash);
}

/// Bounds-checked cursor over an input buffer.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        if buf.len() > MAX_MESSAGE_LEN {
            return Err(DecodeError::TooLong(buf.len()));
        }
        Ok(Reader { buf })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut x: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if i == 9 && bits > 1 {
                return Err(DecodeError::BadVarint);
            }
            x |= bits << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return Err(DecodeError::BadVarint);
                }
                return Ok(x);
            }
        }
        Err(DecodeError::BadVarint)
    }

    fn count(&mut self, max: usize) -> Result<usize, DecodeError> {
        let n = self.varint()?;
        if n > max as u64 {
            return Err(DecodeError::TooManyItems(n));
        }
        Ok(n as usize)
    }

    fn key(&mut self) -> Result<Vec<u8>, DecodeError> {
        let n = self.varint()?;
        if n > MAX_KEY_LEN as u64 {
            return Err(DecodeError::KeyTooLong(n));
        }
        Ok(self.take(n as usize)?.to_vec())
    }

    fn value(&mut self) -> Result<Vec<u8>, DecodeError> {
        let n = self.varint()?;
        if n > MAX_VALUE_LEN as u64 {
            return Err(DecodeError::ValueTooLong(n));
        }
        Ok(self.take(n as usize)?.to_vec())
    }

    fn optkey(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        let n = self.varint()?;
        if n == 0 {
            return Ok(None);
        }
        if n - 1 > MAX_KEY_LEN as u64 {
            return Err(DecodeError::KeyTooLong(n - 1));
        }
        Ok(Some(self.take((n - 1) as usize)?.to_vec()))
    }

    fn node(&mut self) -> Result<Node, DecodeError> {
        let level = self.u8()?;
        let key = self.optkey()?;
        let mut hash: Hash = [0; K];
        hash.copy_from_slice(self.take(K)?);
        Ok(Node { level, key, hash })
    }

    fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(level: u8, key: Option<&[u8]>) -> Node {
        Node {
            level,
            key: key.map(<[u8]>::to_vec),
            hash: [7; K],
        }
    }

    #[test]
    fn roundtrip_examples() {
        let reqs = [
            Request::GetRoot,
            Request::GetNode {
                level: 3,
                key: None,
            },
            Request::GetChildren {
                level: 1,
                key: Some(b"abc".to_vec()),
            },
            Request::GetValues {
                keys: vec![vec![], vec![1; 200]],
            },
        ];
        for r in reqs {
            let b = r.encode();
            assert_eq!(b.len(), r.encoded_len());
            assert_eq!(Request::decode(&b), Ok(r));
        }
        let resps = [
            Response::Root(node(2, None)),
            Response::Node(None),
            Response::Node(Some(node(1, Some(b"k")))),
            Response::Children(vec![node(0, None), node(0, Some(&[0; 130]))]),
            Response::Values(vec![(b"k".to_vec(), vec![9; 300])]),
            Response::Abort {
                cooldown_ms: u64::MAX,
            },
        ];
        for r in resps {
            let b = r.encode();
            assert_eq!(b.len(), r.encoded_len());
            assert_eq!(Response::decode(&b), Ok(r));
        }
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Request::decode(&[]), Err(DecodeError::Truncated));
        assert_eq!(Request::decode(&[9]), Err(DecodeError::UnknownTag(9)));
        assert_eq!(Request::decode(&[0, 0]), Err(DecodeError::TrailingBytes));
        // Non-canonical varint (0 encoded on two bytes).
        assert_eq!(
            Request::decode(&[1, 0, 0x80, 0]),
            Err(DecodeError::BadVarint)
        );
        // Overflowing varint.
        let mut b = vec![4];
        b.extend([0xff; 9]);
        b.push(0x02);
        assert_eq!(Response::decode(&b), Err(DecodeError::BadVarint));
        assert_eq!(Response::decode(&[1, 2]), Err(DecodeError::BadFlag(2)));
        // Too many keys, too long key.
        let mut b = vec![3];
        put_varint(&mut b, MAX_KEYS_PER_REQUEST as u64 + 1);
        assert!(matches!(
            Request::decode(&b),
            Err(DecodeError::TooManyItems(_))
        ));
        let mut b = vec![3, 1];
        put_varint(&mut b, MAX_KEY_LEN as u64 + 1);
        assert!(matches!(
            Request::decode(&b),
            Err(DecodeError::KeyTooLong(_))
        ));
        let big = vec![0; MAX_MESSAGE_LEN + 1];
        assert_eq!(Response::decode(&big), Err(DecodeError::TooLong(big.len())));
        assert_eq!(Request::decode(&big), Err(DecodeError::TooLong(big.len())));
    }
}
