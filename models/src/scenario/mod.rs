//! A scenario: peers, initial topology, workload and scenario actions, driven
//! by the engine. [`Sim`] is the step-by-step API (used by tests);
//! [`run`] runs a whole experiment on a fresh simulation thread.
//!
//! Timeline events ([`TimelineEvent`](crate::spec::TimelineEvent)) become actions: a peer going offline
//! is crashed in the world and its swarm dropped (its log is kept); on return
//! it gets a fresh swarm with the same identity and log, listens, subscribes
//! and dials its initial neighbours. A partition ([`sim::World::partition`])
//! cuts every connection between its two groups and leaves dials between
//! them unanswered until it heals, when the pairs that were cut dial each
//! other again. Intervals that overlap on a peer compose (`Overlaps`): it
//! is offline or unreachable while any interval covers it, and its
//! degradations in force stack.

mod actions;
mod build;
mod driver;
mod finish;
mod partial;
mod partitioned;
mod run;

pub use actions::Action;
pub use driver::Driver;
pub use finish::PeerRow;
pub use run::{run, run_full, run_with, RunFailure, RunOptions, RunOutput};

use crate::peer::Peer;
use crate::spec::{ms_to_ns, Experiment};
use libp2p_gossipsub::TopicHash;
use libp2p_identity::PeerId;
use sim::{Engine, EntropyMode, SEC};
use std::rc::Rc;

/// One simulation in progress (lives on its simulation thread).
pub struct Sim {
    /// The engine with its peers.
    pub engine: Engine<Peer>,
    /// The scenario driver.
    pub driver: Driver,
    /// Connected components of the initial graph.
    pub initial_components: usize,
    /// Frames forged by wire-level adversaries so far.
    pub forged: Rc<std::cell::Cell<crate::adversary::ForgedCounts>>,
    pub(super) seed: u64,
}

impl Sim {
    /// Runs until simulated time `t_s` (seconds).
    pub fn run_until_s(&mut self, t_s: f64) -> Result<(), sim::RunError> {
        self.engine
            .run_until(ms_to_ns(t_s * 1000.0), &mut self.driver)
    }

    /// Current simulated time in seconds.
    pub fn now_s(&self) -> f64 {
        self.engine.now_ns() as f64 / SEC as f64
    }

    /// `publisher` publishes one workload message on `topic` right now; returns its sequence number.
    pub fn publish_now(&mut self, publisher: u32, topic: usize) -> u64 {
        self.driver.publish(&mut self.engine, publisher, topic)
    }

    /// `from` dials `to` right now.
    pub fn dial_now(&mut self, from: u32, to: u32) {
        self.driver.dial(&mut self.engine, from, to);
    }

    /// First deliveries of workload message `seq` as (peer, ns after `since_ns`), sorted by
    /// peer (needs [`Collector::keep_deliveries`](crate::collector::Collector::keep_deliveries)).
    pub fn deliveries_of(&self, seq: u64, since_ns: u64) -> Vec<(u32, u64)> {
        let c = self.driver.collector.borrow();
        let mut d: Vec<(u32, u64)> = c
            .deliveries
            .iter()
            .flatten()
            .filter(|x| x.0 == seq)
            .map(|&(_, p, t)| (p, t.saturating_sub(since_ns)))
            .collect();
        d.sort_unstable();
        d
    }

    /// Schedules a cut of every connection between `a` and `b` at `t_s`.
    pub fn schedule_cut(&mut self, t_s: f64, a: u32, b: u32) {
        let tag = self.driver.push(Action::CutLink { a, b });
        self.engine.schedule_app(ms_to_ns(t_s * 1000.0), None, tag);
    }

    /// Peer indices in `peer`'s mesh for topic `topic`, sorted.
    pub fn mesh(&mut self, peer: u32, topic: usize) -> Vec<u32> {
        let hash: TopicHash = self.driver.topics[topic].hash();
        let ids: Vec<PeerId> = match self.engine.nodes[peer as usize].swarm.as_ref() {
            Some(s) => s.behaviour().gossipsub.mesh_peers(&hash).copied().collect(),
            None => Vec::new(),
        };
        // An ordered index, not a scan of all peer ids: this runs for every
        // peer at the end of a run (a scan made that quadratic in peers).
        let c = self.driver.collector.borrow();
        let mut v: Vec<u32> = ids.iter().filter_map(|p| c.peer_index(p)).collect();
        drop(c);
        v.sort_unstable();
        v
    }
}

/// Builds the scenario of `spec` on a fresh, seeded simulation thread (the
/// whole network configuration: links, class pairs, regions), hands it to
/// `f`, and returns what `f` returns: the step-by-step API for tests and
/// custom studies.
///
/// # Panics
/// If the simulation thread panics (the message is re-raised).
pub fn with_sim<R: Send + 'static>(
    spec: &Experiment,
    seed: u64,
    f: impl FnOnce(Sim) -> R + Send + 'static,
) -> R {
    let spec2 = spec.clone();
    match sim::runner::run_on_sim_thread(seed, spec.net_config(), EntropyMode::Seeded, move || {
        f(Sim::new(&spec2, seed))
    }) {
        Ok((r, _)) => r,
        Err(e) => panic!("simulation thread panicked: {e}"),
    }
}
