//! The command line: the `clap` parser, its commands (each one's options
//! and `--help` text are in its file under [`crate::commands`]), dispatch,
//! and the exit code of an error (2 for bad input, else 1).

use crate::commands::{bench, check, interop, merge, plot, run, sweep};
use crate::load::InputError;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// meshsim runs real libp2p GossipSub peers (the unmodified `libp2p-gossipsub`
/// crate inside real `libp2p-swarm` swarms) over a virtual network in virtual
/// time. The same experiment file and seed always give the same results.
#[derive(Parser)]
#[command(name = "meshsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Run(run::RunArgs),
    Bench(bench::BenchArgs),
    Plot(plot::PlotArgs),
    Interop(interop::InteropArgs),
    Sweep(sweep::SweepArgs),
    Merge(merge::MergeArgs),
    Check(check::CheckArgs),
    #[command(hide = true)]
    BenchOne(bench::BenchOneArgs),
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Run(a) => run::cmd_run(a),
        Cmd::Bench(a) => bench::cmd_bench(&a),
        Cmd::BenchOne(a) => bench::cmd_bench_one(a),
        Cmd::Sweep(a) => sweep::cmd_sweep(a),
        Cmd::Merge(a) => merge::cmd_merge(a),
        Cmd::Check(a) => check::cmd_check(a),
        Cmd::Plot(a) => plot::cmd_plot(a),
        Cmd::Interop(a) => interop::cmd_interop(a),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            if let Some(ie) = e.downcast_ref::<InputError>() {
                eprintln!("error: {}", crate::load::short_message(&ie.to_string()));
                ExitCode::from(2)
            } else {
                eprintln!("error: {}", crate::load::short_message(&format!("{e:#}")));
                ExitCode::from(1)
            }
        }
    }
}
