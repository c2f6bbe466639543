//! # meshsim command-line tool
//!
//! - [`load`]: experiment files, `--set` overrides and input errors (exit code 2).
//! - [`output`]: results directories, written atomically.
//! - [`bench`]: `meshsim bench`.
//! - [`cli`]: the `clap` command line.

pub mod bench;
pub mod cli;
pub mod load;
pub mod output;
