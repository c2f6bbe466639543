//! # meshsim command-line tool
//!
//! The `meshsim` binary (`main.rs`) calls [`cli::main`]. The modules, from
//! the command line down; each uses only modules listed below it:
//!
//! - [`cli`]: the `clap` parser, dispatch to the commands, exit codes.
//! - [`commands`]: one file per command (`run`, `sweep`, `merge`, `check`,
//!   `plot`, `bench`, `interop`): its options, with their `--help`, and what it does.
//! - [`check`]: metrics of a sweep compared with a baseline CSV.
//! - [`sweep`]: parameter sweeps: points and runs, parallel execution with a
//!   file per finished run, resume, shards, merge, the tables.
//! - [`estimate`]: the memory estimate that refuses runs too large for the machine.
//! - [`plot`]: PNG and SVG plots and `report.html` from a results directory's CSV files.
//! - [`interop`]: libp2p test-plans `gossipsub-interop` folders: reading,
//!   compiling into a scenario, the framework's analysis.
//! - [`bench`]: the engine benchmark's scenario and measurements.
//! - [`load`]: experiment files, `--set` overrides and input errors (exit code 2).
//! - [`sections`]: the `[sweep]` and `[check]` sections of an experiment file.
//! - [`output`]: results files, written atomically: `runs.csv` columns, the
//!   text summary, detail tables, `meta.json`.
//! - [`wall`]: wall-clock time, read only around runs, for reporting.
//! - [`alloc`]: the binary's allocator (mimalloc) and how outputs name it.

pub mod alloc;
pub mod bench;
pub mod check;
pub mod cli;
pub mod commands;
pub mod estimate;
pub mod interop;
pub mod load;
pub mod output;
pub mod plot;
pub mod sections;
pub mod sweep;
pub mod wall;
