//! Parameter sweeps: the `[sweep]` section ([`crate::sections::SweepSpec`])
//! expanded into points and runs, run in parallel with one result file per
//! finished run, resumed, sharded and merged.
//!
//! - `plan`: the [`Plan`]: points and runs; `axis`: one axis's values.
//! - `execute`: running a plan ([`execute`]).
//! - `records`: the per-run files `runs/*.json` and `failures/*.json`.
//! - `resume`: what an output directory already holds (same experiment or not).
//! - `tables`: `runs.csv`, `timing.csv`, `failures.csv`, `points.csv` and
//!   the detail tables ([`write_tables`]).
//! - `merge`: shard directories combined ([`merge`]).
//! - `digest`: the table a sweep ends with ([`digest`]).

mod axis;
mod digest;
mod execute;
mod merge;
mod plan;
mod records;
mod resume;
mod tables;

pub use digest::digest;
pub use execute::{execute, reproduce_cmd, ExecOptions, ExecReport, STOP};
pub use merge::merge;
pub use plan::{plan, refuse_swept_sets, value_str, Plan, Point, RunSpec};
pub use records::{read_failures, read_records, run_file, FailureRecord, RunRecord};
pub use tables::{param_column, write_tables};

use crate::load::InputError;

fn set_err(label: &str, key: &str, m: impl Into<String>) -> InputError {
    InputError::Key {
        file: label.to_string(),
        key: key.to_string(),
        message: m.into(),
    }
}
