//! Running an experiment on a fresh simulation thread.

use super::{finish::PeerRow, partitioned::run_partitioned, Sim};
use crate::spec::Experiment;
use crate::summary::RunSummary;
use sim::EntropyMode;

/// A failed run: why, with what to rerun.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunFailure {
    /// The engine stopped (budget, livelock).
    #[error("run stopped: {0}")]
    Engine(#[from] sim::RunError),
    /// Something panicked.
    #[error("run panicked: {0}")]
    Panic(String),
    /// An output of the run (the `--trace` file) could not be written.
    #[error("{0}")]
    Output(String),
}

/// Runs experiment `spec` with `seed` on a fresh simulation thread.
pub fn run(spec: &Experiment, seed: u64, entropy: EntropyMode) -> Result<RunSummary, RunFailure> {
    run_full(spec, seed, entropy).map(|o| o.summary)
}

/// Everything a run measured: the summary and the detail behind the CSV files.
#[derive(Clone, Debug, Default)]
pub struct RunOutput {
    /// The summary.
    pub summary: RunSummary,
    /// Periodic network samples (`timeseries.csv`).
    pub samples: Vec<crate::series::Sample>,
    /// Every published message (`messages.csv`).
    pub messages: Vec<crate::collector::MsgRecord>,
    /// Every first delivery of a workload message (not probes) as (message
    /// seq, peer, time ns), when `measure.deliveries` is on.
    pub deliveries: Option<Vec<(u64, u32, u64)>>,
    /// GossipSub's Prometheus metrics summed over all peers, when `measure.prometheus` is on.
    pub metrics_prom: Option<String>,
    /// Per-peer samples (t_s, peer, mesh degree, connections), when `measure.per_peer` is on.
    pub peer_samples: Vec<(f64, u32, u32, u32)>,
    /// One row per peer (`peers.csv`).
    pub peers: Vec<PeerRow>,
}

/// Options of a run that are not part of the experiment (they change no result).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Where the event trace goes (none: it is only hashed).
    pub trace: Option<std::sync::Arc<dyn crate::trace::TraceSink>>,
    /// Leave the network's memory to the process's exit instead of freeing
    /// it at the end of the run (see [`Sim::finish_with`]). Only for
    /// processes that exit after this one run.
    pub skip_teardown: bool,
    /// Compute every ed25519 verification and key decompression again
    /// instead of remembering successful ones (see
    /// `patches/ed25519-dalek/src/meshsim_memo.rs`). Every result is the same;
    /// only CPU time differs. For measuring what the memo saves.
    pub no_memo: bool,
    /// Receives the virtual time reached (ns) as the run goes, for a
    /// progress display (with partitions: the time of whichever partition
    /// moved last; they are at most one window apart).
    pub progress: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

/// Like [`run`], with the detail behind the CSV files.
pub fn run_full(
    spec: &Experiment,
    seed: u64,
    entropy: EntropyMode,
) -> Result<RunOutput, RunFailure> {
    run_with(spec, seed, entropy, &RunOptions::default())
}

/// Like [`run_full`], with run options.
pub fn run_with(
    spec: &Experiment,
    seed: u64,
    entropy: EntropyMode,
    opts: &RunOptions,
) -> Result<RunOutput, RunFailure> {
    if spec.partitions > 1 {
        return run_partitioned(spec, seed, entropy, opts);
    }
    let spec2 = spec.clone();
    let duration = spec.duration_s;
    let skip_teardown = opts.skip_teardown;
    let no_memo = opts.no_memo;
    let progress = opts.progress.clone();
    let trace_out = match &opts.trace {
        Some(sink) => Some(sink.lines().map_err(trace_failure)?),
        None => None,
    };
    let out = sim::runner::run_on_sim_thread(seed, spec.net_config(), entropy, move || {
        if no_memo {
            sim::clock::set_memo(false);
        }
        let mut s = Sim::new(&spec2, seed);
        s.engine.set_progress(progress);
        if let Some(out) = trace_out {
            s.driver.collector.borrow_mut().trace_to(out, false);
        }
        s.run_until_s(duration)?;
        let collector = s.driver.collector.clone();
        let metrics_prom = spec2.measure.prometheus.then(|| s.prometheus_text());
        let peer_rows = s.peer_rows();
        let summary = s.finish_with(!skip_teardown);
        let mut c = collector.borrow_mut();
        // Flush and close the trace before it is committed.
        let trace_written = c.trace_finish();
        Ok::<_, sim::RunError>((
            trace_written,
            RunOutput {
                summary,
                samples: std::mem::take(&mut c.samples),
                messages: std::mem::take(&mut c.messages),
                deliveries: c.deliveries.take(),
                metrics_prom,
                peers: peer_rows,
                peer_samples: std::mem::take(&mut c.peer_samples),
            },
        ))
    })
    .map_err(RunFailure::Panic)?;
    let (output, report) = out;
    let (trace_written, mut output) = output?;
    if let Some(sink) = &opts.trace {
        trace_written.map_err(|e| trace_failure(std::io::Error::other(e)))?;
        sink.commit().map_err(trace_failure)?;
    }
    output.summary.entropy_served = report.entropy.served;
    output.summary.entropy_os_fallbacks = report.entropy.os_fallbacks;
    output.summary.memo_hits = report.memo.hits;
    output.summary.memo_misses = report.memo.misses;
    Ok(output)
}

/// A trace that could not be written.
pub(super) fn trace_failure(e: std::io::Error) -> RunFailure {
    RunFailure::Output(format!("cannot write the trace: {e}"))
}
