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

use crate::collector::{Rec, TraceRec};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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

/// The "heal" scenario action (see `scenario::action_code::HEAL`).
fn is_heal(r: &TraceRec) -> bool {
    r.kind == Rec::Action && r.a == crate::scenario::HEAL_ACTION
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
