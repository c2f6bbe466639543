//! Building a scenario: peers, classes, regions, topology, templates,
//! subscriptions, workload and the scheduled actions.

use super::{
    actions::{schedule_timeline, Action, Overlaps},
    driver::Driver,
    Sim,
};
use crate::collector::Collector;
use crate::peer::{self, Peer, PeerTemplate};
use crate::spec::{ms_to_ns, ClassSpec, Experiment, TimelineEvent};
use crate::topology;
use libp2p_gossipsub::{IdentTopic, TopicHash};
use libp2p_identity::PeerId;
use rand::RngExt;
use sim::{Engine, Limits, SEC};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

impl Sim {
    /// Builds the scenario on the current simulation thread (see
    /// [`sim::runner::run_on_sim_thread`]), all of it on this thread
    /// (whatever `spec.partitions` says).
    pub fn new(spec: &Experiment, seed: u64) -> Sim {
        Sim::new_part(spec, seed, None)
    }

    /// Builds partition `part` of `spec.partitions` of the scenario, or all
    /// of it with `None` (see [`super::run_with`]). A partition holds every
    /// peer, but only its own run (peers in contiguous index blocks); the
    /// others are [`Peer::remote`].
    ///
    /// The steps run in a fixed order: every seeded stream is drawn, and
    /// every swarm and hash map is created, in the same order in every run.
    pub fn new_part(spec: &Experiment, seed: u64, part: Option<u16>) -> Sim {
        let b = Build::new(spec, seed);
        let keys: Vec<_> = (0..b.n)
            .map(|i| peer::keypair_for(&spec.gossipsub, &b.seeds, i))
            .collect();
        let peer_ids: Vec<PeerId> = keys.iter().map(|k| PeerId::from(k.public())).collect();
        let regions = b.regions();
        b.add_nodes(&peer_ids, regions.as_deref());
        if let Some(k) = part {
            b.set_partitioning(k);
        }
        // Topology (drawn before the peers exist: the dialer's address books need it).
        let (graph, neighbours) = b.initial_graph();
        let initial_components = topology::components(&graph);
        let books = Rc::new(b.address_books(&neighbours, &peer_ids));
        let directory = b.directory(&peer_ids);
        let topic_hashes: Vec<TopicHash> = (0..spec.workload.topics)
            .map(|t| IdentTopic::new(format!("meshsim-topic-{t}")).hash())
            .collect();
        let templates = b.templates(&topic_hashes, &books, &directory);
        let collector = Rc::new(RefCell::new(Collector::new(&peer_ids)));
        if part.is_some() && spec.history.enabled {
            collector.borrow_mut().history.keep_root_log();
        }
        if spec.measure.wire {
            sim::world::with(|w| w.set_tap(Box::new(Tap(collector.clone()))));
        }
        let forged = Rc::new(std::cell::Cell::new(Default::default()));
        b.install_adversaries(&topic_hashes, &forged);
        let mut engine = Engine::new(Limits {
            max_events: spec.limits.max_events,
            ..Limits::default()
        });
        engine.reserve(keys.len());
        for (i, k) in keys.into_iter().enumerate() {
            let t = templates[b.class_of[i] as usize % templates.len()].clone();
            let local = sim::world::with(|w| w.is_local(i as u32));
            engine.add_node(if local {
                Peer::new(i as u32, k, t, collector.clone())
            } else {
                Peer::remote(i as u32, k, t, collector.clone())
            });
        }
        b.set_validation_delays(&mut engine, &topic_hashes);
        let topics: Vec<IdentTopic> = (0..spec.workload.topics)
            .map(|t| IdentTopic::new(format!("meshsim-topic-{t}")))
            .collect();
        let subscribers = b.subscribe(&mut engine, &topics);
        if let Some(subs) = subscribers.first() {
            let mut c = collector.borrow_mut();
            c.subscribed0 = vec![false; b.n as usize];
            for &p in subs {
                c.subscribed0[p as usize] = true;
            }
        }
        let probes = b.probes(&subscribers);
        collector.borrow_mut().probe_peers = probes.iter().copied().collect();
        let mut wl_rng = b.seeds.stream("workload");
        let publishers = b.publishers(&mut wl_rng);
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
            dial_rng: b.seeds.stream("redials"),
            partitioned: part.map(|_| b.seeds),
            overlaps: Overlaps::new((0..b.n).map(|p| b.accepts(p)).collect()),
            seeds: b.seeds,
        };
        b.schedule_initial_dials(&graph, &mut driver, &mut engine);
        b.schedule_periodic(&mut driver, &mut engine);
        b.schedule_timeline_and_churn(&mut driver, &engine);
        b.schedule_spammers(&mut driver, &mut engine);
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
}

/// What building a scenario needs at every step: the experiment, the
/// run's seeds and each peer's class.
struct Build<'a> {
    spec: &'a Experiment,
    seeds: sim::Seeds,
    n: u32,
    /// Class index of each peer: contiguous index ranges in class order.
    class_of: Vec<u16>,
}

impl<'a> Build<'a> {
    fn new(spec: &'a Experiment, seed: u64) -> Build<'a> {
        let n = spec.peers;
        let counts = crate::spec::class_counts(&spec.classes, n);
        let mut class_of: Vec<u16> = Vec::with_capacity(n as usize);
        for (c, &k) in counts.iter().enumerate() {
            class_of.extend(std::iter::repeat_n(c as u16, k as usize));
        }
        class_of.resize(n as usize, 0);
        Build {
            spec,
            seeds: sim::Seeds::new(seed),
            n,
            class_of,
        }
    }

    /// Peer `p`'s class, if the experiment has classes.
    fn class(&self, p: u32) -> Option<&'a ClassSpec> {
        self.spec.classes.get(self.class_of[p as usize] as usize)
    }

    /// Whether peer `p` accepts inbound connections.
    fn accepts(&self, p: u32) -> bool {
        self.class(p).is_none_or(|c| c.accepts_inbound)
    }

    /// Each peer's region: pinned by its class, else drawn by weight.
    fn regions(&self) -> Option<Vec<u16>> {
        let r = self.spec.network.regions.as_ref()?;
        let (names, weights, _) = r.table();
        let total: f64 = weights.iter().sum();
        let mut rng = self.seeds.stream("regions");
        Some(
            (0..self.n)
                .map(|p| {
                    if let Some(name) = self.class(p).and_then(|c| c.region.as_ref()) {
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
                .collect(),
        )
    }

    /// Adds every peer to the world: address (shared by a `shared_ip`
    /// class), class, region, bandwidth and reachability.
    fn add_nodes(&self, peer_ids: &[PeerId], regions: Option<&[u16]>) {
        sim::world::with(|w| {
            // Classes with `shared_ip`: every peer on the IP of the class's first peer.
            let mut shared: std::collections::BTreeMap<u16, (std::net::Ipv4Addr, u16)> =
                std::collections::BTreeMap::new();
            for (i, p) in peer_ids.iter().enumerate() {
                let c = self.class_of[i];
                let idx = match self.spec.classes.get(c as usize).filter(|cs| cs.shared_ip) {
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
                w.nodes[idx as usize].region = regions.map(|r| r[i]);
                if let Some(cs) = self.spec.classes.get(c as usize) {
                    let bps = |m: Option<f64>| m.map(|m| (m * 1e6).round().max(1.0) as u64);
                    w.set_bandwidth(idx, bps(cs.upload_mbps), bps(cs.download_mbps));
                    if !cs.accepts_inbound {
                        // No public address: dials to it get no answer.
                        w.set_reachable(idx, false);
                    }
                }
            }
        });
    }

    /// Makes this world partition `k`: peers in contiguous index blocks.
    fn set_partitioning(&self, k: u16) {
        let (n, parts) = (self.n, self.spec.partitions.max(1));
        let owner: Vec<u16> = (0..u64::from(n))
            .map(|i| (i * u64::from(parts) / u64::from(n)) as u16)
            .collect();
        sim::world::with(|w| w.set_partitioning(k, parts, owner));
    }

    /// The initial graph and each peer's initial neighbours (sorted).
    fn initial_graph(&self) -> (topology::Topology, Vec<Vec<u32>>) {
        let (spec, n) = (self.spec, self.n);
        let hubs: Vec<u32> = match &spec.topology.hub_class {
            Some(h) => (0..n)
                .filter(|&p| self.class(p).is_some_and(|c| &c.name == h))
                .collect(),
            None => (0..n)
                .filter(|&p| self.accepts(p) && !spec.classes.is_empty())
                .collect(),
        };
        let mut topo_rng = self.seeds.stream("topology");
        let graph = topology::build(&spec.topology, n, &hubs, &mut topo_rng);
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
        (graph, neighbours)
    }

    /// The dialer's address books: initial neighbours that accept inbound,
    /// plus random others (empty without the dialer).
    fn address_books(&self, neighbours: &[Vec<u32>], peer_ids: &[PeerId]) -> Vec<AddressBook> {
        if !self.spec.dialer.enabled {
            return Vec::new();
        }
        let mut rng = self.seeds.stream("dialer");
        let listeners: Vec<u32> = (0..self.n).filter(|&p| self.accepts(p)).collect();
        (0..self.n)
            .map(|p| {
                let mut set: BTreeSet<u32> = neighbours[p as usize]
                    .iter()
                    .copied()
                    .filter(|&q| self.accepts(q))
                    .collect();
                let extra = self.spec.dialer.bootstrap_peers as usize;
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
    }

    /// What a peer store would know: every listening peer's address (for PX dials).
    fn directory(&self, peer_ids: &[PeerId]) -> crate::dialer::Directory {
        let mut d: AddressBook = (0..self.n)
            .filter(|&q| self.accepts(q))
            .map(|q| (peer_ids[q as usize], sim::transport::node_addr(q)))
            .collect();
        d.sort_by_key(|x| x.0);
        std::sync::Arc::new(d)
    }

    /// `[scoring]` with class `c`'s overrides.
    fn class_scoring(&self, c: Option<&ClassSpec>) -> crate::spec::ScoringSpec {
        match c.and_then(|c| c.scoring.as_ref()) {
            Some(over) => self.spec.scoring.merged(over),
            None => self.spec.scoring.clone(),
        }
    }

    /// One peer template per class: its GossipSub configuration (built
    /// once), scoring, behaviour, and whether it listens.
    fn templates(
        &self,
        topic_hashes: &[TopicHash],
        books: &Rc<Vec<AddressBook>>,
        directory: &crate::dialer::Directory,
    ) -> Vec<Rc<PeerTemplate>> {
        let spec = self.spec;
        // Scoring or adversarial behaviours: every peer validates messages.
        let validate_all = spec.scoring.enabled()
            || spec.classes.iter().any(|c| {
                c.behaviour.needs_validation()
                    || self.class_scoring(Some(c)).enabled()
                    || c.validation_delay_ms > 0.0
            });
        (0..spec.classes.len().max(1))
            .map(|c| {
                let class = spec.classes.get(c);
                let g = match class.and_then(|c| c.gossipsub.as_ref()) {
                    Some(over) => spec.gossipsub.merged(over),
                    None => spec.gossipsub.clone(),
                };
                if validate_all && !spec.history.enabled {
                    // Each build of the crate's configuration creates hash
                    // maps, and each advances this thread's seeded hash keys
                    // (std's `RandomState`), which GossipSub's own maps then
                    // take. Runs with validation but no history have always
                    // built it once without validation first; doing so still
                    // keeps their trace hashes as they were.
                    let _ = g.to_config(false);
                }
                let cfg = g
                    .to_config(spec.history.enabled || validate_all)
                    .expect("validated configuration");
                let mut t = PeerTemplate::new(&g, cfg, &spec.history, self.seeds);
                t.listen = class.is_none_or(|c| c.accepts_inbound);
                t.class = c as u16;
                t.behaviour = class.map(|c| c.behaviour).unwrap_or_default();
                t.score = self.class_scoring(class).build(topic_hashes);
                t.validate = validate_all;
                t.prometheus = spec.measure.prometheus;
                t.partial = spec
                    .workload
                    .partial()
                    .map(|p| p.layout(spec.workload.message_bytes));
                t.partial_requests =
                    class.is_none_or(|c| c.partial == crate::spec::PartialMode::Request);
                t.dialer = spec.dialer.enabled.then(|| spec.dialer.clone());
                t.books = books.clone();
                t.directory = directory.clone();
                Rc::new(t)
            })
            .collect()
    }

    /// Wire-level adversaries (broken promises, GRAFTs during a backoff).
    fn install_adversaries(
        &self,
        topic_hashes: &[TopicHash],
        forged: &Rc<std::cell::Cell<crate::adversary::ForgedCounts>>,
    ) {
        let attacks: Vec<_> = (0..self.n)
            .map(|p| {
                self.class(p)
                    .and_then(|c| crate::adversary::Attack::of(c.behaviour))
            })
            .collect();
        if attacks.iter().any(Option::is_some) {
            let rates: Vec<f64> = (0..self.n)
                .map(|p| self.class(p).map_or(0.0, |c| c.spam_rate_per_s))
                .collect();
            let topics = topic_hashes.iter().map(|h| h.as_str().to_owned()).collect();
            let filter =
                crate::adversary::WireAdversary::new(attacks, &rates, topics, forged.clone());
            sim::world::with(|w| w.set_filter(Box::new(filter)));
        }
    }

    /// Honest-but-slow classes: a validation delay on every workload topic.
    fn set_validation_delays(&self, engine: &mut Engine<Peer>, topic_hashes: &[TopicHash]) {
        for p in 0..self.n {
            let delay = self.class(p).map_or(0.0, |c| c.validation_delay_ms);
            if delay > 0.0 {
                for h in topic_hashes {
                    engine.nodes[p as usize]
                        .validation_delays
                        .insert(h.to_string(), ms_to_ns(delay));
                }
            }
        }
    }

    /// Draws each topic's subscribers and subscribes the local ones.
    fn subscribe(&self, engine: &mut Engine<Peer>, topics: &[IdentTopic]) -> Vec<Vec<u32>> {
        let (share, n) = (self.spec.workload.subscribe_share, self.n);
        let mut sub_rng = self.seeds.stream("subscriptions");
        let mut subscribers = Vec::new();
        for t in topics {
            let mut subs: Vec<u32> = (0..n)
                .filter(|_| share >= 1.0 || sub_rng.random_bool(share))
                .collect();
            if subs.is_empty() {
                subs.push(sub_rng.random_range(0..n));
            }
            for &p in &subs {
                if engine.nodes[p as usize].is_remote() {
                    continue;
                }
                engine.nodes[p as usize].subscribe_topic(t);
            }
            subscribers.push(subs);
        }
        subscribers
    }

    /// Health-check probes: subscribers of topic 0 drawn at random; they
    /// publish on topic 0 (so every subscriber relays) and only their
    /// receipt is measured.
    fn probes(&self, subscribers: &[Vec<u32>]) -> Vec<u32> {
        if self.spec.probes.count == 0 {
            return Vec::new();
        }
        let mut rng = self.seeds.stream("probes");
        let mut all: Vec<u32> = subscribers[0].clone();
        rand::seq::SliceRandom::shuffle(all.as_mut_slice(), &mut rng);
        let mut probes: Vec<u32> = all
            .into_iter()
            .take(self.spec.probes.count as usize)
            .collect();
        probes.sort_unstable();
        probes
    }

    /// The publishers: every peer that is not silent, or `workload.publishers` drawn at random.
    fn publishers(&self, wl_rng: &mut sim::SimRng) -> Vec<u32> {
        let silent = |p: u32| {
            self.class(p)
                .is_some_and(|c| c.behaviour == crate::spec::PeerBehaviourKind::Silent)
        };
        match self.spec.workload.publishers {
            None => (0..self.n).filter(|&p| !silent(p)).collect(),
            Some(k) => {
                let mut all: Vec<u32> = (0..self.n).collect();
                rand::seq::SliceRandom::shuffle(all.as_mut_slice(), wl_rng);
                let mut p: Vec<u32> = all.into_iter().take(k as usize).collect();
                p.sort_unstable();
                p
            }
        }
    }

    /// The initial dials: each edge in a seeded direction (a peer that
    /// accepts no inbound connection always dials), at a seeded time
    /// within the stagger window.
    fn schedule_initial_dials(
        &self,
        graph: &topology::Topology,
        driver: &mut Driver,
        engine: &mut Engine<Peer>,
    ) {
        let mut dial_rng = self.seeds.stream("dials");
        let stagger = ms_to_ns(self.spec.topology.dial_stagger_ms);
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
            let (from, to) = match (self.accepts(from), self.accepts(to)) {
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
    }

    /// The first sample, probe round and publish, and the test fault hook.
    fn schedule_periodic(&self, driver: &mut Driver, engine: &mut Engine<Peer>) {
        let spec = self.spec;
        if spec.measure.sample_interval_ms > 0 {
            let tag = driver.push(Action::Sample);
            engine.schedule_app(
                spec.measure.sample_interval_ms.saturating_mul(sim::MS),
                None,
                tag,
            );
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
    }

    /// The timeline's actions. Churn drawn from distributions becomes
    /// offline events, placed first so that `count`-based events of the
    /// file draw among the other peers.
    fn schedule_timeline_and_churn(&self, driver: &mut Driver, engine: &Engine<Peer>) {
        let spec = self.spec;
        let explicit: Vec<u32> = spec
            .timeline
            .iter()
            .flat_map(|e| match e {
                TimelineEvent::Offline { peers, .. } => peers.clone(),
                _ => Vec::new(),
            })
            .collect();
        let churn_events = spec.churn.expand(
            self.n,
            spec.duration_s,
            &explicit,
            &mut self.seeds.stream("churn-sessions"),
        );
        if churn_events.is_empty() {
            schedule_timeline(spec, &self.seeds, driver, engine);
        } else {
            let mut with_churn = spec.clone();
            with_churn.timeline = churn_events
                .into_iter()
                .chain(spec.timeline.iter().cloned())
                .collect();
            schedule_timeline(&with_churn, &self.seeds, driver, engine);
        }
    }

    /// Invalid-message spammers: each starts at a seeded offset within its interval.
    fn schedule_spammers(&self, driver: &mut Driver, engine: &mut Engine<Peer>) {
        let mut spam_rng = self.seeds.stream("spam");
        for p in 0..self.n {
            let Some(c) = self.class(p) else {
                continue;
            };
            if c.behaviour != crate::spec::PeerBehaviourKind::InvalidSpammer
                || c.spam_rate_per_s <= 0.0
            {
                continue;
            }
            let every_ns = (SEC as f64 / c.spam_rate_per_s).round().max(1.0) as u64;
            let at = driver
                .next_publish_ns
                .saturating_add(spam_rng.random_range(0..every_ns));
            if at <= driver.publish_until_ns {
                let tag = driver.push(Action::Spam { peer: p, every_ns });
                engine.schedule_app(at, None, tag);
            }
        }
    }
}

/// A dialer's address book: peers and their addresses.
type AddressBook = Vec<(PeerId, libp2p_core::Multiaddr)>;

pub(super) struct Tap(Rc<RefCell<Collector>>);

impl sim::world::WireTap for Tap {
    fn on_write(&mut self, from: u32, to: u32, stream: u64, _at: u64, bytes: &[u8]) {
        self.0.borrow_mut().on_wire(from, to, stream, bytes);
    }
}
