//! # meshsim engine
//!
//! A discrete-event engine that runs real libp2p swarms in virtual time.
//! It knows bytes, node indices, links and virtual time; nothing about
//! GossipSub.
//!
//! - [`seeds`]: one master seed fans out into named, independent streams.
//! - [`entropy`]: the seeded `getrandom` hook behind `rand::rng()` and std's `HashMap` keys.
//! - [`queue`]: the event queue, ordered by (virtual time, sequence).
//! - [`latency`]: per-link latency models.
//! - [`world`]: nodes, links, connections and byte pipes of one run (thread-local);
//!   in a partitioned run, one partition's halves of them and the messages between partitions.
//! - [`tcp`]: the `tcp` transport model's congestion window and framing (sans-IO).
//! - [`share`]: a link shared fairly by the flows on it (processor sharing).
//! - [`transport`]: the `libp2p_core::Transport` and `StreamMuxer` over the world.
//! - [`runner`]: the event loop, per-node wakers, limits, and the fresh thread per run;
//!   partitioned runs (one thread per partition, lock-step windows, [`runner::Exchange`]).
//! - [`profile`]: optional per-phase wall-clock accounting for benchmarks.
//!
//! Bytes in flight are stored by the `meshsim-packed` crate ([`packed`]):
//! zero runs of large messages take no memory.
//!
//! Virtual time itself lives in the `meshsim-clock` crate, read by the
//! `web-time` and `futures-timer` substitutes patched into the workspace.

pub mod entropy;
pub mod latency;
pub mod profile;
pub mod queue;
pub mod runner;
pub mod seeds;
pub mod share;
pub mod tcp;
pub mod transport;
pub mod world;

pub use meshsim_clock as clock;
pub use meshsim_packed as packed;
pub use runner::{AppHandler, Engine, EngineStats, EntropyMode, Limits, Node, RunError};
pub use seeds::{Seeds, SimRng};
pub use world::{NetConfig, World};

/// Nanoseconds per millisecond.
pub const MS: u64 = 1_000_000;
/// Nanoseconds per second.
pub const SEC: u64 = 1_000_000_000;
