//! Files written atomically: into a hidden temporary file beside the
//! destination, renamed over it only once everything is written and synced.
//! A run that is killed, or fails to write, leaves no truncated file; the
//! temporary file is removed when it is not committed.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A file being written; [`AtomicFile::commit`] makes it the destination.
#[derive(Debug)]
pub struct AtomicFile {
    dst: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Starts writing `dst` (creating its folder); returns the handle and
    /// the temporary file to write to.
    pub fn create(dst: &Path) -> std::io::Result<(AtomicFile, File)> {
        let dir = dst.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = dir.unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            dst.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
            std::process::id()
        ));
        let f = File::create(&tmp)?;
        let a = AtomicFile {
            dst: dst.to_path_buf(),
            tmp,
            committed: false,
        };
        Ok((a, f))
    }

    /// Syncs the written file and renames it over the destination.
    pub fn commit(mut self) -> std::io::Result<()> {
        File::open(&self.tmp)?.sync_all()?;
        std::fs::rename(&self.tmp, &self.dst)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` atomically.
/// An error names the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let write = || {
        let (a, mut f) = AtomicFile::create(path)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        a.commit()
    };
    write().map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Removes from `dir` the temporary files of writers that are gone (a run
/// killed between writing and renaming): `.NAME.tmp-PID` whose process no
/// longer exists. Where processes cannot be listed (no `/proc`), nothing
/// is removed. Returns how many were removed.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return 0;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = name
            .strip_prefix('.')
            .and_then(|n| n.rsplit_once(".tmp-"))
            .map(|(_, pid)| pid)
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let alive = pid == std::process::id().to_string() || proc.join(pid).exists();
        if !alive && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}
