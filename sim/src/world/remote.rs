//! Partitioned runs: the messages between partitions and this world's half of them.

use super::dial::DialError;
use super::pipe::{Pipe, Stream};
use super::tap::FilterNote;
use super::{now, Packed, World};
use crate::queue::Event;

/// A message between the partitions of a partitioned run: what one side of
/// a connection, substream or dial does that the other side sees `at` a
/// later virtual time (never earlier than one link latency after sending).
#[derive(Debug)]
pub struct Remote {
    /// When the receiving partition handles it, ns.
    pub at: u64,
    pub(super) msg: RemoteMsg,
}

#[derive(Debug)]
pub(super) enum RemoteMsg {
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
        bytes: Packed,
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
        bytes: Packed,
        head_at: u64,
    },
    /// The end of a local stream reaches a download-limited reader, after its data.
    ArriveFin { stream: u32, gen: u32, dir: u8 },
    /// The connection was lost (crash, cut link, network partition): both
    /// sides notice now.
    Lost { xconn: u64 },
    /// For this partition's wire filter, from the filter of the writer's.
    Note(FilterNote),
    /// (`tcp` model) Bytes of a local connection reach their reader's downlink.
    TcpArrive {
        conn: u32,
        cgen: u32,
        dir: u8,
        piece: super::tcp::Piece,
    },
    /// (`tcp` model) A reader's window update reaches the writer of pipe
    /// `dir` of a local stream.
    LocalCredit {
        stream: u32,
        gen: u32,
        dir: u8,
        bytes: u64,
    },
    /// (`tcp` model) A window update from the reader in another partition.
    Credit { xstream: u64, dir: u8, bytes: u64 },
    /// (`tcp` model) Bytes (and with `fin` the end) of stream `xstream`, in
    /// direction `dir`; `ack`: the connection (run-wide id) and direction to
    /// acknowledge them on once through the reader's downlink.
    TcpData {
        xstream: u64,
        dir: u8,
        bytes: Packed,
        fin: bool,
        ack: Option<(u64, u8)>,
    },
    /// (`tcp` model) A reader behind a download limit acknowledges a piece
    /// of direction `dir` of a local connection.
    LocalAck { conn: u32, cgen: u32, dir: u8 },
    /// (`tcp` model) The same from a reader in another partition.
    Ack { xconn: u64, dir: u8 },
}

/// Lookups only (never iterated), with a fixed hash function: a
/// `RandomState` would advance std's per-thread hash keys and shift the
/// `HashMap` orders of the swarms built after it.
#[allow(clippy::disallowed_types)] // lookups only, fixed hasher (above)
pub(super) type FixedMap = std::collections::HashMap<
    u64,
    u32,
    std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>,
>;

/// Partitioned-run state of a world (see [`World::set_partitioning`]).
pub(super) struct Part {
    pub(super) me: u16,
    pub(super) parts: u16,
    pub(super) owner: Vec<u16>,
    pub(super) outbox: Vec<Vec<Remote>>,
    /// Run-wide id of a cross-partition connection or stream to its local slot.
    pub(super) conns: FixedMap,
    pub(super) streams: FixedMap,
    pub(super) next_xid: u64,
}

impl Part {
    /// A run-wide id: a counter of this partition, tagged with the partition.
    pub(super) fn xid(&mut self) -> u64 {
        self.next_xid += 1;
        (u64::from(self.me) << 48) | self.next_xid
    }
}

impl World {
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
    pub(super) fn remote_part(&self, node: u32) -> Option<u16> {
        let p = self.part.as_ref()?;
        let o = p.owner[node as usize];
        (o != p.me).then_some(o)
    }

    pub(super) fn send(&mut self, to_part: u16, at: u64, msg: RemoteMsg) {
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

    /// Handles a message from the inbox that is due now.
    pub(super) fn on_remote(&mut self, slot: u32) {
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
            RemoteMsg::TcpArrive {
                conn,
                cgen,
                dir,
                piece,
            } => {
                if self.conn(conn, cgen).is_some() {
                    self.tcp_arrive(conn, dir, piece);
                }
                return;
            }
            RemoteMsg::LocalAck { conn, cgen, dir } => {
                if self.conn(conn, cgen).is_some() {
                    self.tcp_acked(conn, dir);
                }
                return;
            }
            RemoteMsg::LocalCredit {
                stream,
                gen,
                dir,
                bytes,
            } => {
                if self.stream(stream, gen).is_some() {
                    self.tcp_credit(stream, dir, bytes);
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
            RemoteMsg::Arrive { .. }
            | RemoteMsg::ArriveFin { .. }
            | RemoteMsg::Note(_)
            | RemoteMsg::TcpArrive { .. }
            | RemoteMsg::LocalCredit { .. }
            | RemoteMsg::LocalAck { .. } => {}
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
                    tcp: self
                        .cfg
                        .tcp
                        .as_ref()
                        .map(|t| super::tcp::StreamTcp::new(t, now)),
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
            RemoteMsg::Ack { xconn, dir } => {
                if let Some(&c) = p.conns.get(&xconn) {
                    self.tcp_acked(c, dir);
                }
            }
            RemoteMsg::TcpData {
                xstream,
                dir,
                bytes,
                fin,
                ack,
            } => {
                let s = p.streams.get(&xstream).copied();
                let ack = ack.and_then(|(xconn, d)| p.conns.get(&xconn).map(|&c| (c, d)));
                self.tcp_data_remote(s, dir, bytes, fin, ack);
            }
            RemoteMsg::Credit {
                xstream,
                dir,
                bytes,
            } => {
                if let Some(&s) = p.streams.get(&xstream) {
                    self.tcp_credit(s, dir, bytes);
                }
            }
            RemoteMsg::Lost { xconn } => {
                let Some(&c) = p.conns.get(&xconn) else {
                    return;
                };
                self.tcp_conn_closed(c);
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
                self.tcp_conn_closed(c);
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
}
