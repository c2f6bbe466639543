//! The scenario side of the event loop: publishing, dials, peers going
//! down and up, partitions, samples.

use super::actions::{Action, Overlaps};
use crate::collector::{Collector, MsgRecord};
use crate::peer::Peer;
use crate::spec::{ms_to_ns, Experiment};
use crate::trace::{action, Rec};
use libp2p_gossipsub::IdentTopic;
use libp2p_identity::PeerId;
use libp2p_swarm::dial_opts::DialOpts;
use rand::RngExt;
use sim::{AppHandler, Engine, SimRng, SEC};
use std::cell::RefCell;
use std::rc::Rc;

/// The scenario side of the event loop.
pub struct Driver {
    pub(super) actions: Vec<Action>,
    /// The experiment.
    pub spec: Experiment,
    /// Shared measurements.
    pub collector: Rc<RefCell<Collector>>,
    /// Topics, by index.
    pub topics: Vec<IdentTopic>,
    /// Subscribers of each topic.
    pub subscribers: Vec<Vec<u32>>,
    pub(super) publishers: Vec<u32>,
    /// Health-check probe peers.
    pub probes: Vec<u32>,
    pub(super) workload_rng: SimRng,
    pub(super) next_publish_ns: u64,
    pub(super) publish_until_ns: u64,
    pub(super) peer_ids: Vec<PeerId>,
    /// Initial neighbours of each peer, sorted.
    pub(super) neighbours: Vec<Vec<u32>>,
    /// Pairs cut by the current partition, to redial when it heals.
    pub(super) cut_pairs: Vec<(u32, u32)>,
    pub(super) dial_rng: SimRng,
    /// In a partitioned run: the run's seeds (redials after a healed
    /// partition draw their direction per pair, the same in every partition).
    pub(super) partitioned: Option<sim::Seeds>,
    /// The timeline's intervals in force on each peer.
    pub(super) overlaps: Overlaps,
    /// The run's seeds.
    pub(super) seeds: sim::Seeds,
}

impl Driver {
    pub(super) fn publish_next(&mut self, engine: &mut Engine<Peer>) {
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
            // Saturating: a rate so low that the next message comes after
            // the end (or after u64::MAX ns) publishes no more.
            let gap = (SEC as f64 / rate).round().clamp(1.0, u64::MAX as f64) as u64;
            self.next_publish_ns = self.next_publish_ns.saturating_add(gap);
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
        let rec = MsgRecord::new(publisher, topic as u32, now, probe);
        let seq = self.collector.borrow_mut().on_publish_to(rec, &expected);
        if !probe && self.spec.workload.partial().is_some() {
            self.publish_partial(engine, publisher, topic, seq, &expected);
            return seq;
        }
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

    pub(super) fn probe_round(&mut self, engine: &mut Engine<Peer>) {
        let probes = self.probes.clone();
        for p in probes {
            if engine.nodes[p as usize].is_up() {
                self.publish_sized(engine, p, 0, self.spec.probes.message_bytes, true);
            }
        }
        let next = engine
            .now_ns()
            .saturating_add(self.spec.probes.interval_ms.saturating_mul(sim::MS));
        if next <= self.publish_until_ns {
            let tag = self.push(Action::Probe);
            engine.schedule_app(next, None, tag);
        }
    }

    pub(super) fn push(&mut self, a: Action) -> u64 {
        self.actions.push(a);
        (self.actions.len() - 1) as u64
    }

    pub(super) fn dial(&mut self, engine: &mut Engine<Peer>, from: u32, to: u32) {
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

    pub(super) fn down(&mut self, engine: &mut Engine<Peer>, peer: u32, graceful: bool) {
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

    pub(super) fn up(&mut self, engine: &mut Engine<Peer>, peer: u32, redial: Option<u32>) {
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
                node.subscribe_topic(&self.topics[t]);
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

    pub(super) fn partition_start(&mut self, engine: &mut Engine<Peer>, in_a: Vec<bool>) {
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

    pub(super) fn partition_heal(&mut self, engine: &mut Engine<Peer>) {
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
                let next = now
                    .saturating_add(self.spec.measure.sample_interval_ms.saturating_mul(sim::MS));
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
                let next = engine.now_ns().saturating_add(every_ns);
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
pub(super) fn graylist_threshold(spec: &Experiment) -> Option<f64> {
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

pub(super) fn class_names(spec: &Experiment) -> Vec<String> {
    spec.classes.iter().map(|c| c.name.clone()).collect()
}
