//! A scenario: peers, initial topology, workload and scenario actions, driven
//! by the engine. [`Sim`] is the step-by-step API (used by tests);
//! [`run`] runs a whole experiment on a fresh simulation thread.

use crate::collector::{Collector, MsgRecord, Rec};
use crate::peer::{self, Peer};
use crate::spec::{ms_to_ns, Experiment};
use crate::summary::RunSummary;
use crate::topology;
use libp2p_gossipsub::{IdentTopic, TopicHash};
use libp2p_identity::PeerId;
use libp2p_swarm::dial_opts::DialOpts;
use rand::RngExt;
use sim::{AppHandler, Engine, EntropyMode, Limits, SimRng, SEC};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

/// Something the scenario does at a scheduled time.
#[derive(Clone, Debug)]
pub enum Action {
    /// `from` dials `to`.
    Dial {
        /// Dialer.
        from: u32,
        /// Target.
        to: u32,
    },
    /// The next message of the workload is published (and the next one scheduled).
    Publish,
    /// Every connection between `a` and `b` is lost.
    CutLink {
        /// One end.
        a: u32,
        /// Other end.
        b: u32,
    },
}

/// The scenario side of the event loop.
pub struct Driver {
    actions: Vec<Action>,
    /// The experiment.
    pub spec: Experiment,
    /// Shared measurements.
    pub collector: Rc<RefCell<Collector>>,
    /// Topics, by index.
    pub topics: Vec<IdentTopic>,
    /// Subscribers of each topic.
    pub subscribers: Vec<Vec<u32>>,
    publishers: Vec<u32>,
    workload_rng: SimRng,
    next_publish_ns: u64,
    publish_until_ns: u64,
    peer_ids: Vec<PeerId>,
}

impl Driver {
    fn publish_next(&mut self, engine: &mut Engine<Peer>) {
        let publisher = self.publishers[self.workload_rng.random_range(0..self.publishers.len())];
        let topic = self.workload_rng.random_range(0..self.topics.len());
        self.publish(engine, publisher, topic);
        // Schedule the next one.
        let rate = self.spec.workload.rate_per_s;
        if rate > 0.0 {
            self.next_publish_ns += (SEC as f64 / rate).round().max(1.0) as u64;
            if self.next_publish_ns <= self.publish_until_ns {
                engine.schedule_app(self.next_publish_ns, None, self.push(Action::Publish));
            }
        }
    }

    /// `publisher` publishes one workload message on `topic` now; returns its sequence number.
    pub fn publish(&mut self, engine: &mut Engine<Peer>, publisher: u32, topic: usize) -> u64 {
        let now = engine.now_ns();
        let expected = self.subscribers[topic]
            .iter()
            .filter(|&&p| p != publisher)
            .count() as u32;
        let seq = self.collector.borrow_mut().on_publish(MsgRecord {
            publisher,
            topic: topic as u32,
            published_ns: now,
            expected,
            delivered: 0,
            copies: 0,
        });
        let mut data = vec![0u8; self.spec.workload.message_bytes];
        data[..8].copy_from_slice(&seq.to_le_bytes());
        let node = &mut engine.nodes[publisher as usize];
        if node.swarm.is_some() {
            if node
                .gossipsub()
                .publish(self.topics[topic].clone(), data)
                .is_err()
            {
                self.collector.borrow_mut().counters.publish_errors += 1;
            }
            engine.wake(publisher);
        }
        seq
    }

    fn push(&mut self, a: Action) -> u64 {
        self.actions.push(a);
        (self.actions.len() - 1) as u64
    }
}

impl AppHandler<Peer> for Driver {
    fn on_app(&mut self, engine: &mut Engine<Peer>, _node: Option<u32>, tag: u64) {
        let action = self.actions[tag as usize].clone();
        match action {
            Action::Dial { from, to } => {
                let node = &mut engine.nodes[from as usize];
                if let Some(swarm) = node.swarm.as_mut() {
                    let opts = DialOpts::peer_id(self.peer_ids[to as usize])
                        .addresses(vec![sim::transport::node_addr(to)])
                        .build();
                    if swarm.dial(opts).is_err() {
                        self.collector.borrow_mut().counters.dial_failures += 1;
                    }
                    engine.wake(from);
                }
            }
            Action::Publish => self.publish_next(engine),
            Action::CutLink { a, b } => {
                self.collector.borrow_mut().record(
                    Rec::Action,
                    1,
                    (u64::from(a) << 32) | u64::from(b),
                );
                sim::world::with(|w| w.cut_link(a, b));
            }
        }
    }
}

struct Tap(Rc<RefCell<Collector>>);

impl sim::world::WireTap for Tap {
    fn on_write(&mut self, from: u32, _to: u32, stream: u64, _at: u64, bytes: &[u8]) {
        self.0.borrow_mut().on_wire(from, stream, bytes);
    }
}

/// One simulation in progress (lives on its simulation thread).
pub struct Sim {
    /// The engine with its peers.
    pub engine: Engine<Peer>,
    /// The scenario driver.
    pub driver: Driver,
    /// Connected components of the initial graph.
    pub initial_components: usize,
    seed: u64,
}

impl Sim {
    /// Builds the scenario on the current simulation thread (see [`sim::runner::run_on_sim_thread`]).
    pub fn new(spec: &Experiment, seed: u64) -> Sim {
        let seeds = sim::Seeds::new(seed);
        let n = spec.peers;
        let gcfg = peer::build_gossipsub_config(&spec.gossipsub).expect("validated configuration");
        let keys: Vec<_> = (0..n).map(|i| peer::keypair(&seeds, i)).collect();
        let peer_ids: Vec<PeerId> = keys.iter().map(|k| PeerId::from(k.public())).collect();
        sim::world::with(|w| {
            for p in &peer_ids {
                w.add_node(*p);
            }
        });
        let collector = Rc::new(RefCell::new(Collector::new(&peer_ids)));
        sim::world::with(|w| w.set_tap(Box::new(Tap(collector.clone()))));
        let mut engine = Engine::new(Limits {
            max_events: spec.limits.max_events,
            ..Limits::default()
        });
        for (i, k) in keys.into_iter().enumerate() {
            engine.add_node(Peer::new(
                i as u32,
                k,
                &spec.gossipsub,
                gcfg.clone(),
                collector.clone(),
            ));
        }

        // Subscriptions.
        let topics: Vec<IdentTopic> = (0..spec.workload.topics)
            .map(|t| IdentTopic::new(format!("meshsim-topic-{t}")))
            .collect();
        let mut sub_rng = seeds.stream("subscriptions");
        let mut subscribers = Vec::new();
        for t in &topics {
            let mut subs: Vec<u32> = (0..n)
                .filter(|_| {
                    spec.workload.subscribe_share >= 1.0
                        || sub_rng.random_bool(spec.workload.subscribe_share)
                })
                .collect();
            if subs.is_empty() {
                subs.push(sub_rng.random_range(0..n));
            }
            for &p in &subs {
                engine.nodes[p as usize]
                    .gossipsub()
                    .subscribe(t)
                    .expect("subscribe");
            }
            subscribers.push(subs);
        }

        // Publishers.
        let mut wl_rng = seeds.stream("workload");
        let publishers: Vec<u32> = match spec.workload.publishers {
            None => (0..n).collect(),
            Some(k) => {
                let mut all: Vec<u32> = (0..n).collect();
                rand::seq::SliceRandom::shuffle(all.as_mut_slice(), &mut wl_rng);
                let mut p: Vec<u32> = all.into_iter().take(k as usize).collect();
                p.sort_unstable();
                p
            }
        };

        // Topology and initial dials.
        let mut topo_rng = seeds.stream("topology");
        let graph = topology::build(&spec.topology, n, &mut topo_rng);
        let initial_components = topology::components(&graph);
        let mut driver = Driver {
            actions: Vec::new(),
            spec: spec.clone(),
            collector,
            topics,
            subscribers,
            publishers,
            workload_rng: wl_rng,
            next_publish_ns: ms_to_ns(spec.workload.start_s * 1000.0),
            publish_until_ns: ms_to_ns((spec.duration_s - spec.workload.drain_s) * 1000.0),
            peer_ids,
        };
        let mut dial_rng = seeds.stream("dials");
        let stagger = ms_to_ns(spec.topology.dial_stagger_ms);
        let mut edges: Vec<(u32, u32)> = graph
            .edge_indices()
            .filter_map(|e| graph.edge_endpoints(e))
            .map(|(a, b)| (a.index() as u32, b.index() as u32))
            .collect();
        edges.sort_unstable();
        for (a, b) in edges {
            let (from, to) = if dial_rng.random_bool(0.5) {
                (a, b)
            } else {
                (b, a)
            };
            let at = if stagger > 0 {
                dial_rng.random_range(0..stagger)
            } else {
                0
            };
            let tag = driver.push(Action::Dial { from, to });
            engine.schedule_app(at, Some(from), tag);
        }
        if spec.workload.rate_per_s > 0.0 && driver.next_publish_ns <= driver.publish_until_ns {
            let tag = driver.push(Action::Publish);
            engine.schedule_app(driver.next_publish_ns, None, tag);
        }
        Sim {
            engine,
            driver,
            initial_components,
            seed,
        }
    }

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
        let mut v: Vec<u32> = ids
            .iter()
            .filter_map(|p| {
                self.driver
                    .peer_ids
                    .iter()
                    .position(|q| q == p)
                    .map(|i| i as u32)
            })
            .collect();
        v.sort_unstable();
        v
    }

    /// Ends the run: records final meshes into the trace and summarises.
    pub fn finish(mut self) -> RunSummary {
        let n = self.driver.spec.peers;
        let mut degrees = Vec::new();
        for t in 0..self.driver.topics.len() {
            let subs: BTreeSet<u32> = self.driver.subscribers[t].iter().copied().collect();
            for p in 0..n {
                let mesh = self.mesh(p, t);
                if subs.contains(&p) {
                    degrees.push(mesh.len() as u32);
                }
                let mut c = self.driver.collector.borrow_mut();
                for m in mesh {
                    c.record(Rec::Mesh, (u64::from(p) << 32) | t as u64, u64::from(m));
                }
            }
        }
        let bytes_sent: Vec<u64> =
            sim::world::with(|w| w.nodes.iter().map(|n| n.bytes_sent).collect());
        let c = self.driver.collector.borrow();
        RunSummary::build(
            &self.driver.spec,
            self.seed,
            &c,
            &degrees,
            &bytes_sent,
            self.engine.stats,
            self.initial_components,
            self.engine.now_ns(),
        )
    }
}

/// A failed run: why, with what to rerun.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunFailure {
    /// The engine stopped (budget, livelock).
    #[error("run stopped: {0}")]
    Engine(#[from] sim::RunError),
    /// Something panicked.
    #[error("run panicked: {0}")]
    Panic(String),
}

/// Runs experiment `spec` with `seed` on a fresh simulation thread.
pub fn run(spec: &Experiment, seed: u64, entropy: EntropyMode) -> Result<RunSummary, RunFailure> {
    let spec2 = spec.clone();
    let duration = spec.duration_s;
    let out =
        sim::runner::run_on_sim_thread(seed, spec.network.to_net_config(), entropy, move || {
            let mut s = Sim::new(&spec2, seed);
            s.run_until_s(duration)?;
            Ok::<_, sim::RunError>(s.finish())
        })
        .map_err(RunFailure::Panic)?;
    let (summary, report) = out;
    let mut summary = summary?;
    summary.entropy_served = report.entropy.served;
    summary.entropy_os_fallbacks = report.entropy.os_fallbacks;
    Ok(summary)
}
