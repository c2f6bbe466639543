//! Writing results: every file atomically (temp file + rename), so a killed
//! run never leaves a truncated file behind.
//!
//! - this file: the provenance in `meta.json`.
//! - `atomic`: [`AtomicFile`] and [`write_atomic`].
//! - `trace`: `--trace FILE` ([`FileTrace`]).
//! - `columns`: the columns of `runs.csv` ([`run_columns`], [`runs_csv`]).
//! - `summary`: the text summary `meshsim run` prints ([`summary_text`]).
//! - `detail`: a run's detail tables (`timeseries.csv`, `messages.csv`,
//!   `peers.csv`, ...: [`detail_files`]).
//! - [`disk`]: free disk for the expected outputs, checked before a run.

mod atomic;
mod columns;
mod detail;
pub mod disk;
mod summary;
mod trace;

pub use atomic::{remove_stale_temporaries, write_atomic, AtomicFile};
pub use columns::{run_columns, runs_csv};
pub use detail::{concat_csv, detail_files};
pub use summary::summary_text;
pub use trace::FileTrace;

/// The git commit meshsim was built from, if built from a git checkout (for `meta.json`).
pub fn git_commit() -> Option<String> {
    // Recorded when meshsim was built (build.rs): the commit of meshsim's
    // own source, not of whatever repository the run happens in.
    Some(env!("MESHSIM_GIT_COMMIT"))
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}

/// `meta.json` (pretty JSON): where a result comes from (meshsim's version
/// and git commit, the allocator, the seed and the trace hash) and the
/// command's own `fields` (an object).
pub fn meta_json(
    seed: u64,
    trace_hash: &str,
    fields: serde_json::Value,
) -> anyhow::Result<Vec<u8>> {
    let mut meta = serde_json::json!({
        "meshsim_version": env!("CARGO_PKG_VERSION"),
        "git_commit": git_commit(),
        "allocator": crate::alloc::allocator(),
        "seed": seed,
        "trace_hash": trace_hash,
    });
    if let (Some(m), serde_json::Value::Object(f)) = (meta.as_object_mut(), fields) {
        m.extend(f);
    }
    Ok(serde_json::to_string_pretty(&meta)?.into_bytes())
}

#[cfg(test)]
mod tests;
