//! Listening and dialing: how a dial reaches its target and how the dialer learns the outcome.

use super::remote::RemoteMsg;
use super::{now, World};
use crate::queue::Event;
use std::task::Waker;

/// Why a dial failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialError {
    /// The target is up but does not accept connections.
    Refused,
    /// No answer (the target is down or the address leads nowhere).
    Timeout,
}

#[derive(Debug)]
pub(super) enum DialState {
    Created,
    InFlight,
    Done(Result<(u32, u32), DialError>),
    Taken,
}

#[derive(Debug)]
pub(super) struct Dial {
    pub(super) from: u32,
    pub(super) to: Option<u32>,
    pub(super) state: DialState,
    pub(super) waker: Option<Waker>,
    pub(super) abandoned: bool,
    /// The dialer has learned the outcome (its `DialDone` was handled).
    /// Until then the slot stays, even if the dial is dropped: the
    /// `DialDone` still to come must not reach a later dial in the same slot.
    pub(super) fired: bool,
}

impl World {
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

    /// Wakes `node`'s listener (after it started listening again, for instance).
    pub(crate) fn wake_listener(&mut self, node: u32) {
        if let Some(w) = self.nodes[node as usize].listener_waker.take() {
            self.to_wake.push(w);
        }
    }

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

    pub(super) fn on_dial_arrive(&mut self, dial: u32) {
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
        let (listener_at, dialer_at) = self.ready_times(now, lat);
        self.accept_at(c, gen, listener_at);
        self.dials[dial as usize].state = DialState::Done(Ok((c, gen)));
        self.schedule(dialer_at, Event::DialDone { dial });
    }

    /// When a connection whose dial reached its listener at `now`, over a
    /// link of latency `lat`, is ready at the listener and at the dialer:
    /// at once and one latency later with the `ideal` model; after the
    /// handshakes' round trips with `tcp`.
    fn ready_times(&self, now: u64, lat: u64) -> (u64, u64) {
        match self.cfg.tcp.as_ref() {
            None => (now, now + lat),
            Some(t) => {
                // The dial left one latency ago; a round trip is two latencies.
                let after = |rtts: f64| ((2.0 * rtts - 1.0).max(0.0) * lat as f64).round() as u64;
                (
                    now + after(t.listener_ready_rtt),
                    now + after(t.dialer_ready_rtt).max(lat),
                )
            }
        }
    }

    /// Connection `c` reaches its listener's accept queue at `at`.
    fn accept_at(&mut self, c: u32, gen: u32, at: u64) {
        if at > now() {
            self.schedule(at, Event::Accept { conn: c, gen });
        } else {
            self.on_accept(c, gen);
        }
    }

    /// Connection `c` is ready at its listener: it is accepted (unless it
    /// was lost meanwhile).
    pub(super) fn on_accept(&mut self, c: u32, gen: u32) {
        let Some(conn) = self.conn(c, gen) else {
            return;
        };
        if conn.closed_at[1].is_some() {
            return;
        }
        let to = conn.nodes[1];
        let t = &mut self.nodes[to as usize];
        t.incoming.push_back((c, gen));
        if let Some(w) = t.listener_waker.take() {
            self.to_wake.push(w);
        }
    }

    pub(super) fn on_dial_done(&mut self, dial: u32) {
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
    pub(super) fn on_remote_dial_arrive(&mut self, dial: u32, from: u32, to: u32) {
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
                let (listener_at, dialer_at) = self.ready_times(now, lat);
                self.accept_at(c, gen, listener_at);
                (dialer_at, Ok(xid))
            };
        self.send(back, at, RemoteMsg::DialDone { dial, result });
    }

    /// The outcome of a dial to another partition reaches the dialer.
    pub(super) fn on_remote_dial_done(&mut self, dial: u32, result: Result<u64, DialError>) {
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
}
