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
use slab::Slab;
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;
use std::task::Waker;

mod conn;
mod dial;
mod links;
mod pipe;
mod remote;
mod tap;
mod tcp;

use crate::packed::Packed;
use conn::Conn;
use dial::Dial;
pub use dial::DialError;
use pipe::Stream;
pub use remote::Remote;
use remote::{Part, RemoteMsg};
pub use tap::{FilterNote, WireFilter, WireTap};

/// First address of the virtual address range (198.18.0.0/15, reserved for benchmarking).
pub const BASE_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);

/// Port every simulated peer listens on.
pub const LISTEN_PORT: u16 = 4001;

/// Chunk buffers larger than this are freed rather than recycled.
const SPARE_CHUNK_MAX_BYTES: usize = 16 << 10;

/// At most this many recycled chunk buffers are kept.
const SPARE_CHUNKS_MAX: usize = 4096;

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
    /// The `tcp` model's shared links (made when first used).
    tcp: Option<Box<tcp::NodeTcp>>,
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
    /// The `tcp` transport model's parameters (`None`: the `ideal` model:
    /// every write timed once, when it is made).
    pub tcp: Option<crate::tcp::TcpConfig>,
    /// The largest frame a reader may hold packed until it is complete
    /// (bytes; 0: none): the smallest size limit of the protocol's decoders
    /// (see `meshsim_packed::read_hold`). Memory only.
    pub read_hold_bytes: usize,
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
            tcp: None,
            read_hold_bytes: 0,
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
    // Under tcp a write call takes one muxer frame: codecs holding a large
    // frame packed unpack that much of it per call (memory only).
    let window = world
        .cfg
        .tcp
        .as_ref()
        .map_or(usize::MAX, |t| t.frame_bytes.max(1) as usize);
    meshsim_packed::set_write_window(window);
    meshsim_packed::set_read_hold(world.cfg.read_hold_bytes);
    WORLD.with(|w| *w.borrow_mut() = Some(world));
}

/// Removes this thread's world.
pub fn uninstall() -> Option<World> {
    meshsim_packed::set_write_window(usize::MAX);
    meshsim_packed::set_read_hold(0);
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
fn recycle(spare: &mut Vec<Vec<u8>>, data: Packed) {
    let Some(mut data) = data.into_plain() else {
        return;
    };
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
            tcp: None,
        });
        idx
    }

    /// The node listening at `ip:port`, if any.
    pub fn node_at(&self, ip: Ipv4Addr, port: u16) -> Option<u32> {
        self.ip_to_node.get(&(u32::from(ip), port)).copied()
    }

    fn gen(&mut self) -> u32 {
        self.next_gen = self.next_gen.wrapping_add(1);
        self.next_gen
    }

    fn schedule(&mut self, at: u64, ev: Event) {
        self.queue.push(at, ev);
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
            Event::TcpRound { conn, gen, dir } => self.on_round(conn, gen, dir),
            Event::Accept { conn, gen } => self.on_accept(conn, gen),
            Event::Link { node, down } => self.on_link(node, down),
            Event::App { .. } => return false,
        }
        true
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
