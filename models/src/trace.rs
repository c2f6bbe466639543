//! The event trace: record kinds and their fixed-size format (what the
//! trace hash is computed over and `--trace` writes), the codes of scenario
//! actions, and the merge of a partitioned run's record files.
//!
//! Where a trace is written is the caller's choice ([`TraceSink`]; the
//! command line writes files). A partitioned run's trace: every partition
//! writes its trace records to a record stream of its own as it goes (fixed-size records, in
//! the order made, which is time order); at the end they are merged into
//! one JSON Lines file, in time order and at one instant partition by
//! partition. Nothing is held in memory but one record per partition.
//!
//! Every partition draws the same workload and runs the same scenario, so
//! publishes and scenario actions are in every record file alike: the
//! merged file takes them from the first partition only. One action differs
//! between partitions: the end of a network partition ("heal") counts the
//! connections its split had cut, and each partition counts those whose
//! first end is its own; the merged record carries their sum, as a one-thread
//! run counts them.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{BufReader, Read, Write};
use std::sync::{Arc, Mutex};

/// Record kinds in the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Rec {
    /// A message published: (publisher, message seq).
    Publish = 1,
    /// A first delivery: (peer, message seq).
    Delivery = 2,
    /// Connection established: (peer, remote).
    ConnOpen = 3,
    /// Connection closed: (peer, remote).
    ConnClose = 4,
    /// A remote subscribed: (peer, remote).
    Subscribed = 5,
    /// Final mesh entry: (peer, mesh member).
    Mesh = 6,
    /// A scenario action: (kind, argument).
    Action = 7,
    /// A finished history sync: (client << 32 | server, entries << 32 | round trips << 8 | outcome).
    Sync = 8,
}

impl Rec {
    /// The kind stored as `kind as u8`.
    pub fn from_u8(k: u8) -> Option<Rec> {
        Some(match k {
            1 => Rec::Publish,
            2 => Rec::Delivery,
            3 => Rec::ConnOpen,
            4 => Rec::ConnClose,
            5 => Rec::Subscribed,
            6 => Rec::Mesh,
            7 => Rec::Action,
            8 => Rec::Sync,
            _ => return None,
        })
    }

    /// The record's name and the names of its two fields, as in `--trace` JSON Lines.
    pub fn schema(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Rec::Publish => ("publish", "peer", "msg"),
            Rec::Delivery => ("delivery", "peer", "msg"),
            Rec::ConnOpen => ("conn_open", "peer", "remote"),
            Rec::ConnClose => ("conn_close", "peer", "remote"),
            Rec::Subscribed => ("subscribed", "peer", "remote"),
            Rec::Mesh => ("mesh", "peer_topic", "member"),
            Rec::Action => ("action", "code", "arg"),
            Rec::Sync => ("sync", "peers", "outcome"),
        }
    }
}

/// One trace record (as in a partitioned run's record files, merged into
/// one `--trace` file at the end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRec {
    /// Virtual time, ns.
    pub t_ns: u64,
    /// What happened.
    pub kind: Rec,
    /// First field.
    pub a: u64,
    /// Second field.
    pub b: u64,
}

impl TraceRec {
    /// Bytes of one record in a record file: kind, then time, `a` and `b`
    /// (little-endian), as hashed into the trace hash.
    pub const BYTES: usize = 25;

    /// The record from its [`TraceRec::BYTES`] bytes (`None`: unknown kind).
    pub fn from_bytes(r: &[u8; TraceRec::BYTES]) -> Option<TraceRec> {
        let u = |i: usize| u64::from_le_bytes(r[i..i + 8].try_into().expect("8 bytes"));
        Some(TraceRec {
            kind: Rec::from_u8(r[0])?,
            t_ns: u(1),
            a: u(9),
            b: u(17),
        })
    }

    /// The record as one `--trace` JSON Lines line (with its newline).
    pub fn json_line(&self) -> String {
        let (t, a, b) = (self.t_ns, self.a, self.b);
        let (name, fa, fb) = self.kind.schema();
        match self.kind {
            // Mesh entries pack (peer, topic) into one field.
            Rec::Mesh => format!(
                "{{\"t_ns\":{t},\"kind\":\"{name}\",\"peer\":{},\"topic\":{},\"{fb}\":{b}}}\n",
                a >> 32,
                a & 0xffff_ffff
            ),
            _ => format!("{{\"t_ns\":{t},\"kind\":\"{name}\",\"{fa}\":{a},\"{fb}\":{b}}}\n"),
        }
    }

    /// Records every partition makes alike (publishes and scenario actions:
    /// every partition draws the workload and runs the scenario): a merged
    /// trace keeps them from the first partition only.
    pub fn in_every_partition(&self) -> bool {
        matches!(self.kind, Rec::Publish | Rec::Action)
    }
}

/// Codes of scenario actions in the trace (`Rec::Action`, first field; the
/// second is the action's argument).
pub mod action {
    /// Every connection between two peers is lost (argument: `a << 32 | b`).
    pub const CUT_LINK: u64 = 1;
    /// A peer goes offline (argument: the peer).
    pub const DOWN: u64 = 2;
    /// A peer comes back (argument: the peer).
    pub const UP: u64 = 3;
    /// A network partition starts (argument: the size of the first group).
    pub const PARTITION: u64 = 4;
    /// The partition heals (argument: the connections it had cut).
    pub const HEAL: u64 = 5;
    /// A link degradation ends (argument: the number of peers).
    pub const CONDITION_CLEARED: u64 = 10;
    /// A link degradation starts (argument: the number of peers).
    pub const CONDITION_SET: u64 = 11;
    /// Addresses vanish (argument: the number of peers).
    pub const VANISHED: u64 = 12;
    /// Addresses come back (argument: the number of peers).
    pub const BACK: u64 = 13;
}

/// Where a run's event trace goes (`meshsim run --trace`). The run asks
/// for its writers before it starts (so that a trace that cannot be written
/// fails the run at once) and commits the trace when it ended well.
///
/// A one-thread run writes JSON Lines to [`TraceSink::lines`]. Each
/// partition of a partitioned run writes its records ([`TraceRec::BYTES`]
/// each) to [`TraceSink::records`]; at the end the run reads them back
/// ([`TraceSink::read_records`]) and writes their merge ([`merge`]) to
/// [`TraceSink::lines`]. Then [`TraceSink::commit`].
pub trait TraceSink: Send + Sync + std::fmt::Debug {
    /// The JSON Lines trace.
    fn lines(&self) -> std::io::Result<Box<dyn Write + Send>>;
    /// Partition `part`'s records.
    fn records(&self, part: u16) -> std::io::Result<Box<dyn Write + Send>>;
    /// Partition `part`'s records, as written (read twice by [`merge`]).
    fn read_records(&self, part: u16) -> std::io::Result<Box<dyn Read + Send>>;
    /// Every writer is flushed and dropped: the trace is final.
    fn commit(&self) -> std::io::Result<()>;
}

/// Merges the record streams of a partitioned run's `parts` partitions
/// (`open(k)` reads partition `k`'s, and is called twice per partition)
/// into one JSON Lines trace: in time order, at one instant partition by
/// partition; records every partition makes alike taken from the first
/// only, and each heal carrying the sum of the partitions' counts.
pub fn merge<R: Read>(
    parts: u16,
    open: impl Fn(u16) -> std::io::Result<R>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    // Heal records: the partitions' counts, summed by instant.
    let mut heals: BTreeMap<u64, u64> = BTreeMap::new();
    for k in 0..parts {
        let mut r = Records(BufReader::new(open(k)?));
        while let Some(rec) = r.next()? {
            if is_heal(&rec) {
                *heals.entry(rec.t_ns).or_default() += rec.b;
            }
        }
    }
    let mut readers = (0..parts)
        .map(|k| Ok(Records(BufReader::new(open(k)?))))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut heads = Vec::with_capacity(readers.len());
    let mut order = BinaryHeap::new();
    for (k, r) in readers.iter_mut().enumerate() {
        let head = r.next()?;
        if let Some(rec) = &head {
            order.push(Reverse((rec.t_ns, k)));
        }
        heads.push(head);
    }
    while let Some(Reverse((_, k))) = order.pop() {
        let Some(mut rec) = heads[k].take() else {
            continue;
        };
        heads[k] = readers[k].next()?;
        if let Some(next) = &heads[k] {
            order.push(Reverse((next.t_ns, k)));
        }
        if k > 0 && rec.in_every_partition() {
            continue;
        }
        if is_heal(&rec) {
            rec.b = heals.get(&rec.t_ns).copied().unwrap_or(rec.b);
        }
        out.write_all(rec.json_line().as_bytes())?;
    }
    Ok(())
}

/// The "heal" scenario action.
fn is_heal(r: &TraceRec) -> bool {
    r.kind == Rec::Action && r.a == action::HEAL
}

/// Reads a record stream.
struct Records<R>(BufReader<R>);

impl<R: Read> Records<R> {
    fn next(&mut self) -> std::io::Result<Option<TraceRec>> {
        let mut b = [0u8; TraceRec::BYTES];
        match self.0.read_exact(&mut b) {
            Ok(()) => TraceRec::from_bytes(&b).map(Some).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "unknown record kind")
            }),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A trace kept in memory (for library callers and tests); [`MemoryTrace::text`]
/// is the JSON Lines trace once the run has committed it.
#[derive(Debug, Default)]
pub struct MemoryTrace {
    lines: Arc<Mutex<Vec<u8>>>,
    records: Mutex<Vec<Arc<Mutex<Vec<u8>>>>>,
    committed: std::sync::atomic::AtomicBool,
}

/// A writer into a shared buffer.
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| poisoned())?.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("a trace buffer's lock was poisoned")
}

impl MemoryTrace {
    /// The committed JSON Lines trace (`None` before the run committed it).
    pub fn text(&self) -> Option<String> {
        if !self.committed.load(std::sync::atomic::Ordering::SeqCst) {
            return None;
        }
        let b = self.lines.lock().ok()?;
        Some(String::from_utf8_lossy(&b).into_owned())
    }
}

impl TraceSink for MemoryTrace {
    fn lines(&self) -> std::io::Result<Box<dyn Write + Send>> {
        Ok(Box::new(Shared(self.lines.clone())))
    }
    fn records(&self, part: u16) -> std::io::Result<Box<dyn Write + Send>> {
        let mut r = self.records.lock().map_err(|_| poisoned())?;
        while r.len() <= usize::from(part) {
            r.push(Arc::default());
        }
        Ok(Box::new(Shared(r[usize::from(part)].clone())))
    }
    fn read_records(&self, part: u16) -> std::io::Result<Box<dyn Read + Send>> {
        let r = self.records.lock().map_err(|_| poisoned())?;
        let b = r
            .get(usize::from(part))
            .map(|b| b.lock().map(|b| b.clone()).map_err(|_| poisoned()))
            .transpose()?
            .unwrap_or_default();
        Ok(Box::new(std::io::Cursor::new(b)))
    }
    fn commit(&self) -> std::io::Result<()> {
        self.committed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}
