//! Runs a libp2p test-plans `gossipsub-interop` experiment (its script,
//! compiled to timed operations per node, and its Shadow network graph) on
//! meshsim's peers. The files are read by the `meshsim` CLI
//! (`experiments/src/interop.rs`); this module executes the result.
//!
//! Every node runs the script of the reference rust-libp2p node: keys from
//! the node id ([`crate::peer::test_plans_keypair`]), anonymous messages
//! whose id is the payload's first 8 bytes, a payload of the requested size
//! holding the message id big-endian in its first 8 bytes, and application
//! validation (`validate_messages`) that accepts every message, after the
//! topic's validation delay when one is set.

use crate::collector::MsgRecord;
use crate::scenario::{RunFailure, RunOutput, Sim};
use crate::spec::{Experiment, GossipsubSpec};
use libp2p_gossipsub::IdentTopic;
use sim::EntropyMode;
use std::collections::BTreeMap;

/// What a node does at a point of its script.
#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    /// Dial node `to`.
    Connect(u32),
    /// Subscribe to topic `topic` (an index into [`Scenario::topics`]).
    Subscribe(usize),
    /// Publish message `id` of `size` bytes on topic `topic`.
    Publish {
        /// The test-plans message id.
        id: u64,
        /// Payload size, bytes (at least 8).
        size: usize,
        /// Topic index.
        topic: usize,
    },
    /// Subscribe to topic `topic` with partial messages enabled on it
    /// (`subscribeToTopic` with `partial: true`): the node supports them,
    /// and requests them when `requests`.
    SubscribePartial {
        /// Topic index.
        topic: usize,
        /// Requests partial messages (else only supports them).
        requests: bool,
    },
    /// Hold the parts of bitmap `bits` of group `group` on topic `topic`
    /// (`addPartialMessage`; replaces what the node held of the group).
    AddParts {
        /// Topic index.
        topic: usize,
        /// Group id.
        group: u64,
        /// Bitmap of the parts, in the scenario's [`Scenario::layout`].
        bits: Vec<u8>,
    },
    /// Offer what the node holds of group `group` on topic `topic` to the
    /// topic's peers (`publishPartial`).
    PublishParts {
        /// Topic index.
        topic: usize,
        /// Group id.
        group: u64,
    },
    /// From now on, accept messages of topic `topic` only after `delay_ns`.
    ValidationDelay {
        /// Topic index.
        topic: usize,
        /// Delay, nanoseconds.
        delay_ns: u64,
    },
}

/// One operation of one node at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// When, ns since the start.
    pub at_ns: u64,
    /// The node.
    pub node: u32,
    /// What.
    pub kind: OpKind,
}

/// A graph node's link properties for one pair of hosts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairLink {
    /// One-way latency, ns.
    pub latency_ns: u64,
    /// Loss probability per write.
    pub loss: f64,
}

/// A compiled interop experiment.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name (used for the run id).
    pub name: String,
    /// Nodes 0..nodes-1.
    pub nodes: u32,
    /// Topic names, by index.
    pub topics: Vec<String>,
    /// Operations, sorted by time (then node, then script order).
    pub ops: Vec<Op>,
    /// Per node: its GossipSub settings (from its `initGossipSub`), without the interop base.
    pub configs: Vec<GossipsubSpec>,
    /// Per node: (upload, download) bits per second; `None`: unlimited.
    pub bandwidth: Vec<(Option<u64>, Option<u64>)>,
    /// Latency and loss of every pair of nodes that connect, keyed (low, high).
    pub links: BTreeMap<(u32, u32), PairLink>,
    /// Simulated seconds to run.
    pub duration_s: f64,
    /// How bytes cross the network (by default the `tcp` model with the
    /// `shadow` preset: what the framework's Shadow runs do).
    pub transport: crate::spec::TransportSpec,
    /// How partial messages are cut (the framework's 8 parts of 1,024
    /// bytes, [`Layout::TEST_PLANS`](crate::partial::Layout::TEST_PLANS)).
    pub layout: crate::partial::Layout,
}

/// The transport of interop runs unless told otherwise: the `tcp` model
/// with the `shadow` preset, so that results compare with the framework's
/// published Shadow runs.
pub fn shadow_transport() -> crate::spec::TransportSpec {
    crate::spec::TransportSpec {
        model: crate::spec::TransportModel::Tcp,
        preset: Some(crate::spec::TcpPreset::Shadow),
        ..crate::spec::TransportSpec::default()
    }
}

/// The GossipSub settings every test-plans rust node uses, under its own `initGossipSub`.
pub fn base_gossipsub() -> GossipsubSpec {
    GossipsubSpec {
        signing: Some(crate::spec::Signing::None),
        validation_mode: Some(crate::spec::ValidationModeSpec::Anonymous),
        identity: Some(crate::spec::IdentitySpec::TestPlans),
        message_id: Some(crate::spec::MessageIdSpec::First8),
        validate_messages: Some(true),
        max_transmit_size: Some(1 << 30),
        ..GossipsubSpec::default()
    }
}

impl Scenario {
    /// The end of the run, ns (events up to it, inclusive, are simulated).
    pub fn end_ns(&self) -> u64 {
        crate::spec::ms_to_ns(self.duration_s * 1000.0)
    }

    /// The largest one-way latency between two nodes that connect, ns (0 without connections).
    pub fn max_link_latency_ns(&self) -> u64 {
        self.links.values().map(|l| l.latency_ns).max().unwrap_or(0)
    }

    /// Whether the script uses partial messages.
    pub fn uses_partial(&self) -> bool {
        self.ops.iter().any(|o| {
            matches!(
                o.kind,
                OpKind::SubscribePartial { .. }
                    | OpKind::AddParts { .. }
                    | OpKind::PublishParts { .. }
            )
        })
    }

    /// Publishes of the script that come after the end (`general.stop_time`): not run.
    pub fn publishes_after_end(&self) -> usize {
        let end = self.end_ns();
        self.ops
            .iter()
            .filter(|o| o.at_ns > end && matches!(o.kind, OpKind::Publish { .. }))
            .count()
    }

    /// The meshsim experiment the peers are built from: one class per run of
    /// consecutive nodes with the same GossipSub settings, no initial
    /// topology, no workload (the script drives everything).
    pub fn experiment(&self) -> Experiment {
        let mut e = Experiment {
            name: self.name.clone(),
            peers: self.nodes,
            duration_s: self.duration_s,
            ..Experiment::default()
        };
        e.gossipsub = base_gossipsub();
        e.network.latency = crate::spec::LatencyModel::Constant { ms: 0.0 };
        e.network.transport = self.transport.clone();
        e.topology.kind = crate::spec::TopologyKind::Edges;
        e.topology.edges = Vec::new();
        e.topology.dial_stagger_ms = 0.0;
        e.workload.topics = 0;
        e.workload.rate_per_s = 0.0;
        e.workload.start_s = 0.0;
        e.workload.drain_s = 0.0;
        e.measure.deliveries = true;
        if self.uses_partial() {
            // The peers' partial-message layout (no message is published
            // by the workload: its rate is 0).
            e.workload.message_bytes = (self.layout.parts * self.layout.part_bytes) as usize;
            e.workload.partial = Some(crate::spec::PartialSpec {
                parts: self.layout.parts,
                eager: self.layout.eager,
                ..crate::spec::PartialSpec::default()
            });
        }
        let mut start = 0usize;
        while start < self.configs.len() {
            let mut end = start + 1;
            while end < self.configs.len() && self.configs[end] == self.configs[start] {
                end += 1;
            }
            let mut t = toml::Table::new();
            t.insert(
                "name".into(),
                toml::Value::String(format!("nodes{start}-{}", end - 1)),
            );
            t.insert("count".into(), toml::Value::Integer((end - start) as i64));
            let mut class: crate::spec::ClassSpec = toml::Value::Table(t)
                .try_into()
                .expect("a class needs only a name and a count");
            class.gossipsub = Some(self.configs[start].clone());
            e.classes.push(class);
            start = end;
        }
        if e.classes.len() == 1 {
            // One class for everyone: its settings are the experiment's.
            let c = e.classes.pop().expect("one class");
            e.gossipsub = e.gossipsub.merged(c.gossipsub.as_ref().expect("set"));
        }
        e
    }
}

/// The payload of test-plans message `id`: `size` bytes, the id big-endian first.
pub fn payload(id: u64, size: usize) -> Vec<u8> {
    let mut d = vec![0u8; size.max(8)];
    d[..8].copy_from_slice(&id.to_be_bytes());
    d
}

/// What an interop run measured: meshsim's usual output and the test-plans
/// message id of each published message (by sequence number).
#[derive(Clone, Debug, Default)]
pub struct InteropOutput {
    /// Summary, messages, deliveries, samples.
    pub run: RunOutput,
    /// Test-plans message id of message `seq` (the group id of a partial message).
    pub message_ids: Vec<u64>,
    /// Per node: groups it held every part of (from `addPartialMessage` or
    /// received parts): the framework's "All parts received" lines.
    pub partial_complete: Vec<u32>,
    /// Groups published (`publishPartial`) in the run.
    pub partial_groups: u32,
}

/// Runs the scenario with `seed` on a fresh simulation thread.
pub fn run(sc: &Scenario, seed: u64) -> Result<InteropOutput, RunFailure> {
    let spec = sc.experiment();
    let sc2 = sc.clone();
    let spec2 = spec.clone();
    // Its experiment has no class links or regions: the whole network
    // configuration is the [network] section's, with the codec's read hold.
    let out =
        sim::runner::run_on_sim_thread(seed, spec.net_config(), EntropyMode::Seeded, move || {
            run_here(&sc2, &spec2, seed)
        })
        .map_err(RunFailure::Panic)?;
    let (output, report) = out;
    let mut output = output?;
    output.run.summary.entropy_served = report.entropy.served;
    output.run.summary.entropy_os_fallbacks = report.entropy.os_fallbacks;
    output.run.summary.memo_hits = report.memo.hits;
    output.run.summary.memo_misses = report.memo.misses;
    Ok(output)
}

/// Connected components of the graph of `connect` instructions.
pub fn components(sc: &Scenario) -> usize {
    let mut parent: Vec<u32> = (0..sc.nodes).collect();
    fn root(p: &mut [u32], mut x: u32) -> u32 {
        while p[x as usize] != x {
            p[x as usize] = p[p[x as usize] as usize];
            x = p[x as usize];
        }
        x
    }
    let mut n = sc.nodes as usize;
    for &(a, b) in sc.links.keys() {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        if ra != rb {
            parent[ra as usize] = rb;
            n -= 1;
        }
    }
    n
}

/// Passes on to the collector's tap only the writes that reach their
/// receiver by the end of the run: a copy still in flight when the run ends
/// was not received, so it is neither a copy (nor a duplicate) in
/// `messages.csv` and `interop.csv` nor in the per-peer wire counters. A
/// stream's writes arrive in order, so once one is left out so are the rest
/// of that stream's, and its frames stay whole.
struct ReceivedByEnd {
    inner: Box<dyn sim::world::WireTap>,
    end_ns: u64,
}

impl sim::world::WireTap for ReceivedByEnd {
    fn on_write(&mut self, from: u32, to: u32, stream: u64, deliver_at_ns: u64, bytes: &[u8]) {
        if deliver_at_ns <= self.end_ns {
            self.inner.on_write(from, to, stream, deliver_at_ns, bytes);
        }
    }
}

fn run_here(sc: &Scenario, spec: &Experiment, seed: u64) -> Result<InteropOutput, sim::RunError> {
    let mut s = Sim::new(spec, seed);
    s.initial_components = components(sc);
    let end_ns = sc.end_ns();
    sim::world::with(|w| {
        if let Some(inner) = w.take_tap() {
            w.set_tap(Box::new(ReceivedByEnd { inner, end_ns }));
        }
        for (i, &(up, down)) in sc.bandwidth.iter().enumerate() {
            w.set_bandwidth(i as u32, up, down);
        }
        for (&(a, b), l) in &sc.links {
            w.set_link_latency_ns(a, b, l.latency_ns);
            if l.loss > 0.0 {
                w.set_link_condition(
                    a,
                    b,
                    Some(sim::world::LinkCondition {
                        extra_latency_ns: 0,
                        loss: l.loss,
                        bandwidth_factor: 1.0,
                    }),
                );
            }
        }
    });
    let topics: Vec<IdentTopic> = sc.topics.iter().map(IdentTopic::new).collect();
    s.driver.topics = topics.clone();
    s.driver.subscribers = vec![Vec::new(); topics.len()];
    s.driver.spec.workload.topics = topics.len() as u32;
    s.driver.collector.borrow_mut().payload_keys = Some(BTreeMap::new());
    s.driver.collector.borrow_mut().partial_groups = Some(BTreeMap::new());
    let mut message_ids = Vec::new();
    let mut i = 0;
    while i < sc.ops.len() {
        let at = sc.ops[i].at_ns;
        if at > end_ns {
            break;
        }
        s.engine.run_until(at, &mut s.driver)?;
        while i < sc.ops.len() && sc.ops[i].at_ns == at {
            let op = &sc.ops[i];
            i += 1;
            let node = op.node;
            if !s.engine.nodes[node as usize].is_up() {
                continue;
            }
            match op.kind {
                OpKind::Connect(to) => s.dial_now(node, to),
                OpKind::Subscribe(t) => {
                    let subs = &mut s.driver.subscribers[t];
                    // Kept sorted; one binary search per subscribe keeps
                    // large imports linear-ish rather than quadratic.
                    if let Err(pos) = subs.binary_search(&node) {
                        subs.insert(pos, node);
                    }
                    // Subscribing twice is a no-op in GossipSub as well.
                    let _ = s.engine.nodes[node as usize]
                        .gossipsub()
                        .subscribe(&topics[t]);
                    s.engine.wake(node);
                }
                OpKind::SubscribePartial { topic, requests } => {
                    let subs = &mut s.driver.subscribers[topic];
                    if let Err(pos) = subs.binary_search(&node) {
                        subs.insert(pos, node);
                    }
                    let n = &mut s.engine.nodes[node as usize];
                    n.enable_partial(&topics[topic].hash(), requests);
                    let _ = n.gossipsub().subscribe(&topics[topic]);
                    s.engine.wake(node);
                }
                OpKind::AddParts {
                    topic,
                    group,
                    ref bits,
                } => {
                    let n = &mut s.engine.nodes[node as usize];
                    // The bitmap was checked against the layout when the script was read.
                    if n.add_parts(&topics[topic].hash(), group, sc.layout, bits)
                        .is_err()
                    {
                        s.driver.collector.borrow_mut().counters.partial_invalid += 1;
                    }
                }
                OpKind::PublishParts { topic, group } => {
                    publish_parts(&mut s, &topics[topic], topic, node, group, &mut message_ids);
                }
                OpKind::ValidationDelay { topic, delay_ns } => {
                    s.engine.nodes[node as usize]
                        .validation_delays
                        .insert(topics[topic].hash().into_string(), delay_ns);
                }
                OpKind::Publish { id, size, topic } => {
                    let now = s.engine.now_ns();
                    // The receivers expected now: a node that subscribes
                    // later and gets it by gossip does not count.
                    let receivers: Vec<u32> = s.driver.subscribers[topic]
                        .iter()
                        .copied()
                        .filter(|&p| p != node && s.engine.nodes[p as usize].is_up())
                        .collect();
                    let data = payload(id, size);
                    let key = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
                    let seq = {
                        let mut c = s.driver.collector.borrow_mut();
                        let rec = MsgRecord::new(node, topic as u32, now, false);
                        let seq = c.on_publish_to(rec, &receivers);
                        if let Some(k) = c.payload_keys.as_mut() {
                            k.insert(key, seq);
                        }
                        seq
                    };
                    debug_assert_eq!(seq as usize, message_ids.len());
                    message_ids.push(id);
                    if s.engine.nodes[node as usize]
                        .gossipsub()
                        .publish(topics[topic].clone(), data)
                        .is_err()
                    {
                        s.driver.collector.borrow_mut().counters.publish_errors += 1;
                    }
                    s.engine.wake(node);
                }
            }
        }
    }
    s.engine.run_until(end_ns, &mut s.driver)?;
    let collector = s.driver.collector.clone();
    // peers.csv reports the mesh of topic 0; without topics, an unknown one (no mesh).
    let no_topics = s.driver.topics.is_empty();
    if no_topics {
        s.driver.topics.push(IdentTopic::new(""));
    }
    let peers = s.peer_rows();
    if no_topics {
        s.driver.topics.clear();
    }
    let summary = s.finish();
    let mut c = collector.borrow_mut();
    Ok(InteropOutput {
        run: RunOutput {
            summary,
            samples: std::mem::take(&mut c.samples),
            messages: std::mem::take(&mut c.messages),
            deliveries: c.deliveries.take(),
            peers,
            ..RunOutput::default()
        },
        message_ids,
        partial_complete: c.partial_complete.clone(),
        partial_groups: c.partial_groups.as_ref().map_or(0, |g| g.len() as u32),
    })
}

/// `publishPartial` of `group` on `topic` by `node`: the first publish of a
/// group makes it a message, expected at the topic's subscribers that are
/// up and do not hold every part yet (other than the publisher); the
/// message's id is the group id.
fn publish_parts(
    s: &mut Sim,
    t: &IdentTopic,
    topic: usize,
    node: u32,
    group: u64,
    message_ids: &mut Vec<u64>,
) {
    let hash = t.hash();
    let key = (hash.to_string(), group);
    let known = s
        .driver
        .collector
        .borrow()
        .partial_groups
        .as_ref()
        .is_some_and(|g| g.contains_key(&key));
    if !known {
        let now = s.engine.now_ns();
        let receivers: Vec<u32> = s.driver.subscribers[topic]
            .iter()
            .copied()
            .filter(|&p| {
                let n = &s.engine.nodes[p as usize];
                p != node && n.is_up() && !n.parts(&hash, group).is_some_and(|x| x.is_full())
            })
            .collect();
        // What every node lacks, the publisher's share included (in the
        // framework's scenarios every node may hold only some parts).
        let missing: u64 = receivers
            .iter()
            .chain(std::iter::once(&node))
            .map(|&p| {
                let n = &s.engine.nodes[p as usize];
                let held = n.parts(&hash, group).map_or(0, |x| x.count());
                u64::from(
                    n.template()
                        .partial
                        .map_or(0, |l| l.parts)
                        .saturating_sub(held),
                )
            })
            .sum();
        let mut c = s.driver.collector.borrow_mut();
        c.counters.partial_parts_missing += missing;
        let seq = c.on_publish_to(MsgRecord::new(node, topic as u32, now, false), &receivers);
        if let Some(g) = c.partial_groups.as_mut() {
            g.insert(key, seq);
        }
        message_ids.push(group);
    }
    // The script was checked: the node holds parts of the group.
    let _ = s.engine.nodes[node as usize].publish_parts(&hash, group);
    s.engine.wake(node);
}

#[cfg(test)]
mod tests {
    /// The reference implementation's peer ids for nodes 0..10000, one
    /// `>{node}:{peer id}\n` line each.
    fn reference_lines() -> String {
        (0..10_000u32)
            .map(|i| {
                let k = crate::peer::test_plans_keypair(i);
                format!(">{i}:{}\n", libp2p_identity::PeerId::from(k.public()))
            })
            .collect()
    }

    /// The keys are the reference's: the SHA-256 of these lines is the
    /// rust-libp2p test-plans node's own check value
    /// (11395ea896d00ca25f7f648ebb336488ee092096a5498d90d76b92eaec27867a,
    /// verified once); meshsim has no SHA-256, so BLAKE3 of the same bytes is pinned.
    #[test]
    fn test_plans_keys_match_the_reference() {
        let h = blake3::hash(reference_lines().as_bytes()).to_hex();
        assert_eq!(
            h.as_str(),
            "7ba8c85724c670953be397f8ef74cf5593bc9227eaa76a5b8af7f915ae8b5142"
        );
    }

    #[test]
    fn payload_holds_the_id_big_endian() {
        let p = super::payload(0x0102, 10);
        assert_eq!(p.len(), 10);
        assert_eq!(&p[..8], &[0, 0, 0, 0, 0, 0, 1, 2]);
    }
}
