//! The event trace: record kinds and their fixed-size format (what the
//! trace hash is computed over and `--trace` writes), the codes of scenario
//! actions, and the merge of a partitioned run's record files.
//!
//! A partitioned run's `--trace` file: every partition writes its trace
//! records to a record file of its own as it goes (fixed-size records, in
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
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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

/// The record files of a partitioned run's trace (removed when dropped).
pub(crate) struct PartTraceFiles {
    dst: PathBuf,
    paths: Vec<PathBuf>,
    files: Vec<Mutex<Option<File>>>,
}

impl PartTraceFiles {
    /// Creates the record files beside `dst`, one per partition (so that a
    /// path that cannot be written fails before the run, not after it).
    pub(crate) fn create(dst: &Path, parts: u16) -> std::io::Result<PartTraceFiles> {
        let mut t = PartTraceFiles {
            dst: dst.to_path_buf(),
            paths: Vec::new(),
            files: Vec::new(),
        };
        for k in 0..parts {
            let p = dst.with_extension(format!("tmp-{}-part{k}", std::process::id()));
            let f = File::create(&p)?;
            t.paths.push(p);
            t.files.push(Mutex::new(Some(f)));
        }
        Ok(t)
    }

    /// Partition `k`'s record file (once).
    pub(crate) fn take(&self, k: u16) -> Option<File> {
        self.files
            .get(usize::from(k))
            .and_then(|m| m.lock().ok().and_then(|mut f| f.take()))
    }

    /// Merges the record files into the trace file (written atomically).
    pub(crate) fn merge(&self) -> std::io::Result<()> {
        // Heal records: the partitions' counts, summed by instant.
        let mut heals: BTreeMap<u64, u64> = BTreeMap::new();
        for p in &self.paths {
            let mut r = Records::open(p)?;
            while let Some(rec) = r.next()? {
                if is_heal(&rec) {
                    *heals.entry(rec.t_ns).or_default() += rec.b;
                }
            }
        }
        let tmp = self
            .dst
            .with_extension(format!("tmp-{}", std::process::id()));
        let written = (|| {
            let mut out = BufWriter::new(File::create(&tmp)?);
            let mut readers = self
                .paths
                .iter()
                .map(|p| Records::open(p))
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
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, &self.dst)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

impl Drop for PartTraceFiles {
    fn drop(&mut self) {
        for p in &self.paths {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The "heal" scenario action.
fn is_heal(r: &TraceRec) -> bool {
    r.kind == Rec::Action && r.a == action::HEAL
}

/// Reads a record file.
struct Records(BufReader<File>);

impl Records {
    fn open(p: &Path) -> std::io::Result<Records> {
        Ok(Records(BufReader::new(File::open(p)?)))
    }

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
