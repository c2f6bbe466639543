//! The summary of one run (what `meshsim run` prints and `runs.csv` holds).

use crate::collector::Collector;
use crate::spec::Experiment;
use serde::{Deserialize, Serialize};

/// Latency percentiles, milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

/// Min / mean / max of a per-peer quantity.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct MinMeanMax {
    /// Minimum.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Maximum.
    pub max: f64,
}

/// Summary of one run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RunSummary {
    /// Hash of the event trace: equal hashes mean identical runs.
    pub trace_hash: String,
    /// Experiment name.
    pub experiment: String,
    /// Master seed.
    pub seed: u64,
    /// Peers.
    pub peers: u32,
    /// Simulated seconds.
    pub sim_seconds: f64,
    /// Wall-clock seconds (measured around the run; not part of the trace).
    pub wall_seconds: f64,
    /// Messages published.
    pub messages_published: u64,
    /// First deliveries to subscribers.
    pub deliveries: u64,
    /// Deliveries that should have happened (subscribers other than the publisher).
    pub deliveries_expected: u64,
    /// deliveries / deliveries_expected.
    pub delivery_ratio: f64,
    /// First-delivery latency, milliseconds.
    pub latency_ms: Percentiles,
    /// Extra copies received per delivery: (copies on the wire - deliveries) / deliveries.
    pub duplicates_per_delivery: f64,
    /// Mean bytes written per peer (all protocols, including negotiation).
    pub bytes_sent_per_peer: f64,
    /// Final mesh degree over subscribed peers and topics.
    pub mesh_degree: MinMeanMax,
    /// Engine events processed.
    pub events: u64,
    /// Node polls.
    pub polls: u64,
    /// Connected components of the initial graph (1 = connected).
    pub initial_components: usize,
    /// GRAFT entries seen on the wire.
    pub graft: u64,
    /// PRUNE entries.
    pub prune: u64,
    /// IHAVE entries.
    pub ihave: u64,
    /// IWANT entries.
    pub iwant: u64,
    /// IDONTWANT entries.
    pub idontwant: u64,
    /// Publishes refused by GossipSub.
    pub publish_errors: u64,
    /// Entropy requests served by the seeded hook on the simulation thread.
    pub entropy_served: u64,
    /// Entropy requests the simulation thread sent to the OS (must be 0).
    pub entropy_os_fallbacks: u64,
}

/// Percentile by nearest rank on sorted data.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl RunSummary {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build(
        spec: &Experiment,
        seed: u64,
        c: &Collector,
        mesh_degrees: &[u32],
        bytes_sent: &[u64],
        stats: sim::EngineStats,
        initial_components: usize,
        now_ns: u64,
    ) -> RunSummary {
        let mut lat = c.latencies_ns.clone();
        lat.sort_unstable();
        let ms = |ns: u64| ns as f64 / 1e6;
        let expected: u64 = c.messages.iter().map(|m| u64::from(m.expected)).sum();
        let deliveries = c.counters.deliveries;
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let degrees: Vec<f64> = mesh_degrees.iter().map(|&d| f64::from(d)).collect();
        RunSummary {
            trace_hash: c.trace_hash(),
            experiment: spec.name.clone(),
            seed,
            peers: spec.peers,
            sim_seconds: now_ns as f64 / 1e9,
            wall_seconds: 0.0,
            messages_published: c.messages.len() as u64,
            deliveries,
            deliveries_expected: expected,
            delivery_ratio: if expected == 0 {
                1.0
            } else {
                deliveries as f64 / expected as f64
            },
            latency_ms: Percentiles {
                p50: ms(percentile(&lat, 50.0)),
                p90: ms(percentile(&lat, 90.0)),
                p99: ms(percentile(&lat, 99.0)),
                max: ms(lat.last().copied().unwrap_or(0)),
            },
            duplicates_per_delivery: if deliveries == 0 {
                0.0
            } else {
                c.counters.copies_received.saturating_sub(deliveries) as f64 / deliveries as f64
            },
            bytes_sent_per_peer: mean(&bytes_sent.iter().map(|&b| b as f64).collect::<Vec<_>>()),
            mesh_degree: MinMeanMax {
                min: degrees
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min)
                    .min(f64::MAX)
                    .max(0.0)
                    * f64::from(u8::from(!degrees.is_empty())),
                mean: mean(&degrees),
                max: degrees.iter().copied().fold(0.0, f64::max),
            },
            events: stats.events,
            polls: stats.polls,
            initial_components,
            graft: c.counters.graft,
            prune: c.counters.prune,
            ihave: c.counters.ihave,
            iwant: c.counters.iwant,
            idontwant: c.counters.idontwant,
            publish_errors: c.counters.publish_errors,
            entropy_served: 0,
            entropy_os_fallbacks: 0,
        }
    }
}
