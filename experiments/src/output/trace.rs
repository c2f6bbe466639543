//! `--trace FILE`: the event trace written to a file, atomically. A
//! partitioned run's partitions write their records to hidden files beside
//! it, merged into it at the end and then removed (also when the run fails).

use super::atomic::AtomicFile;
use models::trace::TraceSink;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A trace file (see the module doc).
#[derive(Debug)]
pub struct FileTrace {
    dst: PathBuf,
    file: Mutex<Option<AtomicFile>>,
    records: Mutex<Vec<PathBuf>>,
}

impl FileTrace {
    /// The trace that will be `dst`.
    pub fn new(dst: &Path) -> FileTrace {
        FileTrace {
            dst: dst.to_path_buf(),
            file: Mutex::new(None),
            records: Mutex::new(Vec::new()),
        }
    }

    /// An error that names the file.
    fn err(&self, path: &Path, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
    }

    fn record_path(&self, part: u16) -> PathBuf {
        let name = self
            .dst
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("trace");
        let dir = self.dst.parent().filter(|d| !d.as_os_str().is_empty());
        dir.unwrap_or(Path::new("."))
            .join(format!(".{name}.tmp-{}-part{part}", std::process::id()))
    }
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("a lock was poisoned")
}

impl TraceSink for FileTrace {
    fn lines(&self) -> std::io::Result<Box<dyn Write + Send>> {
        let (a, f) = AtomicFile::create(&self.dst).map_err(|e| self.err(&self.dst, e))?;
        *self.file.lock().map_err(|_| poisoned())? = Some(a);
        Ok(Box::new(Named {
            out: BufWriter::new(f),
            path: self.dst.clone(),
        }))
    }

    fn records(&self, part: u16) -> std::io::Result<Box<dyn Write + Send>> {
        let p = self.record_path(part);
        let f = File::create(&p).map_err(|e| self.err(&p, e))?;
        self.records.lock().map_err(|_| poisoned())?.push(p.clone());
        Ok(Box::new(Named {
            out: BufWriter::new(f),
            path: p,
        }))
    }

    fn read_records(&self, part: u16) -> std::io::Result<Box<dyn Read + Send>> {
        let p = self.record_path(part);
        let f = File::open(&p).map_err(|e| self.err(&p, e))?;
        Ok(Box::new(f))
    }

    fn commit(&self) -> std::io::Result<()> {
        let a = self.file.lock().map_err(|_| poisoned())?.take();
        match a {
            Some(a) => a.commit().map_err(|e| self.err(&self.dst, e)),
            None => Err(std::io::Error::other("nothing was written")),
        }
    }
}

impl Drop for FileTrace {
    fn drop(&mut self) {
        if let Ok(r) = self.records.lock() {
            for p in r.iter() {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// A buffered file writer whose errors name the file.
struct Named {
    out: BufWriter<File>,
    path: PathBuf,
}

impl Named {
    fn err(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display()))
    }
}

impl Write for Named {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.out.write(b).map_err(|e| self.err(e))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush().map_err(|e| self.err(e))?;
        self.out.get_ref().sync_data().map_err(|e| self.err(e))
    }
}
