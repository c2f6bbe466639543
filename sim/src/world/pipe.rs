//! Substreams and their byte pipes: writes (timing, backpressure), reads, half-closes.

use super::remote::{Remote, RemoteMsg};
use super::{now, recycle, transfer_ns, Packed, World};
use crate::profile::{self, Phase};
use crate::queue::Event;
use rand::RngExt;
use std::collections::VecDeque;
use std::task::Waker;

#[derive(Debug, Default)]
pub(super) struct Pipe {
    pub(super) chunks: VecDeque<(u64, Packed)>,
    pub(super) head_off: usize,
    pub(super) fin_at: Option<u64>,
    pub(super) last_at: u64,
    pub(super) reader_waker: Option<Waker>,
    pub(super) write_closed: bool,
    /// Bytes go through the reader's downlink queue (it had a download
    /// limit when they were written): decided for good at the first such
    /// write, so that later bytes never overtake queued ones.
    pub(super) queued: bool,
}

#[derive(Debug)]
pub(super) struct Stream {
    pub(super) gen: u32,
    pub(super) id: u64,
    pub(super) conn: (u32, u32),
    pub(super) nodes: [u32; 2],
    pub(super) sides: [u8; 2],
    pub(super) latency_ns: u64,
    pub(super) pipes: [Pipe; 2],
    pub(super) dropped: [bool; 2],
    /// For a stream whose other end is in another partition: that
    /// partition and the stream's run-wide id there.
    pub(super) cross: Option<(u16, u64)>,
    /// The `tcp` model's flow control (the muxer's credit).
    pub(super) tcp: Option<Box<super::tcp::StreamTcp>>,
}

/// Where and when the bytes of one write go.
pub(super) struct WritePath {
    pub(super) s: u32,
    pub(super) gen: u32,
    pub(super) end: u8,
    pub(super) from: u32,
    pub(super) to: u32,
    /// The stream's run-wide id.
    pub(super) id: u64,
    /// When the bytes' head reaches the reader's downlink, ns.
    pub(super) head_at: u64,
    /// When their tail does, ns.
    pub(super) arrival: u64,
}

impl World {
    pub(super) fn stream(&mut self, s: u32, gen: u32) -> Option<&mut Stream> {
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
        if self.cfg.tcp.is_some() {
            return self.tcp_write(s, gen, end, buf, waker);
        }
        let (from, to) = self.writable(s, gen, end)?;
        let written = buf.len();
        let up = self.up_bps(from);
        if let Some(bps) = up {
            if self.uplink_full(from, bps, buf.len() as u64, waker) {
                return Ok(None);
            }
        }
        // A wire-level adversary may change what is really sent.
        let id = self.streams[s as usize].id;
        let mut rewritten = Vec::new();
        let Some(buf) = self.rewrite(from, to, id, buf, &mut rewritten) else {
            return Ok(Some(written));
        };
        let (start, up_done) = self.uplink_serialize(from, up, buf.len() as u64);
        let lat = self.link_delay(from, to, self.streams[s as usize].latency_ns);
        let path = WritePath {
            s,
            gen,
            end,
            from,
            to,
            id,
            head_at: start + lat,
            arrival: up_done + lat,
        };
        self.send_timed(path, buf);
        Ok(Some(written))
    }

    /// The two ends of direction `end` of stream `s`, if it can be written:
    /// the stream and its connection are open and `end` has not half-closed.
    pub(super) fn writable(&mut self, s: u32, gen: u32, end: u8) -> Result<(u32, u32), ()> {
        let st = self.stream(s, gen).ok_or(())?;
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
        Ok((st.nodes[e], st.nodes[1 - e]))
    }

    /// `node`'s upload rate now (its condition's bandwidth factor applied).
    pub(super) fn up_bps(&self, node: u32) -> Option<u64> {
        self.nodes[node as usize]
            .up_bps
            .map(|b| ((b as f64 * self.bandwidth_factor(node)) as u64).max(1))
    }

    /// Backpressure: whether a write of `len` bytes must wait because
    /// `from`'s uplink queue is over its buffer (the waker is then woken
    /// once half the buffer has drained).
    fn uplink_full(&mut self, from: u32, bps: u64, len: u64, waker: &Waker) -> bool {
        let now = now();
        let limit = self.cfg.uplink_buffer_bytes;
        let n = &mut self.nodes[from as usize];
        let backlog_ns = n.up_free_at.saturating_sub(now);
        let backlog_bytes = (u128::from(backlog_ns) * u128::from(bps) / 8_000_000_000) as u64;
        // Block while the queue is over the buffer size with this write, unless
        // at most half full (so one write larger than the buffer still goes through).
        if backlog_bytes > limit / 2 && backlog_bytes + len > limit {
            n.blocked_writers.push(waker.clone());
            if !n.drain_scheduled {
                n.drain_scheduled = true;
                // Wake writers when half the buffer has drained.
                let half_ns = (u128::from(limit / 2) * 8_000_000_000 / u128::from(bps)) as u64;
                let at = n.up_free_at.saturating_sub(half_ns).max(now + 1);
                self.schedule(at, Event::UplinkDrained { node: from });
            }
            return true;
        }
        false
    }

    /// What is really sent for `buf`: `buf` itself, what the wire filter
    /// rewrote it to (in `out`), or `None` when the filter holds it all back.
    pub(super) fn rewrite<'a>(
        &mut self,
        from: u32,
        to: u32,
        id: u64,
        buf: &'a [u8],
        out: &'a mut Vec<u8>,
    ) -> Option<&'a [u8]> {
        let changed = match self.filter.as_mut() {
            Some(f) if f.wants(from, to) => f.rewrite(from, to, id, now(), buf, out),
            _ => false,
        };
        match (changed, out.is_empty()) {
            (false, _) => Some(buf),
            (true, true) => None,
            (true, false) => Some(out),
        }
    }

    /// `size` bytes through `from`'s uplink queue: when their head and
    /// their tail leave (now and now without an upload limit).
    fn uplink_serialize(&mut self, from: u32, up: Option<u64>, size: u64) -> (u64, u64) {
        let now = now();
        let Some(bps) = up else {
            return (now, now);
        };
        let n = &mut self.nodes[from as usize];
        let start = n.up_free_at.max(now);
        let up_done = start + transfer_ns(size, bps);
        n.up_free_at = up_done;
        (start, up_done)
    }

    /// The one-way delay of a write from `from` to `to` on a link of
    /// latency `base_lat`: plus its condition's extra latency, a jitter
    /// draw, and one RTO per loss draw.
    pub(super) fn link_delay(&mut self, from: u32, to: u32, base_lat: u64) -> u64 {
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
        lat
    }

    /// Hands bytes whose timing is known to their reader: through the
    /// reader's downlink queue, to another partition, or into the pipe.
    /// Delivery stays FIFO per direction.
    pub(super) fn send_timed(&mut self, w: WritePath, buf: &[u8]) {
        let now = now();
        // A receiver's downlink is a queue in arrival order: bytes for a
        // download-limited receiver go through it when they arrive (see
        // `arrive`), in its own partition when that is another one.
        let st = &mut self.streams[w.s as usize];
        let e = w.end as usize;
        let limited = st.cross.is_none() && self.nodes[w.to as usize].down_bps.is_some();
        let queued = limited || st.pipes[e].queued;
        let at = w.arrival.max(st.pipes[e].last_at);
        let mut notes = Vec::new();
        if let Some(f) = self.filter.as_mut() {
            if f.wants(w.from, w.to) {
                match st.cross {
                    None => f.delivered(w.from, w.to, w.id, now, at),
                    Some(_) => notes = f.delivered_elsewhere(w.from, w.to, w.id, now, at),
                }
            }
        }
        if queued {
            // (Only local streams queue: notes are for other partitions.)
            debug_assert!(notes.is_empty());
            st.pipes[e].last_at = at;
            st.pipes[e].queued = true;
            let data = Packed::copy_of(buf, self.spare_chunks.pop());
            let slot = self.inbox.insert(RemoteMsg::Arrive {
                stream: w.s,
                gen: w.gen,
                dir: w.end,
                to: w.to,
                bytes: data,
                head_at: w.head_at,
            }) as u32;
            self.queue.push(at, Event::Remote { slot });
        } else if let Some((part, xstream)) = st.cross {
            st.pipes[e].last_at = at;
            self.send_cross(part, xstream, &w, at, buf, notes);
        } else {
            self.push_chunk(&w, at, buf);
        }
        self.count_write(w.from, w.to, w.id, at, buf);
    }

    /// Bytes for a reader in another partition travel as a message.
    fn send_cross(
        &mut self,
        part: u16,
        xstream: u64,
        w: &WritePath,
        at: u64,
        buf: &[u8],
        notes: Vec<super::FilterNote>,
    ) {
        // Writes that land at the same instant merge into one delivery,
        // as on a local pipe (when nothing was sent in between), unless
        // the reader's downlink times each write on its own.
        let remote_limited = self.nodes[w.to as usize].down_bps.is_some();
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
            }) if *last_at == at && *x == xstream && *d == w.end && !remote_limited => {
                bytes.append(buf);
            }
            _ => {
                let data = Packed::copy_of(buf, self.spare_chunks.pop());
                self.send(
                    part,
                    at,
                    RemoteMsg::Data {
                        xstream,
                        dir: w.end,
                        bytes: data,
                        head_at: w.head_at,
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
    }

    /// Bytes readable at `at` on a local pipe (merged into the last chunk
    /// when that lands at the same future instant).
    fn push_chunk(&mut self, w: &WritePath, at: u64, buf: &[u8]) {
        let now = now();
        let pipe = &mut self.streams[w.s as usize].pipes[w.end as usize];
        let merged = match pipe.chunks.back_mut() {
            Some((t, data)) if *t == at && at > now => {
                data.append(buf);
                true
            }
            _ => false,
        };
        if !merged {
            let data = Packed::copy_of(buf, self.spare_chunks.pop());
            pipe.chunks.push_back((at, data));
        }
        pipe.last_at = at;
        if !merged {
            self.schedule(
                at,
                Event::WakePipe {
                    stream: w.s,
                    gen: w.gen,
                    dir: w.end,
                },
            );
        }
    }

    /// Byte counters and the wire tap, for a write that is on its way.
    #[inline]
    pub(super) fn count_write(&mut self, from: u32, to: u32, id: u64, at: u64, buf: &[u8]) {
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
            let k = data.copy_out(pipe.head_off, &mut buf[n..]);
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
            if st.tcp.is_some() {
                self.tcp_consumed(s, 1 - end, n);
            }
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
        let tcp = self.cfg.tcp.is_some();
        let Some(st) = self.stream(s, gen) else {
            return;
        };
        let (lat, reader) = (st.latency_ns, st.nodes[1 - end as usize]);
        let pipe = &mut st.pipes[end as usize];
        if pipe.write_closed {
            return;
        }
        pipe.write_closed = true;
        if tcp {
            self.tcp_close_write(s, gen, end);
            return;
        }
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

    /// Bytes written in direction `dir` of stream `s` reach its reader now
    /// (their head reached the reader's downlink at `head_at`): a
    /// download-limited reader's downlink takes them in arrival order,
    /// after what it is still receiving (`S / down_bps` each), and delivery
    /// stays FIFO per direction.
    pub(super) fn arrive(&mut self, s: u32, dir: u8, bytes: Packed, head_at: u64) {
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
    pub(super) fn wake_reader_at(&mut self, s: u32, dir: u8, at: u64) {
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
    pub(super) fn downlink(&mut self, to: u32, head_at: u64, len: usize) -> u64 {
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
    pub(super) fn recycle(&mut self, data: Packed) {
        recycle(&mut self.spare_chunks, data);
    }

    /// The end of direction `dir` of stream `s` reaches its reader now,
    /// after the data its downlink still holds.
    pub(super) fn arrive_fin(&mut self, s: u32, dir: u8) {
        let pipe = &mut self.streams[s as usize].pipes[dir as usize];
        let at = now().max(pipe.chunks.back().map_or(0, |c| c.0));
        pipe.fin_at = Some(at);
        self.wake_reader_at(s, dir, at);
    }
}
