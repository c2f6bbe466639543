//! Connections: opening substreams, orderly closes, losses (crash, cut link, partition).

use super::pipe::{Pipe, Stream};
use super::remote::RemoteMsg;
use super::{now, pair, World};
use crate::queue::Event;
use std::collections::VecDeque;
use std::task::Waker;

#[derive(Debug)]
pub(super) struct Conn {
    pub(super) gen: u32,
    pub(super) nodes: [u32; 2],
    pub(super) latency_ns: u64,
    pub(super) inbound: [VecDeque<(u64, u32, u32)>; 2],
    pub(super) closed_at: [Option<u64>; 2],
    pub(super) waker: [Option<Waker>; 2],
    pub(super) dropped: [bool; 2],
    /// For a connection whose other side is in another partition: that
    /// partition and the connection's run-wide id.
    pub(super) cross: Option<(u16, u64)>,
    /// The `tcp` model's state.
    pub(super) tcp: Option<Box<super::tcp::ConnTcp>>,
}

impl World {
    /// A new open connection `[dialer, listener]` (with, for a half of a
    /// connection between partitions, the other partition and the run-wide
    /// id); returns its slot and generation.
    pub(super) fn insert_conn(
        &mut self,
        nodes: [u32; 2],
        lat: u64,
        cross: Option<(u16, u64)>,
    ) -> (u32, u32) {
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
            tcp: self.cfg.tcp.as_ref().map(super::tcp::ConnTcp::new),
        }) as u32;
        if let (Some((_, xid)), Some(p)) = (cross, self.part.as_mut()) {
            p.conns.insert(xid, c);
        }
        (c, gen)
    }

    pub(super) fn conn(&mut self, c: u32, gen: u32) -> Option<&mut Conn> {
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
            tcp: self
                .cfg
                .tcp
                .as_ref()
                .map(|t| super::tcp::StreamTcp::new(t, now)),
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
        let cross = conn.cross;
        if first {
            self.tcp_conn_closed(c);
        }
        if let Some((part, xconn)) = cross {
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
    pub(super) fn lose_conn(&mut self, c: u32) {
        let now = now();
        let delay = self.cfg.detection_delay_ns;
        self.tcp_conn_closed(c);
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
}
