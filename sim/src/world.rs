//! The simulated world of one run: the event queue and the network (nodes,
//! links, connections, substreams and their byte pipes).
//!
//! It lives in a thread-local so that the transport handles held by libp2p
//! swarms (which must be `Send`) can reach it without pointers. Access goes
//! through [`with`], which wakes the tasks the world asked to wake only after
//! releasing its borrow.

use crate::latency::LatencyModel;
use crate::profile::{self, Phase};
use crate::queue::{Event, EventQueue};
use crate::seeds::Seeds;
use libp2p_identity::PeerId;
use rand::RngExt;
use slab::Slab;
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;
use std::task::Waker;

/// First address of the virtual address range (198.18.0.0/15, reserved for benchmarking).
pub const BASE_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);
/// Port every simulated peer listens on.
pub const LISTEN_PORT: u16 = 4001;

/// Chunk buffers larger than this are freed rather than recycled.
const SPARE_CHUNK_MAX_BYTES: usize = 16 << 10;
/// At most this many recycled chunk buffers are kept.
const SPARE_CHUNKS_MAX: usize = 4096;

/// Sees every write on every substream (for wire-level metrics).
pub trait WireTap {
    /// `bytes` were written by `from` to `to` on substream `stream` and reach
    /// `to` at `deliver_at_ns` (before its downlink queue, when `to` has a
    /// download limit: they are readable once through it).
    fn on_write(&mut self, from: u32, to: u32, stream: u64, deliver_at_ns: u64, bytes: &[u8]);
}

/// Rewrites what selected nodes write: wire-level adversaries that send
/// what their (unmodified) protocol stack would not. The engine knows
/// nothing of the protocol; the filter sees raw substream bytes.
///
/// Rewritten bytes are what travels: timing, bandwidth, byte counters and
/// the [`WireTap`] all see them. The writer is told its whole buffer was
/// written either way.
pub trait WireFilter {
    /// Whether writes from `from` to `to` go through [`WireFilter::rewrite`]
    /// (called on every write: keep it cheap).
    fn wants(&self, from: u32, to: u32) -> bool;
    /// `bytes` were written by `from` to `to` on substream `stream` at virtual
    /// time `now_ns`. Return `false` to send them unchanged, or `true` to send
    /// `out` instead (possibly empty: bytes may be held back until a frame
    /// completes and sent with a later write).
    fn rewrite(
        &mut self,
        from: u32,
        to: u32,
        stream: u64,
        now_ns: u64,
        bytes: &[u8],
        out: &mut Vec<u8>,
    ) -> bool;

    /// The bytes of the last [`WireFilter::rewrite`] call for this write
    /// (rewritten or not) were sent at `sent_ns` and arrive at `deliver_at_ns`
    /// (before the receiver's downlink queue, if it has a download limit).
    /// Not called when the rewrite sent nothing.
    fn delivered(&mut self, from: u32, to: u32, stream: u64, sent_ns: u64, deliver_at_ns: u64) {
        let _ = (from, to, stream, sent_ns, deliver_at_ns);
    }

    /// In a partitioned run, instead of [`WireFilter::delivered`] when the
    /// receiver `to` is simulated in another partition: what the filter
    /// there must learn from this write. Each note is handed to that
    /// partition's filter ([`WireFilter::learn`]) at `deliver_at_ns`, when
    /// the bytes arrive, in the order returned. By default: `delivered`,
    /// and nothing to tell.
    fn delivered_elsewhere(
        &mut self,
        from: u32,
        to: u32,
        stream: u64,
        sent_ns: u64,
        deliver_at_ns: u64,
    ) -> Vec<FilterNote> {
        self.delivered(from, to, stream, sent_ns, deliver_at_ns);
        Vec::new()
    }

    /// A note from [`WireFilter::delivered_elsewhere`] in another
    /// partition, at the time the write it describes arrives here.
    fn learn(&mut self, note: FilterNote) {
        let _ = note;
    }
}

/// What a [`WireFilter`] in one partition tells the filter in another
/// (opaque to the engine; the filter downcasts it).
pub struct FilterNote(pub Box<dyn std::any::Any + Send>);

impl std::fmt::Debug for FilterNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FilterNote(..)")
    }
}

/// Per-node network state.
#[derive(Debug)]
pub struct NodeNet {
    /// The node's libp2p identity.
    pub peer_id: PeerId,
    /// The node's virtual IPv4 address.
    pub ip: Ipv4Addr,
    /// The port it listens on.
    pub port: u16,
    /// Whether it accepts inbound connections (is listening and up).
    pub listening: bool,
    /// Whether the node is running (not crashed).
    pub up: bool,
    incoming: VecDeque<(u32, u32)>,
    listener_waker: Option<Waker>,
    /// Bytes written by this node.
    pub bytes_sent: u64,
    /// Bytes delivered to this node.
    pub bytes_received: u64,
    /// Peer class index (selects per-class-pair latency models).
    pub class: u16,
    /// Region index into the region latency matrix, if placed in a region.
    pub region: Option<u16>,
    /// Upload rate, bits per second (`None`: unlimited).
    pub up_bps: Option<u64>,
    /// Download rate, bits per second (`None`: unlimited).
    pub down_bps: Option<u64>,
    /// Whether dials to this node's address reach it (an address can vanish).
    pub reachable: bool,
    /// Partition group (dials and connections only within a group while a partition holds).
    pub group: u16,
    up_free_at: u64,
    down_free_at: u64,
    blocked_writers: Vec<Waker>,
    drain_scheduled: bool,
}

/// A temporary degradation of a link or of all of a node's links.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkCondition {
    /// Added one-way latency, nanoseconds.
    pub extra_latency_ns: u64,
    /// Probability that a write is lost once and retransmitted after the RTO (repeatable).
    pub loss: f64,
    /// Multiplier on bandwidth (1 = unchanged; for node conditions only).
    pub bandwidth_factor: f64,
}

#[derive(Debug, Default)]
struct Pipe {
    chunks: VecDeque<(u64, Vec<u8>)>,
    head_off: usize,
    fin_at: Option<u64>,
    last_at: u64,
    reader_waker: Option<Waker>,
    write_closed: bool,
    /// Bytes go through the reader's downlink queue (it had a download
    /// limit when they were written): decided for good at the first such
    /// write, so that later bytes never overtake queued ones.
    queued: bool,
}

#[derive(Debug)]
struct Stream {
    gen: u32,
    id: u64,
    conn: (u32, u32),
    nodes: [u32; 2],
    sides: [u8; 2],
    latency_ns: u64,
    pipes: [Pipe; 2],
    dropped: [bool; 2],
    /// For a stream whose other end is in another partition: that
    /// partition and the stream's run-wide id there.
    cross: Option<(u16, u64)>,
}

#[derive(Debug)]
struct Conn {
    gen: u32,
    nodes: [u32; 2],
    latency_ns: u64,
    inbound: [VecDeque<(u64, u32, u32)>; 2],
    closed_at: [Option<u64>; 2],
    waker: [Option<Waker>; 2],
    dropped: [bool; 2],
    /// For a connection whose other side is in another partition: that
    /// partition and the connection's run-wide id.
    cross: Option<(u16, u64)>,
}

/// Why a dial failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialError {
    /// The target is up but does not accept connections.
    Refused,
    /// No answer (the target is down or the address leads nowhere).
    Timeout,
}

#[derive(Debug)]
enum DialState {
    Created,
    InFlight,
    Done(Result<(u32, u32), DialError>),
    Taken,
}

#[derive(Debug)]
struct Dial {
    from: u32,
    to: Option<u32>,
    state: DialState,
    waker: Option<Waker>,
    abandoned: bool,
    /// The dialer has learned the outcome (its `DialDone` was handled).
    /// Until then the slot stays, even if the dial is dropped: the
    /// `DialDone` still to come must not reach a later dial in the same slot.
    fired: bool,
}

/// A message between the partitions of a partitioned run: what one side of
/// a connection, substream or dial does that the other side sees `at` a
/// later virtual time (never earlier than one link latency after sending).
#[derive(Debug)]
pub struct Remote {
    /// When the receiving partition handles it, ns.
    pub at: u64,
    msg: RemoteMsg,
}

#[derive(Debug)]
enum RemoteMsg {
    /// A dial reaches its target's partition.
    DialArrive { dial: u32, from: u32, to: u32 },
    /// The dialer's partition learns the outcome (`Ok`: the connection's run-wide id).
    DialDone {
        dial: u32,
        result: Result<u64, DialError>,
    },
    /// The other side opened a substream.
    StreamOpen {
        xconn: u64,
        xstream: u64,
        id: u64,
        opener_side: u8,
    },
    /// Bytes written by the other end, in direction `dir`; their head
    /// reached the receiver's downlink at `head_at` (the message is due when
    /// their tail did, before the receiver's downlink limit).
    Data {
        xstream: u64,
        dir: u8,
        bytes: Vec<u8>,
        head_at: u64,
    },
    /// The other end closed its writing direction `dir`.
    Fin { xstream: u64, dir: u8 },
    /// Side `side` closed (or dropped) the connection.
    Close { xconn: u64, side: u8 },
    /// Bytes written in this world reach a download-limited reader `to` (as
    /// `Data`, for a local stream).
    Arrive {
        stream: u32,
        gen: u32,
        dir: u8,
        to: u32,
        bytes: Vec<u8>,
        head_at: u64,
    },
    /// The end of a local stream reaches a download-limited reader, after its data.
    ArriveFin { stream: u32, gen: u32, dir: u8 },
    /// The connection was lost (crash, cut link, network partition): both
    /// sides notice now.
    Lost { xconn: u64 },
    /// For this partition's wire filter, from the filter of the writer's.
    Note(FilterNote),
}

/// Lookups only (never iterated), with a fixed hash function: a
/// `RandomState` would advance std's per-thread hash keys and shift the
/// `HashMap` orders of the swarms built after it.
type FixedMap = std::collections::HashMap<
    u64,
    u32,
    std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>,
>;

/// Partitioned-run state of a world (see [`World::set_partitioning`]).
struct Part {
    me: u16,
    parts: u16,
    owner: Vec<u16>,
    outbox: Vec<Vec<Remote>>,
    /// Run-wide id of a cross-partition connection or stream to its local slot.
    conns: FixedMap,
    streams: FixedMap,
    next_xid: u64,
}

impl Part {
    /// A run-wide id: a counter of this partition, tagged with the partition.
    fn xid(&mut self) -> u64 {
        self.next_xid += 1;
        (u64::from(self.me) << 48) | self.next_xid
    }
}

/// Network-wide parameters.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Link latency model for class pairs not listed in `class_latency`.
    pub latency: LatencyModel,
    /// Latency models per unordered pair of peer classes `(min, max)`.
    pub class_latency: BTreeMap<(u16, u16), LatencyModel>,
    /// One-way latency between regions in ms, `[from][to]`; used when both ends have a region.
    pub region_latency_ms: Vec<Vec<f64>>,
    /// Per-write jitter: uniform in `[0, jitter_ns]` added to each write (FIFO kept).
    pub jitter_ns: u64,
    /// Default per-write loss probability (modelled as retransmission delay).
    pub loss: f64,
    /// Retransmission delay per loss, nanoseconds.
    pub rto_ns: u64,
    /// Bytes an uplink may queue before writers see backpressure (`Poll::Pending`).
    pub uplink_buffer_bytes: u64,
    /// How long after a crash or link cut the other side notices, nanoseconds.
    pub detection_delay_ns: u64,
    /// How long a dial to a silent address waits before failing, nanoseconds.
    pub dial_timeout_ns: u64,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            latency: LatencyModel::Constant { ms: 50.0 },
            class_latency: BTreeMap::new(),
            region_latency_ms: Vec::new(),
            jitter_ns: 0,
            loss: 0.0,
            rto_ns: 200_000_000,
            uplink_buffer_bytes: 1 << 20,
            detection_delay_ns: 1_000_000_000,
            dial_timeout_ns: 10_000_000_000,
        }
    }
}

/// Network counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetStats {
    /// Connections established.
    pub connections_opened: u64,
    /// Substreams opened.
    pub substreams_opened: u64,
    /// Bytes written on all substreams.
    pub bytes: u64,
    /// Write calls.
    pub writes: u64,
}

/// The state of one simulated world.
pub struct World {
    /// The event queue.
    pub queue: EventQueue,
    /// Per-node network state, by node index.
    pub nodes: Vec<NodeNet>,
    cfg: NetConfig,
    seeds: Seeds,
    links: BTreeMap<(u32, u32), u64>,
    link_overrides: BTreeMap<(u32, u32), u64>,
    ip_to_node: BTreeMap<(u32, u16), u32>,
    conns: Slab<Conn>,
    streams: Slab<Stream>,
    dials: Slab<Dial>,
    next_gen: u32,
    next_stream_id: u64,
    to_wake: Vec<Waker>,
    spare_chunks: Vec<Vec<u8>>,
    tap: Option<Box<dyn WireTap>>,
    filter: Option<Box<dyn WireFilter>>,
    link_conditions: BTreeMap<(u32, u32), LinkCondition>,
    node_conditions: BTreeMap<u32, LinkCondition>,
    partitioned: bool,
    net_rng: crate::seeds::SimRng,
    part: Option<Box<Part>>,
    /// Messages waiting for their time: from other partitions, and bytes on
    /// their way to a download-limited reader.
    inbox: Slab<RemoteMsg>,
    /// Counters.
    pub stats: NetStats,
}

thread_local! {
    static WORLD: RefCell<Option<World>> = const { RefCell::new(None) };
}

/// Installs a world on this thread.
pub fn install(world: World) {
    WORLD.with(|w| *w.borrow_mut() = Some(world));
}

/// Removes this thread's world.
pub fn uninstall() -> Option<World> {
    WORLD.with(|w| w.borrow_mut().take())
}

/// Runs `f` on this thread's world, then wakes the tasks it asked to wake.
///
/// # Panics
/// If no world is installed on this thread (swarms must only be polled on their simulation thread).
#[inline]
pub fn with<R>(f: impl FnOnce(&mut World) -> R) -> R {
    let prev = profile::enter(Phase::Engine);
    let (r, wake) = WORLD.with(|w| {
        let mut w = w.borrow_mut();
        let w = w.as_mut().expect(
            "no simulated world on this thread: swarms must be polled on their simulation thread",
        );
        let r = f(w);
        let wake = if w.to_wake.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut w.to_wake)
        };
        (r, wake)
    });
    for waker in wake {
        waker.wake();
    }
    profile::enter(prev);
    r
}

/// Like [`with`], but does nothing (returns `None`) when no world is installed,
/// for `Drop` implementations that may run during teardown.
pub fn try_with<R>(f: impl FnOnce(&mut World) -> R) -> Option<R> {
    let out = WORLD.try_with(|w| {
        let mut w = w.try_borrow_mut().ok()?;
        let w = w.as_mut()?;
        let r = f(w);
        Some((r, std::mem::take(&mut w.to_wake)))
    });
    let (r, wake) = out.ok().flatten()?;
    for waker in wake {
        waker.wake();
    }
    Some(r)
}

/// The current virtual time in nanoseconds.
pub(crate) fn now() -> u64 {
    meshsim_clock::now_ns().expect("no virtual clock on this thread")
}

/// Time to push `bytes` through `bps` bits per second, nanoseconds (rounded up).
pub fn transfer_ns(bytes: u64, bps: u64) -> u64 {
    let bits = u128::from(bytes) * 8 * 1_000_000_000;
    bits.div_ceil(u128::from(bps.max(1))) as u64
}

/// Keeps `data` in the pool of buffers for later writes (a bounded pool of
/// small buffers; larger ones are freed).
fn recycle(spare: &mut Vec<Vec<u8>>, mut data: Vec<u8>) {
    if data.capacity() <= SPARE_CHUNK_MAX_BYTES && spare.len() < SPARE_CHUNKS_MAX {
        data.clear();
        spare.push(data);
    }
}

fn pair(a: u32, b: u32) -> (u32, u32) {
    (a.min(b), a.max(b))
}

impl World {
    /// A world with no nodes.
    pub fn new(cfg: NetConfig, seeds: Seeds) -> World {
        World {
            queue: EventQueue::default(),
            nodes: Vec::new(),
            cfg,
            seeds,
            links: BTreeMap::new(),
            link_overrides: BTreeMap::new(),
            ip_to_node: BTreeMap::new(),
            conns: Slab::new(),
            streams: Slab::new(),
            dials: Slab::new(),
            next_gen: 0,
            next_stream_id: 0,
            to_wake: Vec::new(),
            spare_chunks: Vec::new(),
            tap: None,
            filter: None,
            link_conditions: BTreeMap::new(),
            node_conditions: BTreeMap::new(),
            partitioned: false,
            net_rng: seeds.stream("net"),
            part: None,
            inbox: Slab::new(),
            stats: NetStats::default(),
        }
    }

    /// Makes this world partition `me` of a partitioned run: node `n` is
    /// simulated by partition `owner[n]` (every partition holds the same
    /// nodes, addresses and links; only its own nodes' swarms run in it).
    /// Connections, substreams and dials between partitions become
    /// [`Remote`] messages: collect them with [`World::take_outbox`] and hand
    /// them to their partition with [`World::deliver`]. Each message is due
    /// at least one link latency after it was sent, so partitions may run
    /// independently through any window shorter than the smallest link
    /// latency between them. Call before the first node is polled; network
    /// randomness (jitter, loss) comes from the partition's own stream.
    ///
    /// # Panics
    /// If `me >= parts` or an owner is out of range.
    pub fn set_partitioning(&mut self, me: u16, parts: u16, owner: Vec<u16>) {
        assert!(me < parts && owner.iter().all(|&o| o < parts));
        self.net_rng = self.seeds.stream_at("net", u64::from(me));
        self.part = Some(Box::new(Part {
            me,
            parts,
            owner,
            outbox: (0..parts).map(|_| Vec::new()).collect(),
            conns: FixedMap::default(),
            streams: FixedMap::default(),
            next_xid: 0,
        }));
    }

    /// This world's partition and the number of partitions (`(0, 1)` when not partitioned).
    pub fn partition_of_world(&self) -> (u16, u16) {
        self.part.as_ref().map_or((0, 1), |p| (p.me, p.parts))
    }

    /// Whether `node` is simulated in this world (always, when not partitioned).
    pub fn is_local(&self, node: u32) -> bool {
        self.remote_part(node).is_none()
    }

    /// The partition simulating `node`, if it is another one.
    fn remote_part(&self, node: u32) -> Option<u16> {
        let p = self.part.as_ref()?;
        let o = p.owner[node as usize];
        (o != p.me).then_some(o)
    }

    fn send(&mut self, to_part: u16, at: u64, msg: RemoteMsg) {
        debug_assert!(at > now(), "a remote message must be due after it is sent");
        if let Some(p) = self.part.as_mut() {
            p.outbox[to_part as usize].push(Remote { at, msg });
        }
    }

    /// Takes the messages this world sent to partition `to` since the last
    /// call, in the order they were sent.
    pub fn take_outbox(&mut self, to: u16) -> Vec<Remote> {
        match self.part.as_mut() {
            Some(p) => std::mem::take(&mut p.outbox[to as usize]),
            None => Vec::new(),
        }
    }

    /// Schedules messages from another partition (in the order given: the
    /// order they were sent, partition by partition in a fixed order).
    ///
    /// # Panics
    /// If the world is not partitioned or a message is due in the past.
    pub fn deliver(&mut self, msgs: Vec<Remote>) {
        let now = now();
        assert!(
            self.part.is_some(),
            "deliver on a world that is not partitioned"
        );
        for m in msgs {
            assert!(
                m.at > now,
                "a message from another partition due at {} ns arrived at {now} ns: the window is longer than a link latency",
                m.at
            );
            let slot = self.inbox.insert(m.msg) as u32;
            self.queue.push(m.at, Event::Remote { slot });
        }
    }

    /// Installs the wire tap.
    pub fn set_tap(&mut self, tap: Box<dyn WireTap>) {
        self.tap = Some(tap);
    }

    /// Installs a wire filter (wire-level adversaries).
    pub fn set_filter(&mut self, filter: Box<dyn WireFilter>) {
        self.filter = Some(filter);
    }

    /// Removes and returns the wire tap.
    pub fn take_tap(&mut self) -> Option<Box<dyn WireTap>> {
        self.tap.take()
    }

    /// Adds a node with the next default address; returns its index.
    pub fn add_node(&mut self, peer_id: PeerId) -> u32 {
        let idx = self.nodes.len() as u32;
        let ip = Ipv4Addr::from(u32::from(BASE_IP) + idx + 1);
        self.add_node_at(peer_id, ip, LISTEN_PORT)
    }

    /// Adds a node at a given address (several nodes may share an IP on distinct ports).
    pub fn add_node_at(&mut self, peer_id: PeerId, ip: Ipv4Addr, port: u16) -> u32 {
        let idx = self.nodes.len() as u32;
        self.ip_to_node.insert((u32::from(ip), port), idx);
        self.nodes.push(NodeNet {
            peer_id,
            ip,
            port,
            listening: false,
            up: true,
            incoming: VecDeque::new(),
            listener_waker: None,
            bytes_sent: 0,
            bytes_received: 0,
            class: 0,
            region: None,
            up_bps: None,
            down_bps: None,
            reachable: true,
            group: 0,
            up_free_at: 0,
            down_free_at: 0,
            blocked_writers: Vec::new(),
            drain_scheduled: false,
        });
        idx
    }

    /// The node listening at `ip:port`, if any.
    pub fn node_at(&self, ip: Ipv4Addr, port: u16) -> Option<u32> {
        self.ip_to_node.get(&(u32::from(ip), port)).copied()
    }

    /// Sets the latency of the link between `a` and `b` (overrides the model).
    pub fn set_link_latency_ns(&mut self, a: u32, b: u32, ns: u64) {
        self.link_overrides.insert(pair(a, b), ns);
    }

    /// The one-way latency between `a` and `b`, drawing it on first use.
    pub fn latency_ns(&mut self, a: u32, b: u32) -> u64 {
        let p = pair(a, b);
        if let Some(&ns) = self.link_overrides.get(&p) {
            return ns;
        }
        if let Some(&ns) = self.links.get(&p) {
            return ns;
        }
        let (na, nb) = (&self.nodes[p.0 as usize], &self.nodes[p.1 as usize]);
        let region_ms = match (na.region, nb.region) {
            (Some(ra), Some(rb)) => self
                .cfg
                .region_latency_ms
                .get(ra as usize)
                .and_then(|row| row.get(rb as usize))
                .copied(),
            _ => None,
        };
        let ns = match region_ms {
            Some(ms) => crate::latency::ms_to_ns(ms),
            None => {
                let classes = (na.class.min(nb.class), na.class.max(nb.class));
                let model = self
                    .cfg
                    .class_latency
                    .get(&classes)
                    .unwrap_or(&self.cfg.latency);
                let mut rng = self
                    .seeds
                    .stream_at("links", (u64::from(p.0) << 32) | u64::from(p.1));
                model.sample_ns(&mut rng)
            }
        };
        self.links.insert(p, ns);
        ns
    }

    // ----- link conditions, partitions, reachability -----

    /// Sets (or with `None` clears) a condition on the link between `a` and `b`.
    pub fn set_link_condition(&mut self, a: u32, b: u32, c: Option<LinkCondition>) {
        match c {
            Some(c) => self.link_conditions.insert(pair(a, b), c),
            None => self.link_conditions.remove(&pair(a, b)),
        };
    }

    /// Sets (or clears) a condition on every link of `node`.
    pub fn set_node_condition(&mut self, node: u32, c: Option<LinkCondition>) {
        match c {
            Some(c) => self.node_conditions.insert(node, c),
            None => self.node_conditions.remove(&node),
        };
    }

    /// Sets `node`'s bandwidth in bits per second (`None`: unlimited).
    pub fn set_bandwidth(&mut self, node: u32, up_bps: Option<u64>, down_bps: Option<u64>) {
        let n = &mut self.nodes[node as usize];
        n.up_bps = up_bps.map(|b| b.max(1));
        n.down_bps = down_bps.map(|b| b.max(1));
    }

    /// Makes `node`'s address reachable or not (an unreachable address swallows dials).
    pub fn set_reachable(&mut self, node: u32, reachable: bool) {
        self.nodes[node as usize].reachable = reachable;
    }

    /// Splits the network into groups (one group id per node): every open
    /// connection between groups is lost, and dials between groups get no
    /// answer until [`World::heal_partition`].
    pub fn partition(&mut self, groups: &[u16]) {
        for (n, &g) in self.nodes.iter_mut().zip(groups) {
            n.group = g;
        }
        self.partitioned = true;
        let lost: Vec<u32> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                self.nodes[c.nodes[0] as usize].group != self.nodes[c.nodes[1] as usize].group
                    && c.closed_at.iter().any(Option::is_none)
            })
            .map(|(k, _)| k as u32)
            .collect();
        for c in lost {
            self.lose_conn(c);
        }
    }

    /// Ends a partition.
    pub fn heal_partition(&mut self) {
        self.partitioned = false;
        for n in &mut self.nodes {
            n.group = 0;
        }
    }

    fn separated(&self, a: u32, b: u32) -> bool {
        self.partitioned && self.nodes[a as usize].group != self.nodes[b as usize].group
    }

    fn condition(&self, a: u32, b: u32) -> LinkCondition {
        let mut c = LinkCondition {
            extra_latency_ns: 0,
            loss: self.cfg.loss,
            bandwidth_factor: 1.0,
        };
        if self.link_conditions.is_empty() && self.node_conditions.is_empty() {
            return c;
        }
        for x in [
            self.link_conditions.get(&pair(a, b)),
            self.node_conditions.get(&a),
            self.node_conditions.get(&b),
        ]
        .into_iter()
        .flatten()
        {
            c.extra_latency_ns += x.extra_latency_ns;
            c.loss = 1.0 - (1.0 - c.loss) * (1.0 - x.loss.clamp(0.0, 1.0));
        }
        c
    }

    fn bandwidth_factor(&self, node: u32) -> f64 {
        self.node_conditions.get(&node).map_or(1.0, |c| {
            if c.bandwidth_factor > 0.0 {
                c.bandwidth_factor
            } else {
                1.0
            }
        })
    }

    fn gen(&mut self) -> u32 {
        self.next_gen = self.next_gen.wrapping_add(1);
        self.next_gen
    }

    fn schedule(&mut self, at: u64, ev: Event) {
        self.queue.push(at, ev);
    }

    // ----- listening -----

    pub(crate) fn listen(&mut self, node: u32) {
        self.nodes[node as usize].listening = true;
    }

    pub(crate) fn stop_listening(&mut self, node: u32) {
        self.nodes[node as usize].listening = false;
    }

    pub(crate) fn poll_incoming(&mut self, node: u32, waker: &Waker) -> Option<(u32, u32)> {
        let n = &mut self.nodes[node as usize];
        match n.incoming.pop_front() {
            Some(c) => Some(c),
            None => {
                n.listener_waker = Some(waker.clone());
                None
            }
        }
    }

    // ----- dialing -----

    pub(crate) fn new_dial(&mut self, from: u32, to: Option<u32>) -> u32 {
        self.dials.insert(Dial {
            from,
            to,
            state: DialState::Created,
            waker: None,
            abandoned: false,
            fired: false,
        }) as u32
    }

    pub(crate) fn poll_dial(
        &mut self,
        dial: u32,
        waker: &Waker,
    ) -> Option<Result<(u32, u32), DialError>> {
        let now = now();
        let d = &mut self.dials[dial as usize];
        match d.state {
            DialState::Created => {
                d.state = DialState::InFlight;
                d.waker = Some(waker.clone());
                let (from, to) = (d.from, d.to);
                match to {
                    Some(to) => {
                        let lat = self.latency_ns(from, to);
                        match self.remote_part(to) {
                            Some(part) => {
                                self.send(part, now + lat, RemoteMsg::DialArrive { dial, from, to })
                            }
                            None => self.schedule(now + lat, Event::DialArrive { dial }),
                        }
                    }
                    None => {
                        let t = now + self.cfg.dial_timeout_ns;
                        self.dials[dial as usize].state = DialState::InFlight;
                        self.schedule(t, Event::DialDone { dial });
                        self.dials[dial as usize].to = None;
                    }
                }
                None
            }
            // A local dial's outcome is set when it reaches its target; the
            // dialer learns it one latency later.
            DialState::InFlight | DialState::Done(_) if !d.fired => {
                d.waker = Some(waker.clone());
                None
            }
            DialState::InFlight => {
                d.waker = Some(waker.clone());
                None
            }
            DialState::Done(r) => {
                d.state = DialState::Taken;
                Some(r)
            }
            DialState::Taken => Some(Err(DialError::Timeout)),
        }
    }

    pub(crate) fn drop_dial(&mut self, dial: u32) {
        let d = &mut self.dials[dial as usize];
        match d.state {
            DialState::InFlight => d.abandoned = true,
            DialState::Done(r) if !d.fired => {
                // Reached its target, but the dialer gave up before the
                // answer came back: close what was established now, free
                // the slot when the answer arrives.
                d.state = DialState::Taken;
                d.abandoned = true;
                if let Ok((c, gen)) = r {
                    self.muxer_dropped(c, gen, 0);
                }
            }
            DialState::Done(Ok((c, gen))) => {
                // Established but never taken: close it.
                self.dials.remove(dial as usize);
                self.muxer_dropped(c, gen, 0);
            }
            _ => {
                self.dials.remove(dial as usize);
            }
        }
    }

    fn on_dial_arrive(&mut self, dial: u32) {
        let now = now();
        let Some(d) = self.dials.get(dial as usize) else {
            return;
        };
        let (from, to) = (d.from, d.to.expect("arrival of a dial without target"));
        let lat = self.latency_ns(from, to);
        let target = &self.nodes[to as usize];
        let from_up = self.nodes[from as usize].up;
        if !target.up || !from_up || !target.reachable || self.separated(from, to) {
            // Nothing answers: the dialer times out.
            let t = now - lat + self.cfg.dial_timeout_ns;
            self.schedule(t.max(now), Event::DialDone { dial });
            return;
        }
        if !target.listening {
            self.dials[dial as usize].state = DialState::Done(Err(DialError::Refused));
            self.schedule(now + lat, Event::DialDone { dial });
            return;
        }
        let (c, gen) = self.insert_conn([from, to], lat, None);
        self.stats.connections_opened += 1;
        let t = &mut self.nodes[to as usize];
        t.incoming.push_back((c, gen));
        if let Some(w) = t.listener_waker.take() {
            self.to_wake.push(w);
        }
        self.dials[dial as usize].state = DialState::Done(Ok((c, gen)));
        self.schedule(now + lat, Event::DialDone { dial });
    }

    fn on_dial_done(&mut self, dial: u32) {
        let Some(d) = self.dials.get_mut(dial as usize) else {
            return;
        };
        d.fired = true;
        if matches!(d.state, DialState::InFlight) {
            d.state = DialState::Done(Err(DialError::Timeout));
        }
        if d.abandoned {
            if let DialState::Done(Ok((c, gen))) = d.state {
                self.dials.remove(dial as usize);
                self.muxer_dropped(c, gen, 0);
            } else {
                self.dials.remove(dial as usize);
            }
            return;
        }
        if let Some(w) = d.waker.take() {
            self.to_wake.push(w);
        }
    }

    /// A dial from another partition reaches `to` (in this one).
    fn on_remote_dial_arrive(&mut self, dial: u32, from: u32, to: u32) {
        let now = now();
        let lat = self.latency_ns(from, to);
        let back = self
            .remote_part(from)
            .expect("a remote dial comes from another partition");
        let target = &self.nodes[to as usize];
        let from_up = self.nodes[from as usize].up;
        let (at, result) =
            if !target.up || !from_up || !target.reachable || self.separated(from, to) {
                // Nothing answers: the dialer times out (no earlier than a
                // round trip, since the answer travels between partitions).
                let t = (now + self.cfg.dial_timeout_ns).saturating_sub(lat);
                (t.max(now + lat), Err(DialError::Timeout))
            } else if !target.listening {
                (now + lat, Err(DialError::Refused))
            } else {
                let xid = self.part.as_mut().map_or(0, |p| p.xid());
                let (c, gen) = self.insert_conn([from, to], lat, Some((back, xid)));
                self.stats.connections_opened += 1;
                let t = &mut self.nodes[to as usize];
                t.incoming.push_back((c, gen));
                if let Some(w) = t.listener_waker.take() {
                    self.to_wake.push(w);
                }
                (now + lat, Ok(xid))
            };
        self.send(back, at, RemoteMsg::DialDone { dial, result });
    }

    /// A new open connection `[dialer, listener]` (with, for a half of a
    /// connection between partitions, the other partition and the run-wide
    /// id); returns its slot and generation.
    fn insert_conn(&mut self, nodes: [u32; 2], lat: u64, cross: Option<(u16, u64)>) -> (u32, u32) {
        let gen = self.gen();
        let c = self.conns.insert(Conn {
            gen,
            nodes,
            latency_ns: lat,
            inbound: [VecDeque::new(), VecDeque::new()],
            closed_at: [None, None],
            waker: [None, None],
            dropped: [false, false],
            cross,
        }) as u32;
        if let (Some((_, xid)), Some(p)) = (cross, self.part.as_mut()) {
            p.conns.insert(xid, c);
        }
        (c, gen)
    }

    /// The outcome of a dial to another partition reaches the dialer.
    fn on_remote_dial_done(&mut self, dial: u32, result: Result<u64, DialError>) {
        let Some(d) = self.dials.get(dial as usize) else {
            return;
        };
        let (from, to) = (d.from, d.to.expect("a remote dial has a target"));
        let state = match result {
            Ok(xid) => {
                let lat = self.latency_ns(from, to);
                let back = self
                    .remote_part(to)
                    .expect("a remote dial goes to another partition");
                DialState::Done(Ok(self.insert_conn([from, to], lat, Some((back, xid)))))
            }
            Err(e) => DialState::Done(Err(e)),
        };
        self.dials[dial as usize].state = state;
        self.on_dial_done(dial);
    }

    /// Handles a message from the inbox that is due now.
    fn on_remote(&mut self, slot: u32) {
        let msg = self.inbox.remove(slot as usize);
        let now = now();
        match msg {
            RemoteMsg::Arrive {
                stream,
                gen,
                dir,
                to,
                bytes,
                head_at,
            } => {
                if self.stream(stream, gen).is_some() {
                    self.arrive(stream, dir, bytes, head_at);
                } else {
                    // Nobody reads them any more, but they still cross the downlink.
                    self.downlink(to, head_at, bytes.len());
                    self.recycle(bytes);
                }
                return;
            }
            RemoteMsg::ArriveFin { stream, gen, dir } => {
                if self.stream(stream, gen).is_some() {
                    self.arrive_fin(stream, dir);
                }
                return;
            }
            RemoteMsg::Note(note) => {
                if let Some(f) = self.filter.as_mut() {
                    f.learn(note);
                }
                return;
            }
            _ => {}
        }
        let Some(p) = self.part.as_mut() else {
            return;
        };
        match msg {
            RemoteMsg::Arrive { .. } | RemoteMsg::ArriveFin { .. } | RemoteMsg::Note(_) => {}
            RemoteMsg::DialArrive { dial, from, to } => self.on_remote_dial_arrive(dial, from, to),
            RemoteMsg::DialDone { dial, result } => self.on_remote_dial_done(dial, result),
            RemoteMsg::StreamOpen {
                xconn,
                xstream,
                id,
                opener_side,
            } => {
                let Some(&c) = p.conns.get(&xconn) else {
                    return;
                };
                let from_part = (xstream >> 48) as u16;
                let conn = &self.conns[c as usize];
                let (cgen, nodes, lat) = (conn.gen, conn.nodes, conn.latency_ns);
                let side = opener_side as usize;
                if conn.closed_at[1 - side].is_some_and(|t| t <= now) {
                    // This side has closed: nobody will accept it.
                    return;
                }
                let sgen = self.gen();
                let s = self.streams.insert(Stream {
                    gen: sgen,
                    id,
                    conn: (c, cgen),
                    nodes: [nodes[side], nodes[1 - side]],
                    sides: [opener_side, 1 - opener_side],
                    latency_ns: lat,
                    pipes: [Pipe::default(), Pipe::default()],
                    dropped: [false, false],
                    cross: Some((from_part, xstream)),
                }) as u32;
                if let Some(p) = self.part.as_mut() {
                    p.streams.insert(xstream, s);
                }
                let conn = &mut self.conns[c as usize];
                conn.inbound[1 - side].push_back((now, s, sgen));
                if let Some(w) = conn.waker[1 - side].take() {
                    self.to_wake.push(w);
                }
            }
            RemoteMsg::Data {
                xstream,
                dir,
                bytes,
                head_at,
            } => {
                let Some(&s) = p.streams.get(&xstream) else {
                    return;
                };
                self.arrive(s, dir, bytes, head_at);
            }
            RemoteMsg::Fin { xstream, dir } => {
                let Some(&s) = p.streams.get(&xstream) else {
                    return;
                };
                self.arrive_fin(s, dir);
            }
            RemoteMsg::Lost { xconn } => {
                let Some(&c) = p.conns.get(&xconn) else {
                    return;
                };
                let conn = &mut self.conns[c as usize];
                for side in 0..2 {
                    conn.closed_at[side] = Some(conn.closed_at[side].map_or(now, |t| t.min(now)));
                    if let Some(w) = conn.waker[side].take() {
                        self.to_wake.push(w);
                    }
                }
            }
            RemoteMsg::Close { xconn, side } => {
                let Some(&c) = p.conns.get(&xconn) else {
                    return;
                };
                let conn = &mut self.conns[c as usize];
                let (s, far) = (side as usize, 1 - side as usize);
                conn.closed_at[s].get_or_insert(now);
                conn.closed_at[far] = Some(conn.closed_at[far].map_or(now, |t| t.min(now)));
                if let Some(w) = conn.waker[far].take() {
                    self.to_wake.push(w);
                }
            }
        }
    }

    /// Bytes written in direction `dir` of stream `s` reach its reader now
    /// (their head reached the reader's downlink at `head_at`): a
    /// download-limited reader's downlink takes them in arrival order,
    /// after what it is still receiving (`S / down_bps` each), and delivery
    /// stays FIFO per direction.
    fn arrive(&mut self, s: u32, dir: u8, bytes: Vec<u8>, head_at: u64) {
        let now = now();
        let to = self.streams[s as usize].nodes[1 - dir as usize];
        let at = self.downlink(to, head_at, bytes.len()).max(now);
        let pipe = &mut self.streams[s as usize].pipes[dir as usize];
        let at = at.max(pipe.chunks.back().map_or(0, |c| c.0));
        pipe.chunks.push_back((at, bytes));
        self.wake_reader_at(s, dir, at);
    }

    /// Wakes the reader of direction `dir` of stream `s` at `at` (now, or
    /// by an event then).
    fn wake_reader_at(&mut self, s: u32, dir: u8, at: u64) {
        let st = &mut self.streams[s as usize];
        if at > now() {
            let gen = st.gen;
            self.schedule(
                at,
                Event::WakePipe {
                    stream: s,
                    gen,
                    dir,
                },
            );
        } else if let Some(w) = st.pipes[dir as usize].reader_waker.take() {
            self.to_wake.push(w);
        }
    }

    /// `len` bytes arriving now at `to`, whose head reached its downlink at
    /// `head_at`, pass its downlink queue (if it has a limit): when their
    /// tail is through.
    fn downlink(&mut self, to: u32, head_at: u64, len: usize) -> u64 {
        let now = now();
        let down = self.nodes[to as usize]
            .down_bps
            .map(|b| ((b as f64 * self.bandwidth_factor(to)) as u64).max(1));
        let Some(bps) = down else {
            return now;
        };
        let n = &mut self.nodes[to as usize];
        let d_start = head_at.max(n.down_free_at);
        let at = now.max(d_start + transfer_ns(len as u64, bps));
        n.down_free_at = at;
        at
    }

    /// Keeps a small chunk buffer for a later write.
    fn recycle(&mut self, data: Vec<u8>) {
        recycle(&mut self.spare_chunks, data);
    }

    /// The end of direction `dir` of stream `s` reaches its reader now,
    /// after the data its downlink still holds.
    fn arrive_fin(&mut self, s: u32, dir: u8) {
        let pipe = &mut self.streams[s as usize].pipes[dir as usize];
        let at = now().max(pipe.chunks.back().map_or(0, |c| c.0));
        pipe.fin_at = Some(at);
        self.wake_reader_at(s, dir, at);
    }

    // ----- connections -----

    fn conn(&mut self, c: u32, gen: u32) -> Option<&mut Conn> {
        self.conns.get_mut(c as usize).filter(|x| x.gen == gen)
    }

    /// The remote node of side `side` of connection `c`.
    pub(crate) fn conn_nodes(&self, c: u32) -> [u32; 2] {
        self.conns[c as usize].nodes
    }

    pub(crate) fn conn_closed_for(&mut self, c: u32, gen: u32, side: u8) -> bool {
        let now = now();
        match self.conn(c, gen) {
            Some(conn) => conn.closed_at[side as usize].is_some_and(|t| t <= now),
            None => true,
        }
    }

    pub(crate) fn poll_muxer(&mut self, c: u32, gen: u32, side: u8, waker: &Waker) -> bool {
        let closed = self.conn_closed_for(c, gen, side);
        if !closed {
            if let Some(conn) = self.conn(c, gen) {
                conn.waker[side as usize] = Some(waker.clone());
            }
        }
        closed
    }

    pub(crate) fn poll_inbound(
        &mut self,
        c: u32,
        gen: u32,
        side: u8,
        waker: &Waker,
    ) -> Result<Option<(u32, u32)>, ()> {
        if self.conn_closed_for(c, gen, side) {
            return Err(());
        }
        let now = now();
        let conn = self.conn(c, gen).ok_or(())?;
        let q = &mut conn.inbound[side as usize];
        if let Some(&(at, s, sgen)) = q.front() {
            if at <= now {
                q.pop_front();
                return Ok(Some((s, sgen)));
            }
        }
        conn.waker[side as usize] = Some(waker.clone());
        Ok(None)
    }

    pub(crate) fn open_outbound(&mut self, c: u32, gen: u32, side: u8) -> Option<(u32, u32)> {
        if self.conn_closed_for(c, gen, side) {
            return None;
        }
        let now = now();
        let sgen = self.gen();
        // Stream ids are unique in the run: partition `me` of `parts` takes
        // every `parts`-th (all of them when not partitioned).
        let (me, parts) = self.partition_of_world();
        let id = self.next_stream_id * u64::from(parts) + u64::from(me);
        self.next_stream_id += 1;
        let conn = self.conn(c, gen)?;
        let (nodes, lat, conn_cross) = (conn.nodes, conn.latency_ns, conn.cross);
        let cross = match (conn_cross, self.part.as_mut()) {
            (Some((part, xconn)), Some(p)) => Some((part, xconn, p.xid())),
            _ => None,
        };
        // Pipe 0 always carries bytes from the opener (side of stream 0) to the accepter.
        let opener = nodes[side as usize];
        let accepter = nodes[1 - side as usize];
        let s = self.streams.insert(Stream {
            gen: sgen,
            id,
            conn: (c, gen),
            nodes: [opener, accepter],
            sides: [side, 1 - side],
            latency_ns: lat,
            pipes: [Pipe::default(), Pipe::default()],
            dropped: [false, false],
            cross: cross.map(|(part, _, xstream)| (part, xstream)),
        }) as u32;
        self.stats.substreams_opened += 1;
        let at = now + lat;
        if let Some((part, xconn, xstream)) = cross {
            if let Some(p) = self.part.as_mut() {
                p.streams.insert(xstream, s);
            }
            self.send(
                part,
                at,
                RemoteMsg::StreamOpen {
                    xconn,
                    xstream,
                    id,
                    opener_side: side,
                },
            );
            return Some((s, sgen));
        }
        let conn = self.conn(c, gen)?;
        conn.inbound[1 - side as usize].push_back((at, s, sgen));
        self.schedule(
            at,
            Event::WakeMuxer {
                conn: c,
                gen,
                side: 1 - side,
            },
        );
        Some((s, sgen))
    }

    /// Side `side` closes the connection in an orderly way: the far side sees
    /// it one latency later.
    pub(crate) fn close_conn(&mut self, c: u32, gen: u32, side: u8) {
        let now = now();
        let Some(conn) = self.conn(c, gen) else {
            return;
        };
        let lat = conn.latency_ns;
        let s = side as usize;
        let first = conn.closed_at[s].is_none();
        if first {
            conn.closed_at[s] = Some(now);
        }
        let far = conn.closed_at[1 - s].map_or(now + lat, |t| t.min(now + lat));
        conn.closed_at[1 - s] = Some(far);
        if let Some((part, xconn)) = conn.cross {
            // The far side is in another partition: it learns one latency later.
            if first {
                self.send(part, now + lat, RemoteMsg::Close { xconn, side });
            }
            return;
        }
        self.schedule(
            far,
            Event::WakeMuxer {
                conn: c,
                gen,
                side: 1 - side,
            },
        );
    }

    /// The connection is lost (crash, cut link): each side notices after the
    /// detection delay.
    fn lose_conn(&mut self, c: u32) {
        let now = now();
        let delay = self.cfg.detection_delay_ns;
        let conn = &mut self.conns[c as usize];
        let (gen, cross, lat) = (conn.gen, conn.cross, conn.latency_ns);
        for side in 0..2u8 {
            let t = conn.closed_at[side as usize].map_or(now + delay, |t| t.min(now + delay));
            conn.closed_at[side as usize] = Some(t);
            self.queue.push(t, Event::WakeMuxer { conn: c, gen, side });
        }
        if let Some((part, xconn)) = cross {
            // Every partition applies a crash, cut or network partition to
            // its own halves at the same instant; this also reaches a half
            // that did not exist yet (a dial answer in flight). Never sooner
            // than a latency, so never before that answer.
            self.send(part, now + delay.max(lat), RemoteMsg::Lost { xconn });
        }
    }

    pub(crate) fn muxer_dropped(&mut self, c: u32, gen: u32, side: u8) {
        let Some(conn) = self.conn(c, gen) else {
            return;
        };
        let open = conn.closed_at[side as usize].is_none();
        conn.dropped[side as usize] = true;
        // A cross-partition connection has one side here: it is done when that side is.
        let (both, cross) = (conn.dropped == [true, true], conn.cross);
        if open {
            self.close_conn(c, gen, side);
        }
        if let Some((_, xconn)) = cross {
            if let Some(p) = self.part.as_mut() {
                p.conns.remove(&xconn);
            }
            // Substreams the other side opened that this side never accepted.
            let conn = self.conns.remove(c as usize);
            for &(_, s, sgen) in &conn.inbound[side as usize] {
                if let Some(st) = self.streams.get(s as usize).filter(|x| x.gen == sgen) {
                    let end = st.sides.iter().position(|&x| x == side).unwrap_or(1) as u8;
                    self.stream_dropped(s, sgen, end);
                }
            }
        } else if both {
            self.conns.remove(c as usize);
        }
    }

    /// Crashes `node`: it stops listening and every connection it has is lost.
    pub fn crash(&mut self, node: u32) {
        let n = &mut self.nodes[node as usize];
        n.up = false;
        n.listening = false;
        n.incoming.clear();
        let lost: Vec<u32> = self
            .conns
            .iter()
            .filter(|(_, c)| c.nodes.contains(&node) && c.closed_at.iter().any(Option::is_none))
            .map(|(k, _)| k as u32)
            .collect();
        for c in lost {
            self.lose_conn(c);
        }
    }

    /// Brings a crashed node back (it must listen again through its transport).
    pub fn restart(&mut self, node: u32) {
        self.nodes[node as usize].up = true;
    }

    /// Cuts every open connection between `a` and `b` (both notice after the detection delay).
    pub fn cut_link(&mut self, a: u32, b: u32) -> usize {
        let lost: Vec<u32> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                pair(c.nodes[0], c.nodes[1]) == pair(a, b)
                    && c.closed_at.iter().any(Option::is_none)
            })
            .map(|(k, _)| k as u32)
            .collect();
        for &c in &lost {
            self.lose_conn(c);
        }
        lost.len()
    }

    // ----- substreams -----

    fn stream(&mut self, s: u32, gen: u32) -> Option<&mut Stream> {
        self.streams.get_mut(s as usize).filter(|x| x.gen == gen)
    }

    /// Writes `buf` from `end` (0 = opener, 1 = accepter) of stream `s`:
    /// `Ok(Some(n))` accepted, `Ok(None)` the uplink is full (waker stored,
    /// woken when it drains), `Err` the stream or connection is gone.
    ///
    /// Timing: the bytes leave after the sender's uplink has sent what it
    /// queued before (`S / up_bps`), travel the link latency (plus jitter,
    /// plus one RTO per loss), and complete at the receiver no earlier than
    /// its downlink allows: a queue in arrival order, `S / down_bps` after
    /// what arrived before (see `arrive`).
    /// For an idle path this is `latency + S / min(up, down)`. Delivery stays
    /// FIFO per direction.
    pub(crate) fn write(
        &mut self,
        s: u32,
        gen: u32,
        end: u8,
        buf: &[u8],
        waker: &Waker,
    ) -> Result<Option<usize>, ()> {
        let now = now();
        let Some(st) = self.stream(s, gen) else {
            return Err(());
        };
        let (c, cgen) = st.conn;
        let conn_closed = match self.conns.get(c as usize).filter(|x| x.gen == cgen) {
            Some(conn) => conn.closed_at.iter().any(Option::is_some),
            None => true,
        };
        if conn_closed {
            return Err(());
        }
        let st = self.stream(s, gen).ok_or(())?;
        let e = end as usize;
        if st.pipes[e].write_closed {
            return Err(());
        }
        let (from, to, base_lat) = (st.nodes[e], st.nodes[1 - e], st.latency_ns);
        let (id, written, cross) = (st.id, buf.len(), st.cross.is_some());
        // Uplink: serialization and backpressure.
        let up = self.nodes[from as usize]
            .up_bps
            .map(|b| ((b as f64 * self.bandwidth_factor(from)) as u64).max(1));
        if let Some(bps) = up {
            let n = &mut self.nodes[from as usize];
            let backlog_ns = n.up_free_at.saturating_sub(now);
            let backlog_bytes = (u128::from(backlog_ns) * u128::from(bps) / 8_000_000_000) as u64;
            // Block while the queue is over the buffer size with this write, unless
            // at most half full (so one write larger than the buffer still goes through).
            let limit = self.cfg.uplink_buffer_bytes;
            if backlog_bytes > limit / 2 && backlog_bytes + buf.len() as u64 > limit {
                n.blocked_writers.push(waker.clone());
                if !n.drain_scheduled {
                    n.drain_scheduled = true;
                    // Wake writers when half the buffer has drained.
                    let half_ns = (u128::from(limit / 2) * 8_000_000_000 / u128::from(bps)) as u64;
                    let at = n.up_free_at.saturating_sub(half_ns).max(now + 1);
                    self.schedule(at, Event::UplinkDrained { node: from });
                }
                return Ok(None);
            }
        }
        // A wire-level adversary may change what is really sent.
        let mut rewritten = Vec::new();
        let changed = match self.filter.as_mut() {
            Some(f) if f.wants(from, to) => f.rewrite(from, to, id, now, buf, &mut rewritten),
            _ => false,
        };
        let buf: &[u8] = if changed {
            if rewritten.is_empty() {
                return Ok(Some(written));
            }
            &rewritten
        } else {
            buf
        };
        let size = buf.len() as u64;
        let mut start = now;
        let mut up_done = now;
        if let Some(bps) = up {
            let n = &mut self.nodes[from as usize];
            start = n.up_free_at.max(now);
            up_done = start + transfer_ns(size, bps);
            n.up_free_at = up_done;
        }
        // The link: latency, its condition, jitter and loss.
        let cond = self.condition(from, to);
        let mut lat = base_lat + cond.extra_latency_ns;
        if self.cfg.jitter_ns > 0 {
            lat += self.net_rng.random_range(0..=self.cfg.jitter_ns);
        }
        if cond.loss > 0.0 {
            let p = cond.loss.min(0.99);
            while self.net_rng.random_bool(p) {
                lat += self.cfg.rto_ns;
            }
        }
        let arrival = up_done + lat;
        // A receiver's downlink is a queue in arrival order: bytes for a
        // download-limited receiver go through it when they arrive (see
        // `arrive`), in its own partition when that is another one.
        let limited = !cross && self.nodes[to as usize].down_bps.is_some();
        let st = self
            .streams
            .get_mut(s as usize)
            .filter(|x| x.gen == gen)
            .ok_or(())?;
        let queued = limited || st.pipes[e].queued;
        let at = arrival.max(st.pipes[e].last_at);
        let mut notes = Vec::new();
        if let Some(f) = self.filter.as_mut() {
            if f.wants(from, to) {
                match st.cross {
                    None => f.delivered(from, to, id, now, at),
                    Some(_) => notes = f.delivered_elsewhere(from, to, id, now, at),
                }
            }
        }
        if queued {
            // (Only local streams queue: notes are for other partitions.)
            debug_assert!(notes.is_empty());
            st.pipes[e].last_at = at;
            st.pipes[e].queued = true;
            let mut data = self.spare_chunks.pop().unwrap_or_default();
            data.extend_from_slice(buf);
            let slot = self.inbox.insert(RemoteMsg::Arrive {
                stream: s,
                gen,
                dir: end,
                to,
                bytes: data,
                head_at: start + lat,
            }) as u32;
            self.queue.push(at, Event::Remote { slot });
            self.count_write(from, to, id, at, buf);
            return Ok(Some(written));
        }
        if let Some((part, xstream)) = st.cross {
            // The reader is in another partition: the bytes travel as a message.
            st.pipes[e].last_at = at;
            // Writes that land at the same instant merge into one delivery,
            // as on a local pipe (when nothing was sent in between), unless
            // the reader's downlink times each write on its own.
            let remote_limited = self.nodes[to as usize].down_bps.is_some();
            let last = self
                .part
                .as_mut()
                .and_then(|p| p.outbox[part as usize].last_mut());
            match last {
                Some(Remote {
                    at: last_at,
                    msg:
                        RemoteMsg::Data {
                            xstream: x,
                            dir: d,
                            bytes,
                            ..
                        },
                }) if *last_at == at && *x == xstream && *d == end && !remote_limited => {
                    bytes.extend_from_slice(buf);
                }
                _ => {
                    let mut data = self.spare_chunks.pop().unwrap_or_default();
                    data.extend_from_slice(buf);
                    self.send(
                        part,
                        at,
                        RemoteMsg::Data {
                            xstream,
                            dir: end,
                            bytes: data,
                            head_at: start + lat,
                        },
                    );
                }
            }
            if !notes.is_empty() {
                // Before the bytes' message, which stays last so that a
                // later write at the same instant still merges into it.
                if let Some(p) = self.part.as_mut() {
                    let out = &mut p.outbox[part as usize];
                    let data = out.pop();
                    out.extend(notes.into_iter().map(|n| Remote {
                        at,
                        msg: RemoteMsg::Note(n),
                    }));
                    out.extend(data);
                }
            }
            self.count_write(from, to, id, at, buf);
            return Ok(Some(written));
        }
        let pipe = &mut st.pipes[e];
        // Writes that land at the same future instant merge into one delivery.
        let merged = match pipe.chunks.back_mut() {
            Some((t, data)) if *t == at && at > now => {
                data.extend_from_slice(buf);
                true
            }
            _ => false,
        };
        if !merged {
            let mut data = self.spare_chunks.pop().unwrap_or_default();
            data.extend_from_slice(buf);
            pipe.chunks.push_back((at, data));
        }
        pipe.last_at = at;
        if !merged {
            self.schedule(
                at,
                Event::WakePipe {
                    stream: s,
                    gen,
                    dir: end,
                },
            );
        }
        self.count_write(from, to, id, at, buf);
        Ok(Some(written))
    }

    /// Byte counters and the wire tap, for a write that is on its way.
    #[inline]
    fn count_write(&mut self, from: u32, to: u32, id: u64, at: u64, buf: &[u8]) {
        self.nodes[from as usize].bytes_sent += buf.len() as u64;
        self.nodes[to as usize].bytes_received += buf.len() as u64;
        self.stats.bytes += buf.len() as u64;
        self.stats.writes += 1;
        if let Some(tap) = self.tap.as_mut() {
            let prev = profile::enter(Phase::Metrics);
            tap.on_write(from, to, id, at, buf);
            profile::enter(prev);
        }
    }

    /// Reads into `buf` at `end` of stream `s`: `Ok(Some(n))` bytes read
    /// (0 = end of stream), `Ok(None)` nothing yet (waker stored), `Err` reset.
    pub(crate) fn read(
        &mut self,
        s: u32,
        gen: u32,
        end: u8,
        buf: &mut [u8],
        waker: &Waker,
    ) -> Result<Option<usize>, ()> {
        let now = now();
        let Some(st) = self.stream(s, gen) else {
            return Err(());
        };
        let ((c, cgen), side) = (st.conn, st.sides[end as usize]);
        let closed = self.conn_closed_for(c, cgen, side);
        let st = self
            .streams
            .get_mut(s as usize)
            .filter(|x| x.gen == gen)
            .ok_or(())?;
        let pipe = &mut st.pipes[1 - end as usize];
        let mut n = 0;
        while n < buf.len() {
            let Some((at, data)) = pipe.chunks.front() else {
                break;
            };
            if *at > now {
                break;
            }
            let avail = &data[pipe.head_off..];
            let k = avail.len().min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&avail[..k]);
            n += k;
            pipe.head_off += k;
            if pipe.head_off == data.len() {
                if let Some((_, data)) = pipe.chunks.pop_front() {
                    recycle(&mut self.spare_chunks, data);
                }
                pipe.head_off = 0;
            }
        }
        if n > 0 {
            return Ok(Some(n));
        }
        if closed {
            return Err(());
        }
        if pipe.chunks.is_empty() && pipe.fin_at.is_some_and(|t| t <= now) {
            return Ok(Some(0));
        }
        pipe.reader_waker = Some(waker.clone());
        Ok(None)
    }

    /// Half-closes `end`'s writing direction (the reader sees end-of-stream after the data in flight).
    pub(crate) fn close_write(&mut self, s: u32, gen: u32, end: u8) {
        let now = now();
        let Some(st) = self.stream(s, gen) else {
            return;
        };
        let (lat, reader) = (st.latency_ns, st.nodes[1 - end as usize]);
        let pipe = &mut st.pipes[end as usize];
        if pipe.write_closed {
            return;
        }
        pipe.write_closed = true;
        let at = (now + lat).max(pipe.last_at);
        pipe.last_at = at;
        if let Some((part, xstream)) = st.cross {
            self.send(part, at, RemoteMsg::Fin { xstream, dir: end });
            return;
        }
        let queued = self.streams[s as usize].pipes[end as usize].queued;
        if queued || self.nodes[reader as usize].down_bps.is_some() {
            // After the bytes still on their way to the reader's downlink.
            let slot = self.inbox.insert(RemoteMsg::ArriveFin {
                stream: s,
                gen,
                dir: end,
            }) as u32;
            self.queue.push(at, Event::Remote { slot });
            return;
        }
        let pipe = &mut self.streams[s as usize].pipes[end as usize];
        pipe.fin_at = Some(at);
        self.schedule(
            at,
            Event::WakePipe {
                stream: s,
                gen,
                dir: end,
            },
        );
    }

    pub(crate) fn stream_dropped(&mut self, s: u32, gen: u32, end: u8) {
        self.close_write(s, gen, end);
        let Some(st) = self.stream(s, gen) else {
            return;
        };
        st.dropped[end as usize] = true;
        if let Some((_, xstream)) = st.cross {
            // The other end is in another partition: this end is all there is here.
            if let Some(p) = self.part.as_mut() {
                p.streams.remove(&xstream);
            }
            self.streams.remove(s as usize);
        } else if st.dropped == [true, true] {
            self.streams.remove(s as usize);
        }
    }

    /// Handles a network event popped from the queue; returns `false` for
    /// events that are not the network's (application events).
    pub fn handle(&mut self, ev: Event) -> bool {
        match ev {
            Event::WakePipe { stream, gen, dir } => {
                if let Some(st) = self.stream(stream, gen) {
                    if let Some(w) = st.pipes[dir as usize].reader_waker.take() {
                        self.to_wake.push(w);
                    }
                }
            }
            Event::WakeMuxer { conn, gen, side } => {
                if let Some(c) = self.conn(conn, gen) {
                    if let Some(w) = c.waker[side as usize].take() {
                        self.to_wake.push(w);
                    }
                }
            }
            Event::UplinkDrained { node } => {
                let n = &mut self.nodes[node as usize];
                n.drain_scheduled = false;
                self.to_wake.append(&mut n.blocked_writers);
            }
            Event::DialArrive { dial } => self.on_dial_arrive(dial),
            Event::DialDone { dial } => self.on_dial_done(dial),
            Event::Remote { slot } => self.on_remote(slot),
            Event::App { .. } => return false,
        }
        true
    }

    /// Wakes `node`'s listener (after it started listening again, for instance).
    pub(crate) fn wake_listener(&mut self, node: u32) {
        if let Some(w) = self.nodes[node as usize].listener_waker.take() {
            self.to_wake.push(w);
        }
    }

    /// Open connections right now (in a partitioned run: those whose dialer
    /// is in this partition, so that every connection counts in one).
    pub fn open_connections(&self) -> usize {
        self.conns
            .iter()
            .filter(|(_, c)| self.counts_here(c))
            .count()
    }

    fn counts_here(&self, c: &Conn) -> bool {
        c.closed_at.iter().all(Option::is_none) && (c.cross.is_none() || self.is_local(c.nodes[0]))
    }

    /// Open connections as (dialer, listener), sorted (in a partitioned run:
    /// as [`World::open_connections`]).
    pub fn connections(&self) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = self
            .conns
            .iter()
            .filter(|(_, c)| self.counts_here(c))
            .map(|(_, c)| (c.nodes[0], c.nodes[1]))
            .collect();
        v.sort_unstable();
        v
    }

    /// Live substreams.
    pub fn live_streams(&self) -> usize {
        self.streams.len()
    }
}
