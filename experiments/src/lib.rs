//! # meshsim command-line tool
//!
//! - [`load`]: experiment files, `--set` overrides and input errors (exit code 2).
//! - [`output`]: results directories, written atomically.
//! - [`bench`]: `meshsim bench`.
//! - [`plot`]: `meshsim plot DIR`: PNG and SVG plots from the CSV files.
//! - [`cli`]: the `clap` command line.
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
