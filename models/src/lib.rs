//! # meshsim models
//!
//! Protocol models on top of the engine (`sim`). The modules, in layers:
//! each uses only modules of the layers below it (no import cycles; a test
//! checks it).
//!
//! **The experiment** (data, checks and the mapping onto libp2p's types):
//! - [`spec`]: the experiment file, a module per section (network, topology,
//!   classes, gossipsub, scoring, workload, churn, timeline, history,
//!   probes, dialer, measure, limits), each with its types, defaults and checks.
//!
//! **Building blocks** (sans-IO or pure):
//! - [`prolly`]: the okra-style Prolly tree and its sans-IO sync protocol
//!   (`docs/prolly-sync.md`).
//! - [`topology`]: initial graphs (random regular, chain, Erdos-Renyi,
//!   Barabasi-Albert, Watts-Strogatz, hub and spoke, edges, GML files).
//! - [`gml`]: the GML reader behind topology files and interop graphs.
//! - [`wire`]: decoding GossipSub frames from substream bytes.
//! - [`trace`]: trace records, the codes of scenario actions, and merging a
//!   partitioned run's records.
//! - [`scores`], [`series`]: score observations and network samples (data).
//! - [`prom`]: Prometheus text: encoding and summing registries.
//!
//! **Peers** (the protocols a simulated peer runs):
//! - [`history`]: the replicated log on the Prolly tree and its sync as a
//!   libp2p protocol beside GossipSub.
//! - [`dialer`]: the automatic dialer / connection manager.
//! - [`collector`]: what a run measures as it goes, and the trace hash.
//! - [`peer`]: a real `libp2p-gossipsub` behaviour in a real `libp2p-swarm`
//!   swarm per peer, with its application validation.
//! - [`adversary`]: wire-level adversaries (broken IHAVE promises, GRAFTs
//!   during a backoff).
//! - [`sampler`]: periodic samples of every peer's mesh and scores.
//!
//! **Runs**:
//! - [`summary`]: a run's summary metrics.
//! - [`scenario`]: builds peers, subscriptions, dials, the workload and the
//!   timeline; [`scenario::run`] runs one experiment (one thread, or
//!   partitions).
//! - [`interop`]: scenarios compiled from libp2p test-plans folders.
//!
//! ```no_run
//! let spec = models::spec::Experiment { peers: 20, duration_s: 10.0, ..Default::default() };
//! let summary = models::scenario::run(&spec, 7, sim::EntropyMode::Seeded).unwrap();
//! println!("{} delivered {:.3}", summary.trace_hash, summary.delivery_ratio);
//! ```

pub mod adversary;
pub mod collector;
pub mod dialer;
pub mod gml;
pub mod history;
pub mod interop;
pub mod partial;
pub mod peer;
pub mod prolly;
pub mod prom;
pub mod sampler;
pub mod scenario;
pub mod scores;
pub mod series;
pub mod spec;
pub mod summary;
pub mod topology;
pub mod trace;
pub mod wire;

pub use scenario::{
    run, run_full, run_with, with_sim, PeerRow, RunFailure, RunOptions, RunOutput, Sim,
};
pub use spec::Experiment;
pub use summary::RunSummary;
