//! `meshsim merge`: the output directories of a sweep's shards combined.

use crate::sweep;
use std::path::PathBuf;
use std::process::ExitCode;

/// Combine the output directories of sweep shards into one.
///
/// Refuses (exit code 2, nothing written) a directory named twice, two
/// directories that hold the same run (the same shard twice), directories of
/// different experiments, and directories that together miss runs of the sweep
/// (a shard missing or unfinished: finish it with `sweep --resume`).
#[derive(clap::Args)]
pub struct MergeArgs {
    /// Where the merged results go.
    #[arg(long)]
    pub out: PathBuf,
    /// Shard output directories.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
}

/// `meshsim merge`.
pub fn cmd_merge(a: MergeArgs) -> anyhow::Result<ExitCode> {
    let (out, dirs) = (&a.out, &a.dirs);
    let (ok, failed) = sweep::merge(out, dirs)?;
    eprintln!(
        "merged {} directories: {ok} results, {failed} failures in {}",
        dirs.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
