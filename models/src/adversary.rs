//! Wire-level adversaries: peers that send what GossipSub never would.
//!
//! GossipSub stays unmodified, and it cannot be told to break its promises
//! or to GRAFT during a backoff. These two behaviours therefore act at our
//! transport, through the engine's [`sim::world::WireFilter`]: the
//! adversary's own (honest) GossipSub runs as usual, and after each RPC frame
//! it writes to a neighbour, the filter may append one forged RPC frame:
//!
//! - `promise_breaker`: an IHAVE advertising a message id that exists
//!   nowhere, for every workload topic. The neighbour asks for it (IWANT),
//!   never gets it, and after `iwant_followup_time` counts a broken promise:
//!   GossipSub's behaviour penalty (P7).
//! - `graft_spammer`: a GRAFT for every topic on which that neighbour pruned
//!   it, for as long as the PRUNE's backoff lasts. Each GRAFT inside the
//!   backoff is a behaviour penalty (two while far from its end).
//!
//! Each adversary forges at most `spam_rate_per_s` frames per second per
//! neighbour. What the neighbours do about it is entirely GossipSub's.

use crate::spec::PeerBehaviourKind;
use std::collections::BTreeMap;

use crate::wire::read_uvarint;

/// What a wire-level adversary forges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attack {
    /// IHAVEs for message ids it will never deliver.
    BrokenPromises,
    /// GRAFTs to neighbours that pruned it, during their backoff.
    GraftDuringBackoff,
}

impl Attack {
    /// The attack a peer behaviour forges at the transport, if any.
    pub fn of(kind: PeerBehaviourKind) -> Option<Attack> {
        match kind {
            PeerBehaviourKind::PromiseBreaker => Some(Attack::BrokenPromises),
            PeerBehaviourKind::GraftSpammer => Some(Attack::GraftDuringBackoff),
            _ => None,
        }
    }
}

/// Counts of forged frames, for reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForgedCounts {
    /// Fake message ids advertised in IHAVEs.
    pub fake_ihave_ids: u64,
    /// GRAFTs sent inside a backoff.
    pub backoff_grafts: u64,
    /// PRUNEs the graft spammers received.
    pub prunes_seen: u64,
}

impl ForgedCounts {
    /// Adds `other`'s counts (another partition's).
    pub fn add(&mut self, other: &ForgedCounts) {
        self.fake_ihave_ids += other.fake_ihave_ids;
        self.backoff_grafts += other.backoff_grafts;
        self.prunes_seen += other.prunes_seen;
    }
}

#[derive(Default)]
enum Phase {
    #[default]
    Negotiating,
    Gossipsub,
    Other,
}

#[derive(Default)]
struct Direction {
    phase: Phase,
    buf: Vec<u8>,
}

impl Direction {
    /// Appends `bytes` and calls `on_frame(whole, rpc)` for every complete
    /// frame (`whole` with its length prefix; `rpc` set for GossipSub RPC
    /// frames). Once the substream is not GossipSub, the rest goes out as one
    /// `whole` chunk. Only an incomplete tail is kept (copied).
    fn split(&mut self, bytes: &[u8], mut on_frame: impl FnMut(&[u8], Option<&[u8]>)) {
        let owned;
        let data: &[u8] = if self.buf.is_empty() {
            bytes
        } else {
            self.buf.extend_from_slice(bytes);
            owned = std::mem::take(&mut self.buf);
            &owned
        };
        let off = Self::frames(&mut self.phase, data, &mut on_frame);
        self.buf = data[off..].to_vec();
    }

    /// The complete frames at the start of `buf`; returns the bytes they took.
    fn frames(
        phase: &mut Phase,
        buf: &[u8],
        on_frame: &mut impl FnMut(&[u8], Option<&[u8]>),
    ) -> usize {
        let mut off = 0;
        while off < buf.len() {
            if matches!(phase, Phase::Other) {
                on_frame(&buf[off..], None);
                return buf.len();
            }
            let Some((len, n)) = read_uvarint(&buf[off..]) else {
                if buf.len() - off >= 10 {
                    *phase = Phase::Other;
                    continue;
                }
                break;
            };
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| (off + n).checked_add(l));
            let Some(end) = end.filter(|&e| e <= buf.len()) else {
                if len > 1 << 26 {
                    *phase = Phase::Other;
                    continue;
                }
                break;
            };
            let msg = &buf[off + n..end];
            match phase {
                Phase::Negotiating => {
                    if msg.starts_with(b"/meshsub/") {
                        *phase = Phase::Gossipsub;
                    } else if !(msg.starts_with(b"/multistream/") || msg == b"na\n") {
                        *phase = Phase::Other;
                    }
                    on_frame(&buf[off..end], None);
                }
                Phase::Gossipsub => on_frame(&buf[off..end], Some(msg)),
                Phase::Other => unreachable!("handled above"),
            }
            off = end;
        }
        off
    }
}

/// A PRUNE written to a graft spammer, waiting for its delivery time.
struct PendingPrune {
    stream: u64,
    from: u32,
    adv: u32,
    topic: String,
    backoff_s: u64,
}

/// What one partition's filter learns from a write observed in another
/// (partitioned runs): what the single filter of a one-thread run records
/// when that write is delivered.
#[derive(Debug)]
enum Fact {
    /// `from` agreed to GossipSub on `stream` (its echo of the protocol).
    Echo { stream: u64, from: u32 },
    /// `from` pruned `adv` from `topic`: its backoff lasts from `start`
    /// (when the PRUNE arrives) to `until`.
    Prune {
        adv: u32,
        from: u32,
        topic: String,
        start: u64,
        until: u64,
    },
}

/// A GRAFT spammer forges GRAFTs to a neighbour only until this long before
/// the neighbour's backoff ends, so they still arrive inside it.
const BACKOFF_MARGIN_NS: u64 = 1_000_000_000;

/// The engine's wire filter for a run's wire-level adversaries.
pub struct WireAdversary {
    /// The attack of each node (by index), if any.
    attacks: Vec<Option<Attack>>,
    /// Minimum time between forged frames to one neighbour, ns, per node.
    interval_ns: Vec<u64>,
    /// Workload topic ids (as on the wire).
    topics: Vec<String>,
    dirs: BTreeMap<(u64, u32), Direction>,
    /// (adversary, neighbour) -> next time a frame may be forged.
    next_at: BTreeMap<(u32, u32), u64>,
    /// (adversary, neighbour) -> topic -> (PRUNE delivered, backoff end), ns.
    backoffs: BTreeMap<(u32, u32), BTreeMap<String, (u64, u64)>>,
    /// PRUNEs written to graft spammers, not yet timed by the engine.
    pending: Vec<PendingPrune>,
    /// The last write (`rewrite`) made its writer's direction GossipSub:
    /// the protocol's echo, for [`Fact::Echo`].
    echoed_now: bool,
    fake_ids: u64,
    counts: std::rc::Rc<std::cell::Cell<ForgedCounts>>,
}

impl WireAdversary {
    /// A filter for `attacks[node]` forging at most `rate_per_s[node]`
    /// frames per second per neighbour, on `topics`. `counts` receives the
    /// running totals.
    pub fn new(
        attacks: Vec<Option<Attack>>,
        rate_per_s: &[f64],
        topics: Vec<String>,
        counts: std::rc::Rc<std::cell::Cell<ForgedCounts>>,
    ) -> WireAdversary {
        let interval_ns = rate_per_s
            .iter()
            .map(|&r| if r > 0.0 { (1e9 / r) as u64 } else { u64::MAX })
            .collect();
        WireAdversary {
            attacks,
            interval_ns,
            topics,
            dirs: BTreeMap::new(),
            next_at: BTreeMap::new(),
            backoffs: BTreeMap::new(),
            pending: Vec::new(),
            echoed_now: false,
            fake_ids: 0,
            counts,
        }
    }

    fn attack(&self, node: u32) -> Option<Attack> {
        self.attacks.get(node as usize).copied().flatten()
    }

    /// Records `fact` (from a delivered write, here or in another partition).
    fn apply(&mut self, fact: Fact) {
        match fact {
            Fact::Echo { stream, from } => {
                self.dirs.entry((stream, from)).or_default().phase = Phase::Gossipsub;
            }
            Fact::Prune {
                adv,
                from,
                topic,
                start,
                until,
            } => {
                self.backoffs
                    .entry((adv, from))
                    .or_default()
                    .insert(topic, (start, until));
                self.bump(|c| c.prunes_seen += 1);
            }
        }
    }

    /// The PRUNEs waiting for this write's timing (`from` on `stream`), as facts.
    fn prunes_delivered(
        &mut self,
        from: u32,
        stream: u64,
        sent_ns: u64,
        deliver_at_ns: u64,
    ) -> Vec<Fact> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        let (now, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.stream == stream && p.from == from);
        self.pending = rest;
        now.into_iter()
            .map(|p| Fact::Prune {
                adv: p.adv,
                from: p.from,
                topic: p.topic,
                start: deliver_at_ns,
                // The neighbour's backoff runs from when it wrote the PRUNE.
                until: sent_ns.saturating_add(p.backoff_s.saturating_mul(1_000_000_000)),
            })
            .collect()
    }

    fn bump(&self, f: impl FnOnce(&mut ForgedCounts)) {
        let mut c = self.counts.get();
        f(&mut c);
        self.counts.set(c);
    }

    /// The forged frame `adv` appends after a frame to `to` at `now`, if due.
    fn forge(&mut self, adv: u32, to: u32, now: u64, out: &mut Vec<u8>) {
        let interval = self.interval_ns[adv as usize];
        let due = self.next_at.get(&(adv, to)).copied().unwrap_or(0);
        if interval == u64::MAX || now < due {
            return;
        }
        let mut control = Vec::new();
        match self.attack(adv) {
            Some(Attack::BrokenPromises) => {
                for topic in &self.topics {
                    self.fake_ids += 1;
                    let id = format!("meshsim-broken-promise-{adv}-{}", self.fake_ids);
                    let mut ihave = Vec::new();
                    field(1, topic.as_bytes(), &mut ihave);
                    field(2, id.as_bytes(), &mut ihave);
                    field(1, &ihave, &mut control);
                }
                let n = self.topics.len() as u64;
                self.bump(|c| c.fake_ihave_ids += n);
            }
            Some(Attack::GraftDuringBackoff) => {
                let Some(topics) = self.backoffs.get_mut(&(adv, to)) else {
                    return;
                };
                topics.retain(|_, (_, until)| *until > now);
                let mut n = 0;
                for (topic, &(start, until)) in topics.iter() {
                    if start <= now && now.saturating_add(BACKOFF_MARGIN_NS) < until {
                        let mut graft = Vec::new();
                        field(1, topic.as_bytes(), &mut graft);
                        field(3, &graft, &mut control);
                        n += 1;
                    }
                }
                self.bump(|c| c.backoff_grafts += n);
            }
            None => return,
        }
        if control.is_empty() {
            return;
        }
        let mut rpc = Vec::new();
        field(3, &control, &mut rpc);
        uvarint(rpc.len() as u64, out);
        out.extend_from_slice(&rpc);
        self.next_at.insert((adv, to), now.saturating_add(interval));
    }
}

/// The (topic, backoff seconds) of every PRUNE in an RPC frame.
fn parse_prunes(rpc: &[u8]) -> Vec<(String, u64)> {
    let mut prunes = Vec::new();
    fields(rpc, |f, v| {
        if let (3, Value::Bytes(control)) = (f, v) {
            fields(control, |f, v| {
                if let (4, Value::Bytes(prune)) = (f, v) {
                    let (mut topic, mut backoff_s) = (None, 60);
                    fields(prune, |f, v| match (f, v) {
                        (1, Value::Bytes(t)) => {
                            topic = Some(String::from_utf8_lossy(t).into_owned())
                        }
                        (3, Value::Varint(b)) => backoff_s = b,
                        _ => {}
                    });
                    if let Some(t) = topic {
                        prunes.push((t, backoff_s));
                    }
                }
            });
        }
    });
    prunes
}

impl sim::world::WireFilter for WireAdversary {
    fn wants(&self, from: u32, to: u32) -> bool {
        self.attack(from).is_some() || self.attack(to).is_some()
    }

    fn rewrite(
        &mut self,
        from: u32,
        to: u32,
        stream: u64,
        now_ns: u64,
        bytes: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let mut dir = self.dirs.remove(&(stream, from)).unwrap_or_default();
        let was_gossipsub = matches!(dir.phase, Phase::Gossipsub);
        let to_spammer = self.attack(to) == Some(Attack::GraftDuringBackoff);
        let mut prunes = Vec::new();
        let mut on_rpc = |rpc: &[u8]| {
            if to_spammer {
                prunes.extend(parse_prunes(rpc));
            }
        };
        let changed = if self.attack(from).is_some() {
            let mut rpcs = 0;
            dir.split(bytes, |whole, rpc| {
                out.extend_from_slice(whole);
                if let Some(rpc) = rpc {
                    rpcs += 1;
                    on_rpc(rpc);
                }
            });
            // Forge only on an agreed GossipSub substream: after whole RPC
            // frames, once the other side has echoed the protocol.
            let echoed = self
                .dirs
                .get(&(stream, to))
                .is_some_and(|d| matches!(d.phase, Phase::Gossipsub));
            if rpcs > 0 && echoed && matches!(dir.phase, Phase::Gossipsub) {
                self.forge(from, to, now_ns, out);
            }
            true
        } else {
            dir.split(bytes, |_, rpc| {
                if let Some(rpc) = rpc {
                    on_rpc(rpc);
                }
            });
            false
        };
        for (topic, backoff_s) in prunes {
            self.pending.push(PendingPrune {
                stream,
                from,
                adv: to,
                topic,
                backoff_s,
            });
        }
        self.echoed_now = !was_gossipsub && matches!(dir.phase, Phase::Gossipsub);
        self.dirs.insert((stream, from), dir);
        changed
    }

    fn delivered(&mut self, from: u32, _to: u32, stream: u64, sent_ns: u64, deliver_at_ns: u64) {
        self.echoed_now = false;
        for fact in self.prunes_delivered(from, stream, sent_ns, deliver_at_ns) {
            self.apply(fact);
        }
    }

    /// The receiver's partition learns the echo and the PRUNEs when they
    /// arrive (a one-thread run's filter sees the echo as soon as it is
    /// written).
    fn delivered_elsewhere(
        &mut self,
        from: u32,
        _to: u32,
        stream: u64,
        sent_ns: u64,
        deliver_at_ns: u64,
    ) -> Vec<sim::world::FilterNote> {
        let mut facts = self.prunes_delivered(from, stream, sent_ns, deliver_at_ns);
        if std::mem::take(&mut self.echoed_now) {
            facts.push(Fact::Echo { stream, from });
        }
        if facts.is_empty() {
            return Vec::new();
        }
        vec![sim::world::FilterNote(Box::new(facts))]
    }

    fn learn(&mut self, note: sim::world::FilterNote) {
        if let Ok(facts) = note.0.downcast::<Vec<Fact>>() {
            for fact in *facts {
                self.apply(fact);
            }
        }
    }
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// Walks protobuf fields (varint and length-delimited; others skipped);
/// stops quietly at malformed input.
fn fields<'a>(mut b: &'a [u8], mut f: impl FnMut(u64, Value<'a>)) {
    while !b.is_empty() {
        let Some((key, n)) = read_uvarint(b) else {
            return;
        };
        b = &b[n..];
        match key & 7 {
            0 => {
                let Some((v, n)) = read_uvarint(b) else {
                    return;
                };
                b = &b[n..];
                f(key >> 3, Value::Varint(v));
            }
            1 => match b.get(8..) {
                Some(rest) => b = rest,
                None => return,
            },
            5 => match b.get(4..) {
                Some(rest) => b = rest,
                None => return,
            },
            2 => {
                let Some((len, n)) = read_uvarint(b) else {
                    return;
                };
                let Some(end) = usize::try_from(len).ok().and_then(|l| n.checked_add(l)) else {
                    return;
                };
                let Some(payload) = b.get(n..end) else {
                    return;
                };
                f(key >> 3, Value::Bytes(payload));
                b = &b[end..];
            }
            _ => return,
        }
    }
}

fn uvarint(v: u64, out: &mut Vec<u8>) {
    crate::wire::put_uvarint(out, v);
}

/// Appends a length-delimited protobuf field.
fn field(n: u64, payload: &[u8], out: &mut Vec<u8>) {
    crate::wire::put_field(out, n, payload);
}

#[cfg(test)]
mod tests;
