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
//! latency) still holds.

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

    /// Hands a piece that left at `sent` to its reader, where it arrives at
    /// `arrival`: through the reader's downlink, to another partition, or
    /// into the pipe.
    fn deliver_piece(&mut self, c: u32, d: u8, piece: Piece, sent: u64, arrival: u64) {
        let Some(st) = self
            .streams
            .get(piece.stream as usize)
            .filter(|x| x.gen == piece.sgen)
        else {
            // Nobody reads them any more; the reader's TCP still acknowledges them.
            if piece.ack {
                let (cgen, lat) = (
                    self.conns[c as usize].gen,
                    self.conns[c as usize].latency_ns,
                );
                let slot = self.inbox.insert(RemoteMsg::LocalAck {
                    conn: c,
                    cgen,
                    dir: d,
                }) as u32;
                self.queue.push(arrival + lat, Event::Remote { slot });
            }
            return;
        };
        let (id, cross, from, to) = (
            st.id,
            st.cross,
            st.nodes[piece.dir as usize],
            st.nodes[1 - piece.dir as usize],
        );
        if !piece.bytes.is_empty() {
            if let Some(f) = self.filter.as_mut() {
                if f.wants(from, to) && cross.is_none() {
                    f.delivered(from, to, id, sent, arrival);
                }
            }
            if let Some(tap) = self.tap.as_mut() {
                match &piece.bytes {
                    Packed::Plain(v) => tap.on_write(from, to, id, arrival, v),
                    p => tap.on_write(from, to, id, arrival, &p.to_vec()),
                }
            }
        }
        if let Some((part, xstream)) = cross {
            let notes = match self.filter.as_mut() {
                Some(f) if f.wants(from, to) && !piece.bytes.is_empty() => {
                    f.delivered_elsewhere(from, to, id, sent, arrival)
                }
                _ => Vec::new(),
            };
            for n in notes {
                self.send(part, arrival, RemoteMsg::Note(n));
            }
            let xconn = self.conns[c as usize].cross.map_or(0, |x| x.1);
            self.send(
                part,
                arrival,
                RemoteMsg::TcpData {
                    xstream,
                    dir: piece.dir,
                    bytes: piece.bytes,
                    fin: piece.fin,
                    ack: piece.ack.then_some((xconn, d)),
                },
            );
            return;
        }
        if self.nodes[to as usize].down_bps.is_some() {
            let cgen = self.conns[c as usize].gen;
            let slot = self.inbox.insert(RemoteMsg::TcpArrive {
                conn: c,
                cgen,
                dir: d,
                piece,
            }) as u32;
            self.queue.push(arrival, Event::Remote { slot });
        } else {
            self.put_in_pipe(piece, arrival);
        }
    }

    /// Bytes (or an end of stream) readable in their pipe at `at`.
    fn put_in_pipe(&mut self, piece: Piece, at: u64) {
        let Some(st) = self
            .streams
            .get_mut(piece.stream as usize)
            .filter(|x| x.gen == piece.sgen)
        else {
            return;
        };
        let pipe = &mut st.pipes[piece.dir as usize];
        let at = at.max(pipe.last_at);
        pipe.last_at = at;
        if !piece.bytes.is_empty() {
            pipe.chunks.push_back((at, piece.bytes));
        }
        if piece.fin {
            pipe.fin_at = Some(at);
        }
        self.wake_reader_at(piece.stream, piece.dir, at);
    }

    /// A piece of direction `d` of connection `c` reaches its reader's
    /// downlink now (local connections).
    pub(super) fn tcp_arrive(&mut self, c: u32, d: u8, piece: Piece) {
        let now = now();
        let Some(conn) = self.conns.get_mut(c as usize) else {
            return;
        };
        let to = conn.nodes[1 - d as usize];
        let Some(t) = conn.tcp.as_mut() else {
            return;
        };
        let wire = piece.wire;
        let q = &mut t.recv[d as usize];
        q.push_back(piece);
        if q.len() > 1 {
            return;
        }
        let Some(bps) = self.down_bps(to) else {
            let p = self.conns[c as usize]
                .tcp
                .as_mut()
                .and_then(|t| t.recv[d as usize].pop_front());
            if let Some(p) = p {
                self.put_in_pipe(p, now);
            }
            return;
        };
        let share = self.nodes[to as usize]
            .tcp
            .get_or_insert_with(Box::default)
            .down
            .get_or_insert_with(|| Share::new(bps));
        share.set_bps(now, bps);
        share.add(now, key(c, d), wire);
        self.schedule_link(to, true);
    }

    /// Bytes from another partition reach stream `s`'s reader now, through
    /// its downlink when it has a limit.
    fn tcp_arrive_remote(&mut self, s: u32, dir: u8, bytes: Packed, fin: bool) {
        let st = &self.streams[s as usize];
        let ((c, _), sgen) = (st.conn, st.gen);
        // The writer's side of the connection is the side of the stream end that writes.
        let d = st.sides[dir as usize];
        let cfg = self.tcp_cfg();
        let wire = if fin {
            cfg.wire_len(u64::from(cfg.frame_overhead_bytes))
        } else {
            cfg.wire_len(cfg.payload_len(bytes.len() as u64))
        };
        let piece = Piece {
            stream: s,
            sgen,
            dir,
            bytes,
            wire,
            fin,
            ack: true,
        };
        self.tcp_arrive(c, d, piece);
    }

    /// Whether bytes from another partition for pipe `dir` of stream `s`
    /// pass the `tcp` model's shared downlink (their reader has a limit).
    fn tcp_through_downlink(&self, s: u32, dir: u8) -> bool {
        self.cfg.tcp.is_some() && {
            let reader = self.streams[s as usize].nodes[1 - dir as usize];
            self.nodes[reader as usize].down_bps.is_some()
        }
    }

    fn down_bps(&self, node: u32) -> Option<u64> {
        self.nodes[node as usize]
            .down_bps
            .map(|b| ((b as f64 * self.bandwidth_factor(node)) as u64).max(1))
    }

    /// Schedules the next completion on `node`'s uplink (or downlink).
    fn schedule_link(&mut self, node: u32, down: bool) {
        let Some(nt) = self.nodes[node as usize].tcp.as_mut() else {
            return;
        };
        let (share, at) = if down {
            (&nt.down, &mut nt.down_at)
        } else {
            (&nt.up, &mut nt.up_at)
        };
        let Some(t) = share.as_ref().and_then(Share::next_done_ns) else {
            return;
        };
        if at.is_none_or(|a| t < a) {
            *at = Some(t);
            self.queue.push(t, Event::Link { node, down });
        }
    }

    /// A unit on `node`'s uplink or downlink may have completed.
    pub(super) fn on_link(&mut self, node: u32, down: bool) {
        let now = now();
        let Some(nt) = self.nodes[node as usize].tcp.as_mut() else {
            return;
        };
        let (share, at) = if down {
            (nt.down.as_mut(), &mut nt.down_at)
        } else {
            (nt.up.as_mut(), &mut nt.up_at)
        };
        if *at == Some(now) {
            *at = None;
        }
        let Some(share) = share else {
            return;
        };
        let done = share.take_done(now);
        for k in done {
            let (c, d) = unkey(k);
            if down {
                self.downlink_done(node, c, d);
            } else {
                let unit = match self.conns.get_mut(c as usize).and_then(|x| x.tcp.as_mut()) {
                    Some(t) => std::mem::take(&mut t.send[d as usize].unit),
                    None => continue,
                };
                self.transmit(c, d, unit, now);
                self.pump(c, d);
            }
        }
        self.schedule_link(node, down);
    }

    /// The head piece of direction `d` of connection `c` is through the
    /// reader's downlink: into its pipe; the next one starts.
    fn downlink_done(&mut self, node: u32, c: u32, d: u8) {
        let now = now();
        let Some(t) = self.conns.get_mut(c as usize).and_then(|x| x.tcp.as_mut()) else {
            return;
        };
        let q = &mut t.recv[d as usize];
        let Some(p) = q.pop_front() else {
            return;
        };
        let next = q.front().map(|n| n.wire);
        if p.ack {
            self.send_ack(c, d);
        }
        self.put_in_pipe(p, now);
        if let Some(wire) = next {
            if let Some(s) = self.nodes[node as usize]
                .tcp
                .as_mut()
                .and_then(|n| n.down.as_mut())
            {
                s.add(now, key(c, d), wire);
            }
        }
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

    /// The reader of pipe `dir` of stream `s` consumed `n` bytes: past half
    /// its window, it returns them to the writer as credit (one latency
    /// away), doubling the window when the last update was less than two
    /// round trips ago (yamux's auto-tuning).
    pub(super) fn tcp_consumed(&mut self, s: u32, dir: u8, n: usize) {
        let now = now();
        let (c, _) = self.streams[s as usize].conn;
        let rtt = self.rtt(c);
        let (autotune, max) = {
            let cfg = self.tcp_cfg();
            (cfg.stream_window_autotune, cfg.stream_window_max_bytes)
        };
        let st = &mut self.streams[s as usize];
        let (gen, lat, cross) = (st.gen, st.latency_ns, st.cross);
        let Some(t) = st.tcp.as_mut() else {
            return;
        };
        let p = dir as usize;
        t.consumed[p] += n as u64;
        if t.consumed[p] < t.window[p] / 2 {
            return;
        }
        let mut grant = std::mem::take(&mut t.consumed[p]);
        if autotune && now.saturating_sub(t.updated_at[p]) < 2 * rtt {
            let grown = (2 * t.window[p]).min(max.max(t.window[p]));
            grant += grown - t.window[p];
            t.window[p] = grown;
        }
        t.updated_at[p] = now;
        match cross {
            Some((part, xstream)) => self.send(
                part,
                now + lat,
                RemoteMsg::Credit {
                    xstream,
                    dir,
                    bytes: grant,
                },
            ),
            None => {
                let slot = self.inbox.insert(RemoteMsg::LocalCredit {
                    stream: s,
                    gen,
                    dir,
                    bytes: grant,
                }) as u32;
                self.queue.push(now + lat, Event::Remote { slot });
            }
        }
    }

    /// A window update reaches the writer of pipe `dir` of stream `s`.
    pub(super) fn tcp_credit(&mut self, s: u32, dir: u8, bytes: u64) {
        let Some(t) = self
            .streams
            .get_mut(s as usize)
            .and_then(|x| x.tcp.as_mut())
        else {
            return;
        };
        t.credit[dir as usize] += bytes;
        if let Some(w) = t.waker[dir as usize].take() {
            self.to_wake.push(w);
        }
    }

    /// Connection `c` closed or was lost: what waits to be sent or to
    /// pass a downlink is dropped, and its writers learn.
    pub(super) fn tcp_conn_closed(&mut self, c: u32) {
        let now = now();
        let conn = &mut self.conns[c as usize];
        let nodes = conn.nodes;
        let Some(t) = conn.tcp.as_mut() else {
            return;
        };
        for d in 0..2u8 {
            let sd = &mut t.send[d as usize];
            sd.queue.clear();
            sd.queued = 0;
            sd.unit = 0;
            sd.pending_acks = 0;
            sd.round_due = false;
            self.to_wake.append(&mut sd.blocked);
            t.recv[d as usize].clear();
        }
        for (d, &node) in nodes.iter().enumerate() {
            if let Some(nt) = self.nodes[node as usize].tcp.as_mut() {
                if let Some(s) = nt.up.as_mut() {
                    s.remove(now, key(c, d as u8));
                }
                if let Some(s) = nt.down.as_mut() {
                    s.remove(now, key(c, 1 - d as u8));
                }
            }
        }
    }

    /// `node`'s upload or download factor changed: its links' capacity
    /// changes from now on.
    pub(super) fn tcp_rate_changed(&mut self, node: u32) {
        let now = now();
        let (up, down) = (self.up_bps(node), self.down_bps(node));
        let Some(nt) = self.nodes[node as usize].tcp.as_mut() else {
            return;
        };
        if let (Some(s), Some(b)) = (nt.up.as_mut(), up) {
            s.set_bps(now, b);
        }
        if let (Some(s), Some(b)) = (nt.down.as_mut(), down) {
            s.set_bps(now, b);
        }
        // Completions may come earlier now: schedule afresh.
        nt.up_at = None;
        nt.down_at = None;
        self.schedule_link(node, false);
        self.schedule_link(node, true);
    }
}
