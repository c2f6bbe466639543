//! The reader's side of the `tcp` model: pieces that left a sender reach
//! the reader after the link, pass its downlink (shared fairly among the
//! connections arriving there), and enter the stream's pipe; the reader
//! returns credit as it consumes; connections closing and rates changing.

use super::*;

impl World {
    /// Hands a piece that left at `sent` to its reader, where it arrives at
    /// `arrival`: through the reader's downlink, to another partition, or
    /// into the pipe.
    pub(super) fn deliver_piece(&mut self, c: u32, d: u8, piece: Piece, sent: u64, arrival: u64) {
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
    pub(super) fn put_in_pipe(&mut self, piece: Piece, at: u64) {
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
    pub(in crate::world) fn tcp_arrive(&mut self, c: u32, d: u8, piece: Piece) {
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
    pub(super) fn tcp_arrive_remote(&mut self, s: u32, dir: u8, bytes: Packed, fin: bool) {
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
    pub(super) fn tcp_through_downlink(&self, s: u32, dir: u8) -> bool {
        self.cfg.tcp.is_some() && {
            let reader = self.streams[s as usize].nodes[1 - dir as usize];
            self.nodes[reader as usize].down_bps.is_some()
        }
    }

    pub(super) fn down_bps(&self, node: u32) -> Option<u64> {
        self.nodes[node as usize]
            .down_bps
            .map(|b| ((b as f64 * self.bandwidth_factor(node)) as u64).max(1))
    }

    /// Schedules the next completion on `node`'s uplink (or downlink).
    pub(super) fn schedule_link(&mut self, node: u32, down: bool) {
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
    pub(in crate::world) fn on_link(&mut self, node: u32, down: bool) {
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
    pub(super) fn downlink_done(&mut self, node: u32, c: u32, d: u8) {
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

    /// The reader of pipe `dir` of stream `s` consumed `n` bytes: past half
    /// its window, it returns them to the writer as credit (one latency
    /// away), doubling the window when the last update was less than two
    /// round trips ago (yamux's auto-tuning).
    pub(in crate::world) fn tcp_consumed(&mut self, s: u32, dir: u8, n: usize) {
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
    pub(in crate::world) fn tcp_credit(&mut self, s: u32, dir: u8, bytes: u64) {
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
    pub(in crate::world) fn tcp_conn_closed(&mut self, c: u32) {
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
    pub(in crate::world) fn tcp_rate_changed(&mut self, node: u32) {
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
