//! A scenario: peers, initial topology, workload and scenario actions, driven
//! by the engine. [`Sim`] is the step-by-step API (used by tests);
//! [`run`] runs a whole experiment on a fresh simulation thread.
//!
//! Timeline events ([`TimelineEvent`]) become actions: a peer going offline
//! is crashed in the world and its swarm dropped (its log is kept); on return
//! it gets a fresh swarm with the same identity and log, listens, subscribes
//! and dials its initial neighbours. A partition ([`sim::World::partition`])
//! cuts every connection between its two groups and leaves dials between
//! them unanswered until it heals, when the pairs that were cut dial each
//! other again. Intervals that overlap on a peer compose (`Overlaps`): it
//! is offline or unreachable while any interval covers it, and its
//! degradations in force stack.

use crate::collector::{Collector, MsgRecord};
use crate::peer::{self, Peer, PeerTemplate};
use crate::spec::{ms_to_ns, partition_size, Experiment, TimelineEvent};
use crate::summary::RunSummary;
use crate::topology;
use crate::trace::{action, Rec};
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
    /// Test hook: panic (`limits.panic_at_s`).
    Fault,
    /// Take a network sample (and schedule the next one).
    Sample,
    /// Every probe peer publishes a probe message (and the next round is scheduled).
    Probe,
    /// A degradation starts (or ends) on every link of these peers; each
    /// peer's links then carry what all its degradations in force compose to
    /// (see `Overlaps`).
    Condition {
        /// Which degradation (its index in the timeline).
        entry: usize,
        /// The peers.
        peers: Vec<u32>,
        /// The condition while it lasts; `None`: it ends.
        cond: Option<sim::world::LinkCondition>,
    },
    /// A vanish interval starts (`reachable: false`) or ends on these peers'
    /// addresses; a peer is unreachable while any covers it.
    Reachable {
        /// The peers.
        peers: Vec<u32>,
        /// Reachable from now on?
        reachable: bool,
    },
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
    /// An offline interval of `peer` starts: it goes offline (crash; its log
    /// is kept) unless it already is.
    Down {
        /// The peer.
        peer: u32,
        /// Orderly leave instead of a crash.
        graceful: bool,
    },
    /// An offline interval of `peer` ends: if no other one still covers
    /// it, it comes back with the same identity and log and dials up to
    /// `redial` of its initial neighbours (`None`: all).
    Up {
        /// The peer.
        peer: u32,
        /// Most neighbours to dial.
        redial: Option<u32>,
    },
    /// A partition starts: `in_a[i]` tells peer `i`'s group.
    PartitionStart {
        /// Group membership per peer (true: first group).
        in_a: Vec<bool>,
    },
    /// The partition heals; the pairs it cut dial each other again.
    PartitionHeal,
    /// A sample of the distinct-roots time series (and the next one scheduled).
    SampleRoots,
    /// An `invalid_spammer` publishes one invalid message (and schedules the next).
    Spam {
        /// The spammer.
        peer: u32,
        /// Interval to the next one, ns.
        every_ns: u64,
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
    /// Health-check probe peers.
    pub probes: Vec<u32>,
    workload_rng: SimRng,
    next_publish_ns: u64,
    publish_until_ns: u64,
    peer_ids: Vec<PeerId>,
    /// Initial neighbours of each peer, sorted.
    neighbours: Vec<Vec<u32>>,
    /// Pairs cut by the current partition, to redial when it heals.
    cut_pairs: Vec<(u32, u32)>,
    dial_rng: SimRng,
    /// In a partitioned run: the run's seeds (redials after a healed
    /// partition draw their direction per pair, the same in every partition).
    partitioned: Option<sim::Seeds>,
    /// The timeline's intervals in force on each peer.
    overlaps: Overlaps,
}

/// The timeline's intervals in force on each peer, so that overlapping ones
/// compose instead of the end of one undoing another: a peer is offline
/// while any offline interval covers it and unreachable while any vanish
/// interval does; its links carry all its degradations in force, stacked as
/// the world stacks a link's and its two ends' conditions (extra latencies
/// add up, losses combine as independent ones, bandwidth factors multiply).
/// With one interval at a time, each start and end does exactly what it
/// did alone, except that the end of a vanish leaves a peer that accepts no
/// inbound connection unreachable (it used to make it reachable).
struct Overlaps {
    /// Offline intervals covering each peer.
    offline: Vec<u32>,
    /// Vanish intervals covering each peer.
    vanished: Vec<u32>,
    /// Degradations in force on each peer, `(timeline entry, condition)` in
    /// the order they started.
    degraded: Vec<Vec<(usize, sim::world::LinkCondition)>>,
    /// Whether each peer accepts inbound connections (its reachability when
    /// no vanish interval covers it).
    listening: Vec<bool>,
}

impl Overlaps {
    fn new(listening: Vec<bool>) -> Overlaps {
        let n = listening.len();
        Overlaps {
            offline: vec![0; n],
            vanished: vec![0; n],
            degraded: vec![Vec::new(); n],
            listening,
        }
    }

    /// An offline interval of `p` starts; true if `p` must go down now.
    fn offline_starts(&mut self, p: u32) -> bool {
        let k = &mut self.offline[p as usize];
        *k += 1;
        *k == 1
    }

    /// An offline interval of `p` ends; true if none covers `p` any more.
    fn offline_ends(&mut self, p: u32) -> bool {
        let k = &mut self.offline[p as usize];
        *k = k.saturating_sub(1);
        *k == 0
    }

    /// A vanish interval of `p` starts or ends; returns `p`'s reachability.
    fn vanish(&mut self, p: u32, starts: bool) -> bool {
        let k = &mut self.vanished[p as usize];
        *k = if starts { *k + 1 } else { k.saturating_sub(1) };
        *k == 0 && self.listening[p as usize]
    }

    /// Degradation `entry` starts (`Some`) or ends on `p`; returns the
    /// condition now in force on `p`'s links.
    fn degrade(
        &mut self,
        p: u32,
        entry: usize,
        cond: Option<sim::world::LinkCondition>,
    ) -> Option<sim::world::LinkCondition> {
        let active = &mut self.degraded[p as usize];
        match cond {
            Some(c) => active.push((entry, c)),
            None => active.retain(|&(e, _)| e != entry),
        }
        let ((_, first), rest) = active.split_first()?;
        let mut c = *first;
        for (_, x) in rest {
            c.extra_latency_ns += x.extra_latency_ns;
            c.loss = 1.0 - (1.0 - c.loss) * (1.0 - x.loss);
            c.bandwidth_factor *= x.bandwidth_factor;
        }
        Some(c)
    }
}

impl Driver {
    fn publish_next(&mut self, engine: &mut Engine<Peer>) {
        // Only peers that are up publish (all of them, unless the timeline takes some down).
        let live: Vec<u32> = if self
            .publishers
            .iter()
            .all(|&p| engine.nodes[p as usize].is_up())
        {
            self.publishers.clone()
        } else {
            self.publishers
                .iter()
                .copied()
                .filter(|&p| engine.nodes[p as usize].is_up())
                .collect()
        };
        if !live.is_empty() {
            let publisher = live[self.workload_rng.random_range(0..live.len())];
            let topic = self
                .workload_rng
                .random_range(0..self.spec.workload.topics as usize);
            self.publish(engine, publisher, topic);
        }
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
    /// With history on, the message is also appended to the publisher's log.
    pub fn publish(&mut self, engine: &mut Engine<Peer>, publisher: u32, topic: usize) -> u64 {
        self.publish_sized(
            engine,
            publisher,
            topic,
            self.spec.workload.message_bytes,
            false,
        )
    }

    /// Publishes a message of `size` bytes; `probe` marks health-check probes.
    /// Expected receivers are the topic's subscribers that are up, other than the publisher.
    pub fn publish_sized(
        &mut self,
        engine: &mut Engine<Peer>,
        publisher: u32,
        topic: usize,
        size: usize,
        probe: bool,
    ) -> u64 {
        let now = engine.now_ns();
        let receivers = if probe {
            &self.probes
        } else {
            &self.subscribers[topic]
        };
        let expected: Vec<u32> = receivers
            .iter()
            .copied()
            .filter(|&p| p != publisher && engine.nodes[p as usize].is_up())
            .collect();
        if !probe {
            let mut c = self.collector.borrow_mut();
            for &p in receivers {
                // (A partition of a partitioned run counts its own peers.)
                let node = &engine.nodes[p as usize];
                if p != publisher && node.is_up() && !node.is_remote() {
                    if let Some(pc) = c.peers.get_mut(p as usize) {
                        pc.deliveries_expected += 1;
                    }
                }
            }
        }
        let rec = MsgRecord {
            publisher,
            topic: topic as u32,
            published_ns: now,
            expected: expected.len() as u32,
            delivered: 0,
            copies: 0,
            latency_max_ns: 0,
            probe,
        };
        let seq = self.collector.borrow_mut().on_publish_to(rec, &expected);
        let node = &mut engine.nodes[publisher as usize];
        if node.swarm.is_some() {
            let data = node.make_payload(seq, size);
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

    fn probe_round(&mut self, engine: &mut Engine<Peer>) {
        let probes = self.probes.clone();
        for p in probes {
            if engine.nodes[p as usize].is_up() {
                self.publish_sized(engine, p, 0, self.spec.probes.message_bytes, true);
            }
        }
        let next = engine.now_ns() + self.spec.probes.interval_ms * sim::MS;
        if next <= self.publish_until_ns {
            let tag = self.push(Action::Probe);
            engine.schedule_app(next, None, tag);
        }
    }

    fn push(&mut self, a: Action) -> u64 {
        self.actions.push(a);
        (self.actions.len() - 1) as u64
    }

    fn dial(&mut self, engine: &mut Engine<Peer>, from: u32, to: u32) {
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

    fn down(&mut self, engine: &mut Engine<Peer>, peer: u32, graceful: bool) {
        if !engine.nodes[peer as usize].is_up() {
            return;
        }
        self.collector
            .borrow_mut()
            .record(Rec::Action, action::DOWN, u64::from(peer));
        if engine.nodes[peer as usize].is_remote() {
            // Its partition takes it down at this same instant; here its
            // connections' halves are lost (a graceful close arrives from
            // its partition one latency later and takes precedence).
            engine.nodes[peer as usize].set_remote_up(false);
            sim::world::with(|w| w.crash(peer));
            return;
        }
        if graceful {
            // Dropping the swarm closes every connection in an orderly way (the
            // remotes see it one latency later); then the node is marked down.
            engine.nodes[peer as usize].go_down();
            sim::world::with(|w| w.crash(peer));
        } else {
            // Crash first: the remotes notice after the detection delay, not when the swarm drops.
            sim::world::with(|w| w.crash(peer));
            engine.nodes[peer as usize].go_down();
        }
    }

    fn up(&mut self, engine: &mut Engine<Peer>, peer: u32, redial: Option<u32>) {
        if engine.nodes[peer as usize].is_up() {
            return;
        }
        self.collector
            .borrow_mut()
            .record(Rec::Action, action::UP, u64::from(peer));
        sim::world::with(|w| w.restart(peer));
        if let Some(t) = self.collector.borrow_mut().up_since.get_mut(peer as usize) {
            *t = engine.now_ns();
        }
        if engine.nodes[peer as usize].is_remote() {
            // Its own partition brings it up and redials.
            engine.nodes[peer as usize].set_remote_up(true);
            if self.spec.history.enabled {
                self.collector
                    .borrow_mut()
                    .history
                    .marker("return", Some(peer));
            }
            return;
        }
        let node = &mut engine.nodes[peer as usize];
        node.come_up();
        for (t, subs) in self.subscribers.iter().enumerate() {
            if subs.contains(&peer) {
                node.gossipsub()
                    .subscribe(&self.topics[t])
                    .expect("subscribe");
            }
        }
        engine.wake(peer);
        let targets: Vec<u32> = self.neighbours[peer as usize]
            .iter()
            .copied()
            .filter(|&n| engine.nodes[n as usize].is_up())
            .take(redial.map_or(usize::MAX, |r| r as usize))
            .collect();
        for n in targets {
            self.dial(engine, peer, n);
        }
        if self.spec.history.enabled {
            self.collector
                .borrow_mut()
                .history
                .marker("return", Some(peer));
        }
    }

    fn partition_start(&mut self, engine: &mut Engine<Peer>, in_a: Vec<bool>) {
        let size = in_a.iter().filter(|&&x| x).count() as u64;
        self.collector
            .borrow_mut()
            .record(Rec::Action, action::PARTITION, size);
        let mut cut = Vec::new();
        for (a, node) in engine.nodes.iter().enumerate() {
            let Some(swarm) = node.swarm.as_ref() else {
                continue;
            };
            if !in_a[a] {
                continue;
            }
            let mut remotes: Vec<u32> = swarm
                .connected_peers()
                .filter_map(|p| self.collector.borrow().peer_index(p))
                .filter(|&b| !in_a[b as usize])
                .collect();
            remotes.sort_unstable();
            cut.extend(remotes.into_iter().map(|b| (a as u32, b)));
        }
        if self.partitioned.is_some() {
            // A partition knows the connections of its own peers on either
            // side of the cut: add those whose side in group A is remote.
            for (b, node) in engine.nodes.iter().enumerate() {
                let Some(swarm) = node.swarm.as_ref() else {
                    continue;
                };
                if in_a[b] {
                    continue;
                }
                for a in swarm
                    .connected_peers()
                    .filter_map(|p| self.collector.borrow().peer_index(p))
                    .filter(|&a| in_a[a as usize] && engine.nodes[a as usize].is_remote())
                {
                    cut.push((a, b as u32));
                }
            }
            cut.sort_unstable();
            cut.dedup();
        }
        // The world cuts every connection between the groups and leaves
        // dials between them unanswered until the partition heals.
        let groups: Vec<u16> = in_a.iter().map(|&a| if a { 1 } else { 2 }).collect();
        sim::world::with(|w| w.partition(&groups));
        self.cut_pairs = cut;
    }

    fn partition_heal(&mut self, engine: &mut Engine<Peer>) {
        // The connections the split had cut (in a partitioned run, those
        // whose first end is this partition's: the merged trace adds them up).
        let cut = self
            .cut_pairs
            .iter()
            .filter(|&&(a, _)| !engine.nodes[a as usize].is_remote())
            .count();
        self.collector
            .borrow_mut()
            .record(Rec::Action, action::HEAL, cut as u64);
        sim::world::with(|w| w.heal_partition());
        for (a, b) in std::mem::take(&mut self.cut_pairs) {
            if engine.nodes[a as usize].is_up() && engine.nodes[b as usize].is_up() {
                let a_dials = match self.partitioned {
                    // Every partition that knows the pair draws the same
                    // direction; the dialer's partition dials.
                    Some(seeds) => seeds
                        .stream_at("heal-redials", (u64::from(a) << 32) | u64::from(b))
                        .random_bool(0.5),
                    None => self.dial_rng.random_bool(0.5),
                };
                let (from, to) = if a_dials { (a, b) } else { (b, a) };
                self.dial(engine, from, to);
            }
        }
        if self.spec.history.enabled {
            self.collector.borrow_mut().history.marker("heal", None);
        }
    }
}

impl AppHandler<Peer> for Driver {
    fn on_app(&mut self, engine: &mut Engine<Peer>, _node: Option<u32>, tag: u64) {
        let action = self.actions[tag as usize].clone();
        match action {
            Action::Dial { from, to } => self.dial(engine, from, to),
            Action::Publish => self.publish_next(engine),
            Action::Fault => panic!("test fault hook: limits.panic_at_s reached"),
            Action::Probe => self.probe_round(engine),
            Action::Condition { entry, peers, cond } => {
                self.collector.borrow_mut().record(
                    Rec::Action,
                    if cond.is_some() {
                        action::CONDITION_SET
                    } else {
                        action::CONDITION_CLEARED
                    },
                    peers.len() as u64,
                );
                let overlaps = &mut self.overlaps;
                sim::world::with(|w| {
                    for &p in &peers {
                        w.set_node_condition(p, overlaps.degrade(p, entry, cond));
                    }
                });
            }
            Action::Reachable { peers, reachable } => {
                self.collector.borrow_mut().record(
                    Rec::Action,
                    if reachable {
                        action::BACK
                    } else {
                        action::VANISHED
                    },
                    peers.len() as u64,
                );
                let overlaps = &mut self.overlaps;
                sim::world::with(|w| {
                    for &p in &peers {
                        w.set_reachable(p, overlaps.vanish(p, !reachable));
                    }
                });
            }
            Action::Sample => {
                let now = engine.now_ns();
                // Workload topics only (not the probe topic).
                let topics: Vec<libp2p_gossipsub::TopicHash> = self
                    .topics
                    .iter()
                    .take(self.spec.workload.topics as usize)
                    .map(|t| t.hash())
                    .collect();
                let d_lo = self
                    .spec
                    .gossipsub
                    .mesh_n_low
                    .unwrap_or_else(|| libp2p_gossipsub::Config::default().mesh_n_low());
                let interval_s = self.spec.measure.sample_interval_ms as f64 / 1000.0;
                let s = {
                    let mut c = self.collector.borrow_mut();
                    crate::sampler::sample(
                        &engine.nodes,
                        &topics,
                        &self.subscribers,
                        d_lo,
                        now as f64 / SEC as f64,
                        &mut c.isolated_s,
                        interval_s,
                    )
                };
                let mut s = s;
                if let Some(graylist) = graylist_threshold(&self.spec) {
                    let c = self.collector.borrow();
                    if self.partitioned.is_some() {
                        // Neighbours in other partitions score these peers too:
                        // the values are computed once all are added.
                        s.score_obs = Some(crate::sampler::observe_scores(&engine.nodes, |p| {
                            c.peer_index(p)
                        }));
                    } else {
                        s.extra = crate::sampler::score_metrics(
                            &engine.nodes,
                            &class_names(&self.spec),
                            graylist,
                            |p| c.peer_index(p),
                        );
                    }
                }
                self.collector.borrow_mut().samples.push(s);
                if self.spec.measure.per_peer {
                    // Per-peer series: mesh degree on topic 0 and connections of every live peer.
                    let t_s = now as f64 / SEC as f64;
                    let topic0 = self.topics[0].hash();
                    let mut rows = Vec::new();
                    for (p, node) in engine.nodes.iter().enumerate() {
                        if let Some(sw) = node.swarm.as_ref() {
                            let mesh = sw.behaviour().gossipsub.mesh_peers(&topic0).count() as u32;
                            rows.push((t_s, p as u32, mesh, sw.connected_peers().count() as u32));
                        }
                    }
                    self.collector.borrow_mut().peer_samples.extend(rows);
                }
                let next = now + self.spec.measure.sample_interval_ms * sim::MS;
                if next <= ms_to_ns(self.spec.duration_s * 1000.0) {
                    let tag = self.push(Action::Sample);
                    engine.schedule_app(next, None, tag);
                }
            }
            Action::CutLink { a, b } => {
                self.collector.borrow_mut().record(
                    Rec::Action,
                    action::CUT_LINK,
                    (u64::from(a) << 32) | u64::from(b),
                );
                sim::world::with(|w| w.cut_link(a, b));
            }
            Action::Down { peer, graceful } => {
                if self.overlaps.offline_starts(peer) {
                    self.down(engine, peer, graceful);
                }
            }
            Action::Up { peer, redial } => {
                if self.overlaps.offline_ends(peer) {
                    self.up(engine, peer, redial);
                }
            }
            Action::PartitionStart { in_a } => self.partition_start(engine, in_a),
            Action::PartitionHeal => self.partition_heal(engine),
            Action::Spam { peer, every_ns } => {
                let size = self.spec.workload.message_bytes;
                let node = &mut engine.nodes[peer as usize];
                if node.is_up() {
                    node.publish_invalid(self.topics[0].clone(), size);
                    engine.wake(peer);
                }
                let next = engine.now_ns() + every_ns;
                if next <= self.publish_until_ns {
                    engine.schedule_app(next, None, tag);
                }
            }
            Action::SampleRoots => {
                self.collector.borrow_mut().history.sample();
                let iv = ms_to_ns(self.spec.history.sample_interval_ms as f64);
                let next = engine.now_ns() + iv;
                if next <= ms_to_ns(self.spec.duration_s * 1000.0) {
                    engine.schedule_app(next, None, tag);
                }
            }
        }
    }
}

/// The graylist threshold of score metrics: the global section's, else the
/// first class's that scores (`None`: no scoring).
fn graylist_threshold(spec: &Experiment) -> Option<f64> {
    spec.scoring
        .build(&[])
        .or_else(|| {
            spec.classes.iter().find_map(|c| {
                c.scoring
                    .as_ref()
                    .and_then(|o| spec.scoring.merged(o).build(&[]))
            })
        })
        .map(|sc| sc.thresholds.graylist_threshold)
}

fn class_names(spec: &Experiment) -> Vec<String> {
    spec.classes.iter().map(|c| c.name.clone()).collect()
}

struct Tap(Rc<RefCell<Collector>>);

impl sim::world::WireTap for Tap {
    fn on_write(&mut self, from: u32, to: u32, stream: u64, _at: u64, bytes: &[u8]) {
        self.0.borrow_mut().on_wire(from, to, stream, bytes);
    }
}

/// Turns the experiment's timeline into scheduled actions.
fn schedule_timeline(
    spec: &Experiment,
    seeds: &sim::Seeds,
    driver: &mut Driver,
    engine: &Engine<Peer>,
) {
    let n = spec.peers;
    let mut churn = seeds.stream("churn");
    let end = |ev: &TimelineEvent| ev.end_s().unwrap_or(f64::INFINITY);
    // Offline windows decided so far, to draw `count` peers among those up.
    let mut windows: Vec<(u32, f64, f64)> = Vec::new();
    for (entry, ev) in spec.timeline.iter().enumerate() {
        let at_ns = ms_to_ns(ev.at_s() * 1000.0);
        let end_ns = ev.end_s().map(|e| ms_to_ns(e * 1000.0));
        match ev {
            TimelineEvent::Offline {
                peers,
                count,
                redial,
                graceful,
                ..
            } => {
                let chosen: Vec<u32> = if peers.is_empty() {
                    let (t0, t1) = (ev.at_s(), end(ev));
                    let mut free: Vec<u32> = (0..n)
                        .filter(|&p| {
                            !windows
                                .iter()
                                .any(|&(q, a, b)| q == p && a <= t1 && t0 <= b)
                        })
                        .collect();
                    rand::seq::SliceRandom::shuffle(free.as_mut_slice(), &mut churn);
                    let mut c: Vec<u32> = free.into_iter().take(*count as usize).collect();
                    c.sort_unstable();
                    c
                } else {
                    peers.clone()
                };
                for &p in &chosen {
                    windows.push((p, ev.at_s(), end(ev)));
                    let tag = driver.push(Action::Down {
                        peer: p,
                        graceful: *graceful,
                    });
                    engine.schedule_app(at_ns, None, tag);
                    if let Some(t) = end_ns {
                        let tag = driver.push(Action::Up {
                            peer: p,
                            redial: *redial,
                        });
                        engine.schedule_app(t, None, tag);
                    }
                }
            }
            TimelineEvent::Degrade {
                peers,
                extra_latency_ms,
                loss,
                bandwidth_factor,
                ..
            } => {
                let cond = sim::world::LinkCondition {
                    extra_latency_ns: ms_to_ns(*extra_latency_ms),
                    loss: *loss,
                    bandwidth_factor: *bandwidth_factor,
                };
                let tag = driver.push(Action::Condition {
                    entry,
                    peers: peers.clone(),
                    cond: Some(cond),
                });
                engine.schedule_app(at_ns, None, tag);
                if let Some(t) = end_ns {
                    let tag = driver.push(Action::Condition {
                        entry,
                        peers: peers.clone(),
                        cond: None,
                    });
                    engine.schedule_app(t, None, tag);
                }
            }
            TimelineEvent::Vanish { peers, .. } => {
                let tag = driver.push(Action::Reachable {
                    peers: peers.clone(),
                    reachable: false,
                });
                engine.schedule_app(at_ns, None, tag);
                if let Some(t) = end_ns {
                    let tag = driver.push(Action::Reachable {
                        peers: peers.clone(),
                        reachable: true,
                    });
                    engine.schedule_app(t, None, tag);
                }
            }
            TimelineEvent::Partition { group, share, .. } => {
                let mut in_a = vec![false; n as usize];
                if group.is_empty() {
                    let k = partition_size(share.unwrap_or(0.5), n);
                    in_a[..k as usize].iter_mut().for_each(|x| *x = true);
                } else {
                    for &p in group {
                        in_a[p as usize] = true;
                    }
                }
                let tag = driver.push(Action::PartitionStart { in_a });
                engine.schedule_app(at_ns, None, tag);
                if let Some(t) = end_ns {
                    let tag = driver.push(Action::PartitionHeal);
                    engine.schedule_app(t, None, tag);
                }
            }
        }
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
    /// Frames forged by wire-level adversaries so far.
    pub forged: Rc<std::cell::Cell<crate::adversary::ForgedCounts>>,
    seed: u64,
}

impl Sim {
    /// Builds the scenario on the current simulation thread (see
    /// [`sim::runner::run_on_sim_thread`]), all of it on this thread
    /// (whatever `spec.partitions` says).
    pub fn new(spec: &Experiment, seed: u64) -> Sim {
        Sim::new_part(spec, seed, None)
    }

    /// Builds partition `part` of `spec.partitions` of the scenario, or all
    /// of it with `None` (see [`run_with`]). A partition holds every peer,
    /// but only its own run (peers in contiguous index blocks); the others
    /// are [`Peer::remote`].
    pub fn new_part(spec: &Experiment, seed: u64, part: Option<u16>) -> Sim {
        let seeds = sim::Seeds::new(seed);
        let n = spec.peers;
        let keys: Vec<_> = (0..n)
            .map(|i| peer::keypair_for(&spec.gossipsub, &seeds, i))
            .collect();
        let peer_ids: Vec<PeerId> = keys.iter().map(|k| PeerId::from(k.public())).collect();
        // Classes: contiguous index ranges in class order.
        let counts = crate::spec::class_counts(&spec.classes, n);
        let mut class_of: Vec<u16> = Vec::with_capacity(n as usize);
        for (c, &k) in counts.iter().enumerate() {
            class_of.extend(std::iter::repeat_n(c as u16, k as usize));
        }
        class_of.resize(n as usize, 0);
        let accepts = |p: u32| {
            spec.classes
                .get(class_of[p as usize] as usize)
                .is_none_or(|c| c.accepts_inbound)
        };
        // Regions: pinned by class, else drawn by weight.
        let regions: Option<Vec<u16>> = spec.network.regions.as_ref().map(|r| {
            let (names, weights, _) = r.table();
            let total: f64 = weights.iter().sum();
            let mut rng = seeds.stream("regions");
            (0..n)
                .map(|p| {
                    let pinned = spec
                        .classes
                        .get(class_of[p as usize] as usize)
                        .and_then(|c| c.region.as_ref());
                    if let Some(name) = pinned {
                        return names.iter().position(|x| x == name).unwrap_or(0) as u16;
                    }
                    let mut x = rng.random_range(0.0..total);
                    for (i, w) in weights.iter().enumerate() {
                        if x < *w {
                            return i as u16;
                        }
                        x -= w;
                    }
                    (weights.len() - 1) as u16
                })
                .collect()
        });
        sim::world::with(|w| {
            // Classes with `shared_ip`: every peer on the IP of the class's first peer.
            let mut shared: std::collections::BTreeMap<u16, (std::net::Ipv4Addr, u16)> =
                std::collections::BTreeMap::new();
            for (i, p) in peer_ids.iter().enumerate() {
                let c = class_of[i];
                let idx = match spec.classes.get(c as usize).filter(|cs| cs.shared_ip) {
                    Some(_) => match shared.get_mut(&c) {
                        Some((ip, port)) => {
                            *port += 1;
                            w.add_node_at(*p, *ip, *port)
                        }
                        None => {
                            let idx = w.add_node(*p);
                            let n = &w.nodes[idx as usize];
                            shared.insert(c, (n.ip, n.port));
                            idx
                        }
                    },
                    None => w.add_node(*p),
                };
                debug_assert_eq!(idx as usize, i);
                w.nodes[idx as usize].class = c;
                w.nodes[idx as usize].region = regions.as_ref().map(|r| r[i]);
                if let Some(cs) = spec.classes.get(c as usize) {
                    let bps = |m: Option<f64>| m.map(|m| (m * 1e6).round().max(1.0) as u64);
                    w.set_bandwidth(idx, bps(cs.upload_mbps), bps(cs.download_mbps));
                    if !cs.accepts_inbound {
                        // No public address: dials to it get no answer.
                        w.set_reachable(idx, false);
                    }
                }
            }
        });
        if let Some(k) = part {
            let parts = spec.partitions.max(1);
            let owner: Vec<u16> = (0..u64::from(n))
                .map(|i| (i * u64::from(parts) / u64::from(n)) as u16)
                .collect();
            sim::world::with(|w| w.set_partitioning(k, parts, owner));
        }
        // Topology (drawn before the peers exist: the dialer's address books need it).
        let hubs: Vec<u32> = match &spec.topology.hub_class {
            Some(h) => (0..n)
                .filter(|&p| {
                    spec.classes
                        .get(class_of[p as usize] as usize)
                        .is_some_and(|c| &c.name == h)
                })
                .collect(),
            None => (0..n)
                .filter(|&p| accepts(p) && !spec.classes.is_empty())
                .collect(),
        };
        let mut topo_rng = seeds.stream("topology");
        let graph = topology::build(&spec.topology, n, &hubs, &mut topo_rng);
        let initial_components = topology::components(&graph);
        let mut neighbours: Vec<Vec<u32>> = vec![Vec::new(); n as usize];
        for e in graph.edge_indices() {
            if let Some((a, b)) = graph.edge_endpoints(e) {
                neighbours[a.index()].push(b.index() as u32);
                neighbours[b.index()].push(a.index() as u32);
            }
        }
        for v in &mut neighbours {
            v.sort_unstable();
            v.dedup();
        }
        // Address books: initial neighbours that accept inbound, plus random others.
        let books: Vec<Vec<(PeerId, libp2p_core::Multiaddr)>> = if spec.dialer.enabled {
            let mut rng = seeds.stream("dialer");
            let listeners: Vec<u32> = (0..n).filter(|&p| accepts(p)).collect();
            (0..n)
                .map(|p| {
                    let mut set: BTreeSet<u32> = neighbours[p as usize]
                        .iter()
                        .copied()
                        .filter(|&q| accepts(q))
                        .collect();
                    let extra = spec.dialer.bootstrap_peers as usize;
                    let mut tries = 0;
                    while set.len() < neighbours[p as usize].len() + extra
                        && tries < extra * 20
                        && !listeners.is_empty()
                    {
                        let q = listeners[rng.random_range(0..listeners.len())];
                        if q != p {
                            set.insert(q);
                        }
                        tries += 1;
                    }
                    set.into_iter()
                        .map(|q| (peer_ids[q as usize], sim::transport::node_addr(q)))
                        .collect()
                })
                .collect()
        } else {
            Vec::new()
        };
        let books = Rc::new(books);
        // What a peer store would know: every listening peer's address (for PX dials).
        let directory: crate::dialer::Directory = {
            let mut d: Vec<(PeerId, libp2p_core::Multiaddr)> = (0..n)
                .filter(|&q| accepts(q))
                .map(|q| (peer_ids[q as usize], sim::transport::node_addr(q)))
                .collect();
            d.sort_by_key(|x| x.0);
            std::sync::Arc::new(d)
        };
        // Scoring or adversarial behaviours: every peer validates messages.
        let class_scoring =
            |c: Option<&crate::spec::ClassSpec>| match c.and_then(|c| c.scoring.as_ref()) {
                Some(over) => spec.scoring.merged(over),
                None => spec.scoring.clone(),
            };
        let validate_all = spec.scoring.enabled()
            || spec.classes.iter().any(|c| {
                c.behaviour.needs_validation()
                    || class_scoring(Some(c)).enabled()
                    || c.validation_delay_ms > 0.0
            });
        let topic_hashes: Vec<TopicHash> = (0..spec.workload.topics)
            .map(|t| IdentTopic::new(format!("meshsim-topic-{t}")).hash())
            .collect();
        // One peer template per class (GossipSub overrides, listening).
        let n_templates = spec.classes.len().max(1);
        let templates: Vec<Rc<PeerTemplate>> = (0..n_templates)
            .map(|c| {
                let class = spec.classes.get(c);
                let g = match class.and_then(|c| c.gossipsub.as_ref()) {
                    Some(over) => spec.gossipsub.merged(over),
                    None => spec.gossipsub.clone(),
                };
                let cfg = g
                    .to_config(spec.history.enabled || validate_all)
                    .expect("validated configuration");
                let mut t = PeerTemplate::new(&g, cfg, &spec.history, seeds);
                t.listen = class.is_none_or(|c| c.accepts_inbound);
                t.class = c as u16;
                t.behaviour = class.map(|c| c.behaviour).unwrap_or_default();
                t.score = class_scoring(class).build(&topic_hashes);
                t.validate = validate_all;
                t.prometheus = spec.measure.prometheus;
                t.dialer = spec.dialer.enabled.then(|| spec.dialer.clone());
                t.books = books.clone();
                t.directory = directory.clone();
                Rc::new(t)
            })
            .collect();
        let collector = Rc::new(RefCell::new(Collector::new(&peer_ids)));
        if part.is_some() && spec.history.enabled {
            collector.borrow_mut().history.keep_root_log();
        }
        if spec.measure.wire {
            sim::world::with(|w| w.set_tap(Box::new(Tap(collector.clone()))));
        }
        // Wire-level adversaries (broken promises, GRAFTs during a backoff).
        let forged = Rc::new(std::cell::Cell::new(Default::default()));
        let class_at = |i: usize| spec.classes.get(class_of[i] as usize);
        let attacks: Vec<_> = (0..n as usize)
            .map(|i| class_at(i).and_then(|c| crate::adversary::Attack::of(c.behaviour)))
            .collect();
        if attacks.iter().any(Option::is_some) {
            let rates: Vec<f64> = (0..n as usize)
                .map(|i| class_at(i).map_or(0.0, |c| c.spam_rate_per_s))
                .collect();
            let topics = topic_hashes.iter().map(|h| h.as_str().to_owned()).collect();
            let filter =
                crate::adversary::WireAdversary::new(attacks, &rates, topics, forged.clone());
            sim::world::with(|w| w.set_filter(Box::new(filter)));
        }
        let mut engine = Engine::new(Limits {
            max_events: spec.limits.max_events,
            ..Limits::default()
        });
        engine.reserve(keys.len());
        for (i, k) in keys.into_iter().enumerate() {
            let t = templates[class_of[i] as usize % n_templates].clone();
            let local = sim::world::with(|w| w.is_local(i as u32));
            engine.add_node(if local {
                Peer::new(i as u32, k, t, collector.clone())
            } else {
                Peer::remote(i as u32, k, t, collector.clone())
            });
        }
        // Honest-but-slow classes: a validation delay on every workload topic.
        for (i, &c) in class_of.iter().enumerate() {
            let delay = spec
                .classes
                .get(c as usize)
                .map_or(0.0, |c| c.validation_delay_ms);
            if delay > 0.0 {
                for h in &topic_hashes {
                    engine.nodes[i]
                        .validation_delays
                        .insert(h.to_string(), ms_to_ns(delay));
                }
            }
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
                if engine.nodes[p as usize].is_remote() {
                    continue;
                }
                engine.nodes[p as usize]
                    .gossipsub()
                    .subscribe(t)
                    .expect("subscribe");
            }
            subscribers.push(subs);
        }
        if let Some(subs) = subscribers.first() {
            let mut c = collector.borrow_mut();
            c.subscribed0 = vec![false; n as usize];
            for &p in subs {
                c.subscribed0[p as usize] = true;
            }
        }

        // Health-check probes: peers drawn at random; they publish on topic 0
        // (so every subscriber relays) and only their receipt is measured.
        let probes: Vec<u32> = if spec.probes.count > 0 {
            let mut rng = seeds.stream("probes");
            let mut all: Vec<u32> = subscribers[0].clone();
            rand::seq::SliceRandom::shuffle(all.as_mut_slice(), &mut rng);
            let mut probes: Vec<u32> = all.into_iter().take(spec.probes.count as usize).collect();
            probes.sort_unstable();
            probes
        } else {
            Vec::new()
        };
        collector.borrow_mut().probe_peers = probes.iter().copied().collect();

        // Publishers.
        let mut wl_rng = seeds.stream("workload");
        let silent = |p: u32| {
            spec.classes
                .get(class_of[p as usize] as usize)
                .is_some_and(|c| c.behaviour == crate::spec::PeerBehaviourKind::Silent)
        };
        let publishers: Vec<u32> = match spec.workload.publishers {
            None => (0..n).filter(|&p| !silent(p)).collect(),
            Some(k) => {
                let mut all: Vec<u32> = (0..n).collect();
                rand::seq::SliceRandom::shuffle(all.as_mut_slice(), &mut wl_rng);
                let mut p: Vec<u32> = all.into_iter().take(k as usize).collect();
                p.sort_unstable();
                p
            }
        };

        let mut driver = Driver {
            actions: Vec::new(),
            spec: spec.clone(),
            collector,
            topics,
            subscribers,
            publishers,
            probes,
            workload_rng: wl_rng,
            next_publish_ns: ms_to_ns(spec.workload.start_s * 1000.0),
            publish_until_ns: ms_to_ns((spec.duration_s - spec.workload.drain_s) * 1000.0),
            peer_ids,
            neighbours,
            cut_pairs: Vec::new(),
            dial_rng: seeds.stream("redials"),
            partitioned: part.map(|_| seeds),
            overlaps: Overlaps::new((0..n).map(accepts).collect()),
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
            // A peer that accepts no inbound connection is always the dialer.
            let (from, to) = match (accepts(from), accepts(to)) {
                (_, true) => (from, to),
                (true, false) => (to, from),
                (false, false) => {
                    driver.collector.borrow_mut().counters.impossible_edges += 1;
                    continue;
                }
            };
            let at = if stagger > 0 {
                dial_rng.random_range(0..stagger)
            } else {
                0
            };
            if engine.nodes[from as usize].is_remote() {
                continue;
            }
            let tag = driver.push(Action::Dial { from, to });
            engine.schedule_app(at, Some(from), tag);
        }
        if spec.measure.sample_interval_ms > 0 {
            let tag = driver.push(Action::Sample);
            engine.schedule_app(spec.measure.sample_interval_ms * sim::MS, None, tag);
        }
        if spec.measure.deliveries {
            driver.collector.borrow_mut().keep_deliveries();
        }
        if spec.probes.count > 0 {
            let tag = driver.push(Action::Probe);
            engine.schedule_app(ms_to_ns(spec.workload.start_s * 1000.0), None, tag);
        }
        if let Some(t) = spec.limits.panic_at_s {
            let tag = driver.push(Action::Fault);
            engine.schedule_app(ms_to_ns(t * 1000.0), None, tag);
        }
        if spec.workload.rate_per_s > 0.0 && driver.next_publish_ns <= driver.publish_until_ns {
            let tag = driver.push(Action::Publish);
            engine.schedule_app(driver.next_publish_ns, None, tag);
        }
        // Churn drawn from distributions becomes offline events, placed first so
        // that `count`-based events of the file draw among the other peers.
        let churn_events = {
            let explicit: Vec<u32> = spec
                .timeline
                .iter()
                .flat_map(|e| match e {
                    TimelineEvent::Offline { peers, .. } => peers.clone(),
                    _ => Vec::new(),
                })
                .collect();
            spec.churn.expand(
                n,
                spec.duration_s,
                &explicit,
                &mut seeds.stream("churn-sessions"),
            )
        };
        if churn_events.is_empty() {
            schedule_timeline(spec, &seeds, &mut driver, &engine);
        } else {
            let mut with_churn = spec.clone();
            with_churn.timeline = churn_events
                .into_iter()
                .chain(spec.timeline.iter().cloned())
                .collect();
            schedule_timeline(&with_churn, &seeds, &mut driver, &engine);
        }
        // Invalid-message spammers: each starts at a seeded offset within its interval.
        let mut spam_rng = seeds.stream("spam");
        for p in 0..n {
            let Some(c) = spec.classes.get(class_of[p as usize] as usize) else {
                continue;
            };
            if c.behaviour != crate::spec::PeerBehaviourKind::InvalidSpammer
                || c.spam_rate_per_s <= 0.0
            {
                continue;
            }
            let every_ns = (SEC as f64 / c.spam_rate_per_s).round().max(1.0) as u64;
            let at = driver.next_publish_ns + spam_rng.random_range(0..every_ns);
            if at <= driver.publish_until_ns {
                let tag = driver.push(Action::Spam { peer: p, every_ns });
                engine.schedule_app(at, None, tag);
            }
        }
        if spec.history.enabled && spec.history.sample_interval_ms > 0 {
            let tag = driver.push(Action::SampleRoots);
            engine.schedule_app(0, None, tag);
        }
        Sim {
            engine,
            driver,
            initial_components,
            forged,
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

    /// One row per peer for `peers.csv`.
    pub fn peer_rows(&mut self) -> Vec<PeerRow> {
        let spec = self.driver.spec.clone();
        let region_names = spec
            .network
            .regions
            .as_ref()
            .map(|r| r.table().0)
            .unwrap_or_default();
        let counters = self.driver.collector.borrow().peers.clone();
        let isolated = self.driver.collector.borrow().isolated_s.clone();
        let nodes: Vec<(u16, Option<u16>, u64, u64)> = sim::world::with(|w| {
            w.nodes
                .iter()
                .map(|n| (n.class, n.region, n.bytes_sent, n.bytes_received))
                .collect()
        });
        let mut rows = Vec::with_capacity(spec.peers as usize);
        for p in 0..spec.peers {
            let (class, region, sent, received) = nodes[p as usize];
            let mesh_degree = self.mesh(p, 0).len() as u32;
            let swarm = self.engine.nodes[p as usize].swarm.as_ref();
            rows.push(PeerRow {
                class: spec
                    .classes
                    .get(class as usize)
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                region: region
                    .and_then(|r| region_names.get(r as usize).cloned())
                    .unwrap_or_default(),
                up: swarm.is_some(),
                mesh_degree,
                connections: swarm.map_or(0, |s| s.connected_peers().count() as u32),
                wire: counters.get(p as usize).copied().unwrap_or_default(),
                isolated_s: isolated.get(p as usize).copied().unwrap_or(0.0),
                bytes_sent: sent,
                bytes_received: received,
            });
        }
        rows
    }

    /// GossipSub's Prometheus metrics of every peer (all incarnations), summed.
    pub fn prometheus_text(&self) -> String {
        let texts = self.prometheus_texts();
        crate::prom::aggregate(texts.iter().map(String::as_str), self.engine.nodes.len())
    }

    /// Every peer's Prometheus metrics (all incarnations), one text each.
    fn prometheus_texts(&self) -> Vec<String> {
        let mut texts: Vec<String> = Vec::new();
        for p in &self.engine.nodes {
            texts.extend(p.metrics_history.iter().cloned());
            if let Some(r) = &p.registry {
                texts.push(crate::prom::encode(r));
            }
        }
        texts
    }

    /// Ends the run: records final meshes into the trace and summarises.
    pub fn finish(self) -> RunSummary {
        self.finish_with(true)
    }

    /// Like [`Sim::finish`]; with `teardown = false` the network (every
    /// swarm, connection and stream) is not freed but left to the process's
    /// exit. Freeing 10,000 swarms' small allocations costs about 2 s: worth
    /// skipping in a process that exits after one run, never in a sweep.
    pub fn finish_with(mut self, teardown: bool) -> RunSummary {
        let summary = self.summarise();
        if !teardown {
            std::mem::forget(self);
        }
        summary
    }

    /// Records every final mesh into the trace (peers simulated here) and
    /// returns the mesh sizes of their live subscribed peers.
    fn record_final_meshes(&mut self) -> Vec<u32> {
        let mut degrees = Vec::new();
        for t in 0..self.driver.spec.workload.topics as usize {
            let subs: BTreeSet<u32> = self.driver.subscribers[t].iter().copied().collect();
            for p in 0..self.driver.spec.peers {
                if self.engine.nodes[p as usize].is_remote() {
                    continue;
                }
                let mesh = self.mesh(p, t);
                if subs.contains(&p) && self.engine.nodes[p as usize].is_up() {
                    degrees.push(mesh.len() as u32);
                }
                let mut c = self.driver.collector.borrow_mut();
                for m in mesh {
                    c.record(Rec::Mesh, (u64::from(p) << 32) | t as u64, u64::from(m));
                }
            }
        }
        degrees
    }

    /// The dialers' counters (dials, failures, given up, learned by PX) of
    /// the peers' current incarnations.
    fn dialer_counts(&self) -> [u64; 4] {
        let mut dialer = [0u64; 4];
        for node in &self.engine.nodes {
            if let Some(d) = node
                .swarm
                .as_ref()
                .and_then(|s| s.behaviour().dialer.as_ref())
            {
                dialer[0] += d.stats.dials;
                dialer[1] += d.stats.failures;
                dialer[2] += d.stats.given_up;
                dialer[3] += d.stats.px_learned;
            }
        }
        dialer
    }

    fn summarise(&mut self) -> RunSummary {
        let degrees = self.record_final_meshes();
        let bytes_sent: Vec<u64> =
            sim::world::with(|w| w.nodes.iter().map(|n| n.bytes_sent).collect());
        let c = self.driver.collector.borrow();
        let mut summary = RunSummary::build(
            &self.driver.spec,
            self.seed,
            &c,
            &degrees,
            &bytes_sent,
            self.engine.stats,
            self.initial_components,
            self.engine.now_ns(),
        );
        set_dialer_counts(&mut summary, self.dialer_counts());
        let forged = self.forged.get();
        summary.forged_ihave_ids = forged.fake_ihave_ids;
        summary.forged_grafts = forged.backoff_grafts;
        summary
    }
}

/// Puts the dialers' counters (see `Sim::dialer_counts`) into `summary`.
fn set_dialer_counts(summary: &mut RunSummary, d: [u64; 4]) {
    summary.dialer_dials = d[0];
    summary.dialer_failures = d[1];
    summary.dialer_given_up = d[2];
    summary.dialer_px_learned = d[3];
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

/// One peer at the end of a run (`peers.csv`).
#[derive(Clone, Debug, Default)]
pub struct PeerRow {
    /// Class name (empty without classes).
    pub class: String,
    /// Region name (empty without regions).
    pub region: String,
    /// Up at the end?
    pub up: bool,
    /// Mesh size on topic 0 at the end.
    pub mesh_degree: u32,
    /// Connections at the end.
    pub connections: u32,
    /// Seconds it spent without mesh peers on topic 0 while up (sampled).
    pub isolated_s: f64,
    /// Wire counters.
    pub wire: crate::collector::PeerCounters,
    /// Bytes written on all substreams (GossipSub, negotiation, history).
    pub bytes_sent: u64,
    /// Bytes delivered to it on all substreams.
    pub bytes_received: u64,
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
    /// Write the event trace as JSON Lines to this file (atomically, at the end).
    pub trace: Option<std::path::PathBuf>,
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
    let trace_tmp = opts
        .trace
        .as_ref()
        .map(|p| p.with_extension(format!("tmp-{}", std::process::id())));
    let trace_file = match &trace_tmp {
        Some(p) => Some(std::fs::File::create(p).map_err(|e| {
            RunFailure::Output(format!("cannot write the trace {}: {e}", p.display()))
        })?),
        None => None,
    };
    let out = sim::runner::run_on_sim_thread(seed, spec.net_config(), entropy, move || {
        if no_memo {
            sim::clock::set_memo(false);
        }
        let mut s = Sim::new(&spec2, seed);
        s.engine.set_progress(progress);
        if let Some(f) = trace_file {
            s.driver
                .collector
                .borrow_mut()
                .trace_to(Box::new(std::io::BufWriter::new(f)));
        }
        s.run_until_s(duration)?;
        let collector = s.driver.collector.clone();
        let metrics_prom = spec2.measure.prometheus.then(|| s.prometheus_text());
        let peer_rows = s.peer_rows();
        let summary = s.finish_with(!skip_teardown);
        let mut c = collector.borrow_mut();
        // Flush and close the trace before the file is renamed.
        c.trace_out_finish();
        Ok::<_, sim::RunError>(RunOutput {
            summary,
            samples: std::mem::take(&mut c.samples),
            messages: std::mem::take(&mut c.messages),
            deliveries: c.deliveries.take(),
            metrics_prom,
            peers: peer_rows,
            peer_samples: std::mem::take(&mut c.peer_samples),
        })
    })
    .map_err(RunFailure::Panic)?;
    let (output, report) = out;
    let mut output = output?;
    if let (Some(tmp), Some(dst)) = (&trace_tmp, &opts.trace) {
        std::fs::rename(tmp, dst).map_err(|e| {
            RunFailure::Output(format!("cannot write the trace {}: {e}", dst.display()))
        })?;
    }
    output.summary.entropy_served = report.entropy.served;
    output.summary.entropy_os_fallbacks = report.entropy.os_fallbacks;
    output.summary.memo_hits = report.memo.hits;
    output.summary.memo_misses = report.memo.misses;
    Ok(output)
}

/// What one partition of a partitioned run hands back.
struct PartOut {
    collector: Collector,
    degrees: Vec<u32>,
    bytes_sent: Vec<u64>,
    rows: Vec<PeerRow>,
    stats: sim::EngineStats,
    dialer: [u64; 4],
    now_ns: u64,
    initial_components: usize,
    samples_len: usize,
    prometheus: Vec<String>,
    scored: Vec<crate::scores::ScoredPeer>,
    forged: crate::adversary::ForgedCounts,
    /// Whether its trace records were all written (when the run writes a trace).
    trace_written: Result<(), String>,
}

/// Runs `spec` split into `spec.partitions` partitions, one thread each
/// (see [`sim::runner::run_partitions`]), and merges what they measured.
fn run_partitioned(
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
    let trace_files = match &opts.trace {
        Some(dst) => Some(std::sync::Arc::new(
            crate::trace::PartTraceFiles::create(dst, parts).map_err(|e| {
                RunFailure::Output(format!("cannot write the trace {}: {e}", dst.display()))
            })?,
        )),
        None => None,
    };
    let files = trace_files.clone();
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
            if let Some(f) = files.as_ref().and_then(|f| f.take(k)) {
                s.driver
                    .collector
                    .borrow_mut()
                    .trace_records_to(Box::new(std::io::BufWriter::new(f)));
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
            let trace_written = collector.trace_records_finish();
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
    if let (Some(files), Some(dst)) = (&trace_files, &opts.trace) {
        let cannot = |e: String| {
            RunFailure::Output(format!("cannot write the trace {}: {e}", dst.display()))
        };
        for o in &mut outs {
            std::mem::replace(&mut o.trace_written, Ok(())).map_err(cannot)?;
        }
        files.merge().map_err(|e| cannot(e.to_string()))?;
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

#[cfg(test)]
mod tests {
    use super::Overlaps;
    use sim::world::LinkCondition;

    fn cond(ms: u64, loss: f64, bandwidth_factor: f64) -> LinkCondition {
        LinkCondition {
            extra_latency_ns: ms * sim::MS,
            loss,
            bandwidth_factor,
        }
    }

    #[test]
    fn one_degradation_at_a_time_is_applied_exactly_as_given() {
        // Bit for bit, so that timelines without overlaps run as before.
        let mut o = Overlaps::new(vec![true; 2]);
        let c = cond(300, 0.1, 0.3);
        assert_eq!(o.degrade(1, 4, Some(c)), Some(c));
        assert_eq!(o.degrade(1, 4, None), None);
        assert_eq!(
            o.degrade(1, 7, Some(cond(5, 0.07, 1.0))),
            Some(cond(5, 0.07, 1.0))
        );
    }

    #[test]
    fn overlapping_degradations_stack_and_each_end_removes_only_its_own() {
        let mut o = Overlaps::new(vec![true; 3]);
        o.degrade(2, 0, Some(cond(500, 0.5, 0.5)));
        let both = o.degrade(2, 1, Some(cond(200, 0.2, 0.5))).unwrap();
        assert_eq!(both.extra_latency_ns, 700 * sim::MS);
        assert!((both.loss - 0.6).abs() < 1e-12, "{}", both.loss);
        assert_eq!(both.bandwidth_factor, 0.25);
        // An inner entry of nothing at all changes nothing, and its end neither.
        assert_eq!(o.degrade(2, 2, Some(cond(0, 0.0, 1.0))), Some(both));
        assert_eq!(o.degrade(2, 2, None), Some(both));
        // The outer one ends first: the inner one stays.
        assert_eq!(o.degrade(2, 0, None), Some(cond(200, 0.2, 0.5)));
        assert_eq!(o.degrade(2, 1, None), None);
        // Other peers untouched throughout.
        assert_eq!(o.degrade(0, 9, None), None);
    }

    #[test]
    fn offline_and_vanish_intervals_count_their_cover() {
        let mut o = Overlaps::new(vec![true, false]);
        assert!(o.offline_starts(0), "the first interval takes it down");
        assert!(!o.offline_starts(0), "already down");
        assert!(!o.offline_ends(0), "still covered");
        assert!(o.offline_ends(0), "the last end brings it back");
        assert!(!o.vanish(0, true));
        assert!(!o.vanish(0, true));
        assert!(!o.vanish(0, false), "still covered");
        assert!(o.vanish(0, false), "reachable again");
        // A peer that accepts no inbound connection stays unreachable.
        assert!(!o.vanish(1, true));
        assert!(!o.vanish(1, false));
    }
}
