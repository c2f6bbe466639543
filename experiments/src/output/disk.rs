//! Free disk for the expected outputs, checked before anything runs: a run
//! that cannot be written is refused at once, not after the simulation.
//!
//! The estimate is generous (rows of the largest size seen in the shipped
//! experiments' files): `deliveries.csv` (about 45 bytes per delivery),
//! `messages.csv` (about 70 per message), `peers.csv` (about 110 per peer),
//! `timeseries.csv` (about 250 per sample, more with classes) and the
//! per-peer samples (about 30 per peer and sample), twice for a sweep (the
//! run's own files and the merged tables), plus the run's JSON and the
//! plots. `--trace` is not counted: its size depends on the events, which
//! are not known before the run.

use crate::load::InputError;
use models::spec::Experiment;
use std::path::Path;

/// Room kept free besides the outputs (plots, the report, `meta.json`).
const MARGIN: u64 = 32 << 20;

/// Bytes the detail files of one run of `e` take, roughly and generously.
pub fn run_output_bytes(e: &Experiment) -> u64 {
    let w = &e.workload;
    let publishing_s = (e.duration_s - w.start_s - w.drain_s).max(0.0);
    let messages = (w.rate_per_s * publishing_s).ceil() + 1.0;
    let peers = f64::from(e.peers);
    let samples = if e.measure.sample_interval_ms == 0 {
        0.0
    } else {
        (e.duration_s * 1000.0 / e.measure.sample_interval_ms as f64).ceil() + 1.0
    };
    let classes = e.classes.len().max(1) as f64;
    let mut b = 4096.0 + peers * 110.0 + messages * 70.0 + samples * (250.0 + 60.0 * classes);
    if e.measure.deliveries {
        b += messages * peers * w.subscribe_share * 45.0;
    }
    if e.measure.per_peer {
        b += samples * peers * 30.0;
    }
    b.min(u64::MAX as f64) as u64
}

/// Free bytes for an unprivileged writer on the file system of `dir`
/// (`None` when it cannot be asked).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path; `st` is written by the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Refuses to start when the file system of `dir` (option `option`) has
/// less free room than `needed` bytes of outputs and a margin.
pub fn check_free(option: &str, dir: &Path, needed: u64) -> Result<(), InputError> {
    let Some(free) = free_bytes(dir) else {
        return Ok(());
    };
    let want = needed.saturating_add(MARGIN);
    if free < want {
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        return Err(InputError::Options(format!(
            "{option} {}: {:.1} MiB free, and the outputs need about {:.1} MiB (estimated, with {:.0} MiB for plots and the report): free some space or write elsewhere (--out)",
            dir.display(),
            mib(free),
            mib(want),
            mib(MARGIN)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_dominate_and_follow_the_workload() {
        let mut e = Experiment::default();
        let base = run_output_bytes(&e);
        e.measure.deliveries = true;
        let with = run_output_bytes(&e);
        // 200 peers x about 53 messages x 45 bytes.
        assert!(with > base + 400_000, "{base} {with}");
        e.workload.rate_per_s = 0.0;
        assert!(run_output_bytes(&e) < with / 5);
    }

    #[test]
    fn a_full_file_system_is_refused_with_the_numbers() {
        let dir = std::env::temp_dir();
        let free = free_bytes(&dir).expect("statvfs works on the temp dir");
        assert!(check_free("--out", &dir, 0).is_ok() || free < MARGIN);
        let e = check_free("--out", &dir, u64::MAX / 2)
            .unwrap_err()
            .to_string();
        assert!(e.contains("MiB free") && e.contains("--out"), "{e}");
    }
}
