//! The `tcp` transport model in the world: what a write does when
//! [`NetConfig::tcp`](super::NetConfig::tcp) is set (see [`crate::tcp`] for the
//! window and the framing, [`crate::share`] for link sharing).
//!
//! - A write call sends one muxer frame: up to a frame's worth of bytes and
//!   the stream's credit (the reader's receive window, returned as the
//!   reader consumes), once the connection's send buffer has room; the
//!   rest waits for the caller's next call (`Pending` while there is no
//!   credit or no room).
//! - Accepted bytes queue on their connection direction, in write order
//!   whatever their substream (one TCP connection carries every substream).
//! - Each round of the congestion window lets up to `cwnd` bytes leave; they
//!   leave through the sender's uplink, shared fairly with the sender's
//!   other active connections, or at once without an upload limit.
//! - Bytes that left reach the reader one link latency later (plus jitter,
//!   plus the repair time of a loss), in order per connection, then pass the
//!   reader's downlink, shared fairly among the connections arriving there.
//! - A connection is ready at each end some round trips after the dial
//!   (TCP and security handshakes, muxer negotiation).
//!
//! The sender's side (window, uplink) lives in the writer's partition and the
//! downlink in the reader's, so a partitioned run's window (the smallest link
//! latency) still holds. This file is the sender's side; `recv` the reader's.

mod recv;

use super::remote::RemoteMsg;
use super::{now, Packed, World};
use crate::queue::Event;
use crate::share::Share;
use crate::tcp::{TcpConfig, Window};
use rand::RngExt;
use std::collections::VecDeque;
use std::task::Waker;

/// The most payload a sender hands its uplink at once: the largest segment
/// Linux's TCP segmentation offload hands a NIC (64 KiB), in whole MSS.
fn max_unit(cfg: &TcpConfig) -> u64 {
    let mss = u64::from(cfg.mss.max(1));
    ((64 << 10) / mss).max(1) * mss
}

/// A connection's `tcp` state: each direction's sender side and receiver
/// side (in a partitioned run, only the local halves are used).
#[derive(Debug)]
pub(super) struct ConnTcp {
    send: [SendDir; 2],
    /// Bytes of each direction waiting in the reader's downlink.
    recv: [VecDeque<Piece>; 2],
}

/// The sender side of one direction of a connection.
#[derive(Debug)]
struct SendDir {
    win: Window,
    queue: VecDeque<Chunk>,
    /// Payload bytes queued, not yet sent.
    queued: u64,
    /// Payload bytes of the unit on the uplink (0: none).
    unit: u64,
    /// When the last bytes sent arrive (delivery stays in order).
    last_arrival: u64,
    /// Payload bytes in the last segment sent, when it was left open for
    /// more queued bytes to fill (0: closed). TCP fills segments across
    /// writes while data is queued; a segment goes out partly filled only
    /// when nothing else waits.
    fill: u64,
    /// Writers waiting for room in the send buffer.
    blocked: Vec<Waker>,
    /// Pieces of the round under way not yet acknowledged by a reader
    /// behind a download limit (their acknowledgment waits for the reader's
    /// downlink, so a slow downlink slows the sender: the ACK clock).
    pending_acks: u32,
    /// The round's time is up, but acknowledgments are still pending.
    round_due: bool,
}

/// One write (or end of stream) waiting to leave.
#[derive(Debug)]
struct Chunk {
    stream: u32,
    sgen: u32,
    /// The stream end that wrote it (its pipe).
    end: u8,
    app: Packed,
    /// TCP payload bytes (the write and its framing).
    payload: u64,
    /// Payload bytes sent so far, and the application bytes among them.
    sent: u64,
    app_sent: usize,
    fin: bool,
}

impl Chunk {
    /// A write (or, with `fin`, the end) of pipe `end` of stream `stream`;
    /// its payload is set when it is queued.
    fn new(stream: u32, sgen: u32, end: u8, app: Packed, fin: bool) -> Chunk {
        Chunk {
            stream,
            sgen,
            end,
            app,
            payload: 0,
            sent: 0,
            app_sent: 0,
            fin,
        }
    }
}

/// Bytes on their way through a reader's downlink.
#[derive(Debug)]
pub(super) struct Piece {
    pub(super) stream: u32,
    pub(super) sgen: u32,
    pub(super) dir: u8,
    pub(super) bytes: Packed,
    pub(super) wire: u64,
    pub(super) fin: bool,
    /// Its sender waits for its acknowledgment (one latency after it is
    /// through the reader's downlink) before the round can end.
    pub(super) ack: bool,
}

/// A stream's muxer flow control, per pipe (direction).
#[derive(Debug)]
pub(super) struct StreamTcp {
    /// Bytes the writer of each pipe may still send (its credit).
    credit: [u64; 2],
    /// The reader's receive window of each pipe.
    window: [u64; 2],
    /// Bytes the reader consumed since its last window update.
    consumed: [u64; 2],
    /// When the reader last sent a window update (or the stream opened), ns.
    updated_at: [u64; 2],
    waker: [Option<Waker>; 2],
}

/// A node's shared links.
#[derive(Debug, Default)]
pub(super) struct NodeTcp {
    up: Option<Share>,
    down: Option<Share>,
    /// The time of the pending link event, per link.
    up_at: Option<u64>,
    down_at: Option<u64>,
}

/// A connection direction as a flow of a shared link.
fn key(c: u32, d: u8) -> u64 {
    (u64::from(c) << 1) | u64::from(d)
}

fn unkey(k: u64) -> (u32, u8) {
    ((k >> 1) as u32, (k & 1) as u8)
}

impl SendDir {
    /// Bytes on the wire for `payload` more bytes of this direction: the
    /// headers of the segments they start (the open one is paid for).
    fn wire(&self, cfg: &TcpConfig, payload: u64) -> u64 {
        let mss = u64::from(cfg.mss.max(1));
        let segs = (self.fill + payload).div_ceil(mss) - u64::from(self.fill > 0);
        payload + segs * u64::from(cfg.segment_header_bytes)
    }
}

impl ConnTcp {
    pub(super) fn new(cfg: &TcpConfig) -> Box<ConnTcp> {
        let dir = || SendDir {
            win: Window::new(cfg),
            queue: VecDeque::new(),
            queued: 0,
            unit: 0,
            last_arrival: 0,
            fill: 0,
            pending_acks: 0,
            round_due: false,
            blocked: Vec::new(),
        };
        Box::new(ConnTcp {
            send: [dir(), dir()],
            recv: [VecDeque::new(), VecDeque::new()],
        })
    }
}

impl StreamTcp {
    pub(super) fn new(cfg: &TcpConfig, now: u64) -> Box<StreamTcp> {
        let w = cfg.stream_window_bytes.max(1);
        Box::new(StreamTcp {
            credit: [w, w],
            window: [w, w],
            consumed: [0, 0],
            updated_at: [now, now],
            waker: [None, None],
        })
    }
}

impl World {
    fn tcp_cfg(&self) -> &TcpConfig {
        self.cfg.tcp.as_ref().expect("the tcp model is on")
    }

    /// The round-trip time of connection `c` now (its latency both ways,
    /// with the extra latency of the conditions in force).
    fn rtt(&self, c: u32) -> u64 {
        let conn = &self.conns[c as usize];
        let cond = self.condition(conn.nodes[0], conn.nodes[1]);
        2 * (conn.latency_ns + cond.extra_latency_ns)
    }

    /// A write under the `tcp` model (see the module doc).
    pub(super) fn tcp_write(
        &mut self,
        s: u32,
        gen: u32,
        end: u8,
        buf: &[u8],
        waker: &Waker,
    ) -> Result<Option<usize>, ()> {
        let (from, to) = self.writable(s, gen, end)?;
        let e = end as usize;
        let st = &mut self.streams[s as usize];
        let ((c, _), d, id) = (st.conn, st.sides[e], st.id);
        let credit = match st.tcp.as_mut() {
            Some(t) if t.credit[e] == 0 => {
                t.waker[e] = Some(waker.clone());
                return Ok(None);
            }
            Some(t) => t.credit[e],
            None => u64::MAX,
        };
        let cwnd_room = {
            let cfg = self.cfg.tcp.as_ref().ok_or(())?;
            let sd = &self.conns[c as usize].tcp.as_ref().ok_or(())?.send[d as usize];
            cfg.send_buffer(sd.win.cwnd)
                .saturating_sub(sd.queued + sd.win.in_flight())
        };
        if cwnd_room == 0 {
            let t = self.conns[c as usize].tcp.as_mut().ok_or(())?;
            t.send[d as usize].blocked.push(waker.clone());
            return Ok(None);
        }
        // One muxer frame per write call, as yamux does (the caller loops);
        // a frame goes into the send buffer whole once there is room.
        let frame = u64::from(self.tcp_cfg().frame_bytes.max(1));
        let n = (buf.len() as u64).min(credit).min(frame) as usize;
        if let Some(t) = self.streams[s as usize].tcp.as_mut() {
            t.credit[e] -= n as u64;
        }
        // A wire-level adversary may change what is really sent.
        let mut rewritten = Vec::new();
        let Some(bytes) = self.rewrite(from, to, id, &buf[..n], &mut rewritten) else {
            return Ok(Some(n));
        };
        let app = Packed::copy_of(bytes, None);
        self.enqueue(c, d, Chunk::new(s, gen, end, app, false));
        Ok(Some(n))
    }

    /// Ends direction `end` of stream `s` under the `tcp` model: the end of
    /// stream leaves after the bytes queued before it.
    pub(super) fn tcp_close_write(&mut self, s: u32, gen: u32, end: u8) {
        let st = &self.streams[s as usize];
        let ((c, cgen), d) = (st.conn, st.sides[end as usize]);
        if self.conn(c, cgen).is_none_or(|x| x.tcp.is_none()) {
            return;
        }
        self.enqueue(c, d, Chunk::new(s, gen, end, Packed::default(), true));
    }

    /// Queues `ch` on direction `d` of connection `c` and sends what may go.
    fn enqueue(&mut self, c: u32, d: u8, mut ch: Chunk) {
        ch.payload = if ch.fin {
            u64::from(self.tcp_cfg().frame_overhead_bytes)
        } else {
            self.tcp_cfg().payload_len(ch.app.len() as u64)
        };
        let Some(t) = self.conns[c as usize].tcp.as_mut() else {
            return;
        };
        let sd = &mut t.send[d as usize];
        sd.queued += ch.payload;
        sd.queue.push_back(ch);
        self.pump(c, d);
    }

    /// Sends what direction `d` of connection `c` may send now: starts a
    /// round if none is under way, then puts the next unit on the uplink
    /// (or sends at once without an upload limit).
    fn pump(&mut self, c: u32, d: u8) {
        let now = now();
        let rtt = self.rtt(c);
        let conn = &mut self.conns[c as usize];
        let (gen, from) = (conn.gen, conn.nodes[d as usize]);
        let cfg = self.cfg.tcp.as_ref().expect("tcp");
        let Some(t) = conn.tcp.as_mut() else {
            return;
        };
        let sd = &mut t.send[d as usize];
        if sd.queue.is_empty() {
            return;
        }
        if sd.win.round_end().is_none() {
            let end = sd.win.start_round(cfg, now, rtt);
            self.queue.push(
                end,
                Event::TcpRound {
                    conn: c,
                    gen,
                    dir: d,
                },
            );
        }
        let up = self.up_bps(from);
        loop {
            let cfg = self.cfg.tcp.as_ref().expect("tcp");
            let Some(t) = self.conns[c as usize].tcp.as_mut() else {
                return;
            };
            let sd = &mut t.send[d as usize];
            if sd.unit > 0 {
                return;
            }
            let Some(head) = sd.queue.front() else {
                return;
            };
            // A unit is what the sender hands its uplink at once: at most
            // the rest of the head write, the round's allowance, and one
            // offload segment (so the window's accounting stays fine-grained
            // on a slow uplink). It counts against the window from now on.
            let cap = if up.is_some() {
                max_unit(cfg)
            } else {
                u64::MAX
            };
            let unit = (head.payload - head.sent).min(sd.win.allowance()).min(cap);
            if unit == 0 {
                return;
            }
            sd.queued -= unit;
            sd.win.on_sent(unit, now);
            match up {
                None => self.transmit(c, d, unit, now),
                Some(bps) => {
                    sd.unit = unit;
                    let wire = sd.wire(cfg, unit);
                    let share = self.nodes[from as usize]
                        .tcp
                        .get_or_insert_with(Box::default)
                        .up
                        .get_or_insert_with(|| Share::new(bps));
                    share.set_bps(now, bps);
                    share.add(now, key(c, d), wire);
                    self.schedule_link(from, false);
                    return;
                }
            }
        }
    }

    /// `payload` bytes from the head of direction `d` of connection `c`
    /// leave the sender at `at`: they reach the reader one latency later
    /// (plus jitter and loss repair), in order.
    fn transmit(&mut self, c: u32, d: u8, payload: u64, at: u64) {
        let rtt = self.rtt(c);
        let cfg = self.cfg.tcp.clone().expect("tcp");
        let conn = &mut self.conns[c as usize];
        let (from, to, lat) = (
            conn.nodes[d as usize],
            conn.nodes[1 - d as usize],
            conn.latency_ns,
        );
        let Some(t) = conn.tcp.as_mut() else {
            return;
        };
        let sd = &mut t.send[d as usize];
        let Some(ch) = sd.queue.front_mut() else {
            return;
        };
        let payload = payload.min(ch.payload - ch.sent);
        ch.sent += payload;
        let app_to = if ch.sent >= ch.payload {
            ch.app.len()
        } else {
            (u128::from(ch.sent) * ch.app.len() as u128 / u128::from(ch.payload.max(1))) as usize
        };
        let bytes = if ch.app_sent == 0 && app_to == ch.app.len() {
            std::mem::take(&mut ch.app)
        } else {
            ch.app.slice(ch.app_sent, app_to)
        };
        ch.app_sent = app_to;
        let (stream, sgen, end, fin) =
            (ch.stream, ch.sgen, ch.end, ch.fin && ch.sent >= ch.payload);
        if ch.sent >= ch.payload {
            sd.queue.pop_front();
        }
        let in_round = sd.win.in_flight();
        // The link: its condition's extra latency, jitter, and loss: a
        // segment lost is repaired by fast retransmit one round trip later
        // (the window halves), or, with fewer than four segments in flight,
        // after a retransmission timeout (the window falls to the loss window).
        let cond = self.condition(from, to);
        let mut delay = lat + cond.extra_latency_ns;
        if self.cfg.jitter_ns > 0 {
            delay += self.net_rng.random_range(0..=self.cfg.jitter_ns);
        }
        if cond.loss > 0.0 && payload > 0 {
            let segs = payload.div_ceil(u64::from(cfg.mss.max(1)));
            let p = 1.0 - (1.0 - cond.loss.min(0.99)).powf(segs as f64);
            while self.net_rng.random_bool(p.min(0.99)) {
                let timeout = in_round < 4 * u64::from(cfg.mss);
                delay += if timeout { cfg.rto_ns(rtt) } else { rtt };
                if let Some(t) = self.conns[c as usize].tcp.as_mut() {
                    t.send[d as usize].win.on_loss(&cfg, timeout);
                }
            }
        }
        let Some(t) = self.conns[c as usize].tcp.as_mut() else {
            return;
        };
        let sd = &mut t.send[d as usize];
        let arrival = (at + delay).max(sd.last_arrival);
        sd.last_arrival = arrival;
        let wire = sd.wire(&cfg, payload);
        sd.fill = if sd.queue.is_empty() {
            0
        } else {
            (sd.fill + payload) % u64::from(cfg.mss.max(1))
        };
        let ack = self.nodes[to as usize].down_bps.is_some();
        if ack {
            sd.pending_acks += 1;
        }
        self.nodes[from as usize].bytes_sent += wire;
        self.nodes[to as usize].bytes_received += wire;
        self.stats.bytes += bytes.len() as u64;
        self.stats.writes += 1;
        let piece = Piece {
            stream,
            sgen,
            dir: end,
            bytes,
            wire,
            fin,
            ack,
        };
        self.deliver_piece(c, d, piece, at, arrival);
    }

    /// The round under way on direction `d` of connection `c` ends: its
    /// bytes are acknowledged, the window grows, room frees in the send
    /// buffer, and the next round starts if data waits.
    pub(super) fn on_round(&mut self, c: u32, gen: u32, d: u8) {
        let Some(conn) = self.conn(c, gen) else {
            return;
        };
        let Some(t) = conn.tcp.as_mut() else {
            return;
        };
        let sd = &mut t.send[d as usize];
        if sd.pending_acks > 0 {
            sd.round_due = true;
            return;
        }
        self.end_round(c, d);
    }

    /// A piece of direction `d` of connection `c` was acknowledged by a
    /// reader behind a download limit; the last one ends a round whose
    /// time is up.
    pub(super) fn tcp_acked(&mut self, c: u32, d: u8) {
        let Some(t) = self.conns.get_mut(c as usize).and_then(|x| x.tcp.as_mut()) else {
            return;
        };
        let sd = &mut t.send[d as usize];
        sd.pending_acks = sd.pending_acks.saturating_sub(1);
        if sd.pending_acks == 0 && std::mem::take(&mut sd.round_due) {
            self.end_round(c, d);
        }
    }

    /// Bytes of a `tcp` connection from another partition reach their
    /// reader's partition now; `ack` names the connection and direction
    /// to acknowledge them on (when they pass a downlink), also when their
    /// stream is gone here.
    pub(super) fn tcp_data_remote(
        &mut self,
        s: Option<u32>,
        dir: u8,
        bytes: Packed,
        fin: bool,
        ack: Option<(u32, u8)>,
    ) {
        let Some(s) = s else {
            if let Some((c, d)) = ack {
                self.send_ack(c, d);
            }
            return;
        };
        if self.tcp_through_downlink(s, dir) {
            self.tcp_arrive_remote(s, dir, bytes, fin);
            return;
        }
        let head_at = now();
        if !bytes.is_empty() {
            self.arrive(s, dir, bytes, head_at);
        }
        if fin {
            self.arrive_fin(s, dir);
        }
    }

    /// The reader of direction `d` of connection `c` acknowledges a piece
    /// that passed its downlink: the sender learns one latency later.
    pub(super) fn send_ack(&mut self, c: u32, d: u8) {
        let now = now();
        let conn = &self.conns[c as usize];
        let (gen, cross, nodes) = (conn.gen, conn.cross, conn.nodes);
        let lat = conn.latency_ns + self.condition(nodes[0], nodes[1]).extra_latency_ns;
        match cross {
            Some((part, xconn)) => self.send(part, now + lat, RemoteMsg::Ack { xconn, dir: d }),
            None => {
                let slot = self.inbox.insert(RemoteMsg::LocalAck {
                    conn: c,
                    cgen: gen,
                    dir: d,
                }) as u32;
                self.queue.push(now + lat.max(1), Event::Remote { slot });
            }
        }
    }

    /// Ends the round under way on direction `d` of connection `c`.
    fn end_round(&mut self, c: u32, d: u8) {
        let cfg = self.cfg.tcp.clone().expect("tcp");
        let Some(t) = self.conns.get_mut(c as usize).and_then(|x| x.tcp.as_mut()) else {
            return;
        };
        let sd = &mut t.send[d as usize];
        sd.win.end_round(&cfg);
        let blocked = std::mem::take(&mut sd.blocked);
        self.to_wake.extend(blocked);
        self.pump(c, d);
    }
}
