//! # meshsim models
//!
//! Protocol models on top of the engine (`sim`):
//!
//! - [`spec`]: the experiment file's structure, defaults and validation.
//! - [`peer`]: a real `libp2p-gossipsub` behaviour in a real `libp2p-swarm` swarm per peer.
//! - [`topology`]: initial graphs (random regular, chain, explicit edges).
//! - [`scenario`]: builds peers, subscriptions, dials and the workload; [`scenario::run`] runs one experiment.
//! - [`prolly`]: the okra-style Prolly tree and its sans-IO sync protocol (see `../shared/PROLLY.md`).
//! - [`history`]: the replicated log on that tree and its sync as a libp2p protocol beside GossipSub.
//! - [`scoring`]: the `[scoring]` section (presets, mapping to the crate's score parameters).
//! - [`adversary`]: wire-level adversaries (broken IHAVE promises, GRAFTs during a backoff).
//! - [`collector`], [`wire`], [`summary`]: measurements, wire decoding and the trace hash.
//!
//! ```no_run
//! let spec = models::spec::Experiment { peers: 20, duration_s: 10.0, ..Default::default() };
//! let summary = models::scenario::run(&spec, 7, sim::EntropyMode::Seeded).unwrap();
//! println!("{} delivered {:.3}", summary.trace_hash, summary.delivery_ratio);
//! ```

pub mod adversary;

pub mod collector;
pub mod dialer;
pub mod history;
pub mod interop;
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
