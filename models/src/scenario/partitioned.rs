//! A run split into partitions, one thread each, and the merge of what
//! they measured.

use super::run::trace_failure;
use super::{
    driver::{class_names, graylist_threshold},
    finish::{set_dialer_counts, PeerRow},
    run::{RunFailure, RunOptions, RunOutput},
    Sim,
};
use crate::collector::Collector;
use crate::spec::{ms_to_ns, Experiment};
use crate::summary::RunSummary;
use sim::EntropyMode;

/// What one partition of a partitioned run hands back.
pub(super) struct PartOut {
    pub(super) collector: Collector,
    pub(super) degrees: Vec<u32>,
    pub(super) bytes_sent: Vec<u64>,
    pub(super) rows: Vec<PeerRow>,
    pub(super) stats: sim::EngineStats,
    pub(super) dialer: [u64; 4],
    pub(super) now_ns: u64,
    pub(super) initial_components: usize,
    pub(super) samples_len: usize,
    pub(super) prometheus: Vec<String>,
    pub(super) scored: Vec<crate::scores::ScoredPeer>,
    pub(super) forged: crate::adversary::ForgedCounts,
    /// Whether its trace records were all written (when the run writes a trace).
    pub(super) trace_written: Result<(), String>,
}

/// Runs `spec` split into `spec.partitions` partitions, one thread each
/// (see [`sim::runner::run_partitions`]), and merges what they measured.
pub(super) fn run_partitioned(
    spec: &Experiment,
    seed: u64,
    entropy: EntropyMode,
    opts: &RunOptions,
) -> Result<RunOutput, RunFailure> {
    if let Err(e) = spec.validate() {
        // (The CLI validates on loading; this guards library callers: a
        // partitioned run needs a positive window.)
        return Err(RunFailure::Panic(format!("invalid experiment: {e}")));
    }
    let parts = spec.partitions;
    let spec2 = spec.clone();
    let (skip_teardown, no_memo) = (opts.skip_teardown, opts.no_memo);
    let mut trace_out = Vec::new();
    if let Some(sink) = &opts.trace {
        for k in 0..parts {
            trace_out.push(std::sync::Mutex::new(Some(
                sink.records(k).map_err(trace_failure)?,
            )));
        }
    }
    let trace_out = std::sync::Arc::new(trace_out);
    let files = trace_out.clone();
    let progress = opts.progress.clone();
    let results = sim::runner::run_partitions(
        seed,
        spec.net_config(),
        parts,
        entropy,
        move |k, ex| -> Result<PartOut, sim::RunError> {
            if no_memo {
                sim::clock::set_memo(false);
            }
            let spec = &spec2;
            let mut s = Sim::new_part(spec, seed, Some(k));
            let out = files
                .get(usize::from(k))
                .and_then(|m| m.lock().ok().and_then(|mut o| o.take()));
            if let Some(out) = out {
                s.driver.collector.borrow_mut().trace_to(out, true);
            }
            // One partition's clock is the run's progress.
            if k == 0 {
                s.engine.set_progress(progress.clone());
            }
            let until = ms_to_ns(spec.duration_s * 1000.0);
            s.engine
                .run_windows(until, spec.min_link_latency_ns(), &mut s.driver, ex, k)?;
            // This partition's meshes (the others are remote here).
            let degrees = s.record_final_meshes();
            let rows = s.peer_rows();
            let prometheus = if spec.measure.prometheus {
                s.prometheus_texts()
            } else {
                Vec::new()
            };
            let bytes_sent = sim::world::with(|w| w.nodes.iter().map(|n| n.bytes_sent).collect());
            let dialer = s.dialer_counts();
            let mut collector =
                std::mem::replace(&mut *s.driver.collector.borrow_mut(), Collector::new(&[]));
            let trace_written = collector.trace_finish();
            let out = PartOut {
                samples_len: collector.samples.len(),
                collector,
                degrees,
                bytes_sent,
                rows,
                stats: s.engine.stats,
                dialer,
                now_ns: s.engine.now_ns(),
                initial_components: s.initial_components,
                prometheus,
                scored: s
                    .engine
                    .nodes
                    .iter()
                    .map(crate::sampler::scored_peer)
                    .collect(),
                forged: s.forged.get(),
                trace_written,
            };
            if skip_teardown {
                std::mem::forget(s);
            }
            Ok(out)
        },
    );
    // The first partition that failed is the run's failure (one that only
    // stopped because another did comes second).
    let mut outs = Vec::new();
    let mut stopped = None;
    let mut entropy_served = 0;
    let mut entropy_fallbacks = 0;
    let (mut memo_hits, mut memo_misses) = (0, 0);
    for r in results {
        match r {
            Err(msg) => return Err(RunFailure::Panic(msg)),
            Ok((Err(sim::RunError::PartitionStopped), _)) => {
                stopped = Some(sim::RunError::PartitionStopped)
            }
            Ok((Err(e), _)) => return Err(RunFailure::Engine(e)),
            Ok((Ok(o), report)) => {
                entropy_served += report.entropy.served;
                entropy_fallbacks += report.entropy.os_fallbacks;
                memo_hits += report.memo.hits;
                memo_misses += report.memo.misses;
                outs.push(o);
            }
        }
    }
    if let Some(e) = stopped {
        return Err(RunFailure::Engine(e));
    }
    debug_assert!(outs.iter().all(|o| o.samples_len == outs[0].samples_len));
    // The run's trace hash: the partitions' hashes in partition order.
    let mut h = blake3::Hasher::new();
    h.update(b"meshsim partitions");
    h.update(&u64::from(parts).to_le_bytes());
    for o in &outs {
        h.update(o.collector.trace_hash().as_bytes());
    }
    let trace_hash = h.finalize().to_hex()[..32].to_string();
    if let Some(sink) = &opts.trace {
        for o in &mut outs {
            std::mem::replace(&mut o.trace_written, Ok(()))
                .map_err(|e| trace_failure(std::io::Error::other(e)))?;
        }
        let mut out = sink.lines().map_err(trace_failure)?;
        crate::trace::merge(parts, |k| sink.read_records(k), &mut out)
            .and_then(|()| out.flush())
            .map_err(trace_failure)?;
        drop(out);
        sink.commit().map_err(trace_failure)?;
    }
    let metrics_prom = spec.measure.prometheus.then(|| {
        crate::prom::aggregate(
            outs.iter()
                .flat_map(|o| o.prometheus.iter().map(String::as_str)),
            spec.peers as usize,
        )
    });
    let history = spec.history.enabled.then(|| {
        crate::history::metrics::HistoryMetrics::merge_partitions(
            outs.iter_mut()
                .map(|o| std::mem::take(&mut o.collector.history))
                .collect(),
        )
    });
    let mut outs = outs.into_iter();
    let first = outs.next().expect("at least one partition");
    let (mut c, mut degrees, mut bytes_sent, mut rows) =
        (first.collector, first.degrees, first.bytes_sent, first.rows);
    let (mut stats, mut dialer, mut forged) = (first.stats, first.dialer, first.forged);
    let owner = |p: usize| (p as u64 * u64::from(parts) / u64::from(spec.peers)) as usize;
    for (k, o) in outs.enumerate() {
        let k = k + 1;
        c.absorb(o.collector);
        degrees.extend(o.degrees);
        for (a, b) in bytes_sent.iter_mut().zip(&o.bytes_sent) {
            *a += b;
        }
        for (p, (a, b)) in rows.iter_mut().zip(o.rows).enumerate() {
            let (wire, sent, received) = (a.wire, a.bytes_sent, a.bytes_received);
            if owner(p) == k {
                *a = b.clone();
                a.wire = wire;
                a.bytes_sent = sent;
                a.bytes_received = received;
            }
            a.wire.add(&b.wire);
            a.bytes_sent += b.bytes_sent;
            a.bytes_received += b.bytes_received;
        }
        stats.events += o.stats.events;
        stats.timers_fired += o.stats.timers_fired;
        stats.polls += o.stats.polls;
        stats.steps += o.stats.steps;
        for (a, b) in dialer.iter_mut().zip(o.dialer) {
            *a += b;
        }
        forged.add(&o.forged);
    }
    c.sort_merged();
    if let Some(h) = history {
        c.history = h;
    }
    if let Some(graylist) = graylist_threshold(spec) {
        let names = class_names(spec);
        for s in &mut c.samples {
            if let Some(obs) = s.score_obs.take() {
                s.extra = obs.metrics(&first.scored, &names, graylist);
            }
        }
    }
    for (row, &iso) in rows.iter_mut().zip(&c.isolated_s) {
        row.isolated_s = iso;
    }
    let mut summary = RunSummary::build(
        spec,
        seed,
        &c,
        &degrees,
        &bytes_sent,
        stats,
        first.initial_components,
        first.now_ns,
    );
    summary.trace_hash = trace_hash;
    set_dialer_counts(&mut summary, dialer);
    summary.forged_ihave_ids = forged.fake_ihave_ids;
    summary.forged_grafts = forged.backoff_grafts;
    summary.entropy_served = entropy_served;
    summary.entropy_os_fallbacks = entropy_fallbacks;
    summary.memo_hits = memo_hits;
    summary.memo_misses = memo_misses;
    Ok(RunOutput {
        summary,
        samples: std::mem::take(&mut c.samples),
        messages: std::mem::take(&mut c.messages),
        deliveries: c.deliveries.take(),
        metrics_prom,
        peers: rows,
        peer_samples: std::mem::take(&mut c.peer_samples),
    })
}
