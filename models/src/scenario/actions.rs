//! Scenario actions, and how the timeline becomes them: overlapping
//! intervals compose (`Overlaps`).

use super::driver::Driver;
use crate::peer::Peer;
use crate::spec::{ms_to_ns, partition_size, Experiment, TimelineEvent};
use sim::Engine;

/// Something the scenario does at a scheduled time.
#[derive(Clone, Debug)]
pub enum Action {
    /// Test hook: panic (`limits.panic_at_s`).
    Fault,
    /// Take a network sample (and schedule the next one).
    Sample,
    /// Every probe peer publishes a probe message (and the next round is scheduled).
    Probe,
    /// A degradation starts (or ends) on every link of these peers; each
    /// peer's links then carry what all its degradations in force compose to
    /// (see `Overlaps`).
    Condition {
        /// Which degradation (its index in the timeline).
        entry: usize,
        /// The peers.
        peers: Vec<u32>,
        /// The condition while it lasts; `None`: it ends.
        cond: Option<sim::world::LinkCondition>,
    },
    /// A vanish interval starts (`reachable: false`) or ends on these peers'
    /// addresses; a peer is unreachable while any covers it.
    Reachable {
        /// The peers.
        peers: Vec<u32>,
        /// Reachable from now on?
        reachable: bool,
    },
    /// `from` dials `to`.
    Dial {
        /// Dialer.
        from: u32,
        /// Target.
        to: u32,
    },
    /// The next message of the workload is published (and the next one scheduled).
    Publish,
    /// Every connection between `a` and `b` is lost.
    CutLink {
        /// One end.
        a: u32,
        /// Other end.
        b: u32,
    },
    /// An offline interval of `peer` starts: it goes offline (crash; its log
    /// is kept) unless it already is.
    Down {
        /// The peer.
        peer: u32,
        /// Orderly leave instead of a crash.
        graceful: bool,
    },
    /// An offline interval of `peer` ends: if no other one still covers
    /// it, it comes back with the same identity and log and dials up to
    /// `redial` of its initial neighbours (`None`: all).
    Up {
        /// The peer.
        peer: u32,
        /// Most neighbours to dial.
        redial: Option<u32>,
    },
    /// A partition starts: `in_a[i]` tells peer `i`'s group.
    PartitionStart {
        /// Group membership per peer (true: first group).
        in_a: Vec<bool>,
    },
    /// The partition heals; the pairs it cut dial each other again.
    PartitionHeal,
    /// A sample of the distinct-roots time series (and the next one scheduled).
    SampleRoots,
    /// An `invalid_spammer` publishes one invalid message (and schedules the next).
    Spam {
        /// The spammer.
        peer: u32,
        /// Interval to the next one, ns.
        every_ns: u64,
    },
}

/// The timeline's intervals in force on each peer, so that overlapping ones
/// compose instead of the end of one undoing another: a peer is offline
/// while any offline interval covers it and unreachable while any vanish
/// interval does; its links carry all its degradations in force, stacked as
/// the world stacks a link's and its two ends' conditions (extra latencies
/// add up, losses combine as independent ones, bandwidth factors multiply).
/// With one interval at a time, each start and end does exactly what it
/// did alone, except that the end of a vanish leaves a peer that accepts no
/// inbound connection unreachable (it used to make it reachable).
pub(super) struct Overlaps {
    /// Offline intervals covering each peer.
    pub(super) offline: Vec<u32>,
    /// Vanish intervals covering each peer.
    pub(super) vanished: Vec<u32>,
    /// Degradations in force on each peer, `(timeline entry, condition)` in
    /// the order they started.
    pub(super) degraded: Vec<Vec<(usize, sim::world::LinkCondition)>>,
    /// Whether each peer accepts inbound connections (its reachability when
    /// no vanish interval covers it).
    pub(super) listening: Vec<bool>,
}

impl Overlaps {
    pub(super) fn new(listening: Vec<bool>) -> Overlaps {
        let n = listening.len();
        Overlaps {
            offline: vec![0; n],
            vanished: vec![0; n],
            degraded: vec![Vec::new(); n],
            listening,
        }
    }

    /// An offline interval of `p` starts; true if `p` must go down now.
    pub(super) fn offline_starts(&mut self, p: u32) -> bool {
        let k = &mut self.offline[p as usize];
        *k += 1;
        *k == 1
    }

    /// An offline interval of `p` ends; true if none covers `p` any more.
    pub(super) fn offline_ends(&mut self, p: u32) -> bool {
        let k = &mut self.offline[p as usize];
        *k = k.saturating_sub(1);
        *k == 0
    }

    /// A vanish interval of `p` starts or ends; returns `p`'s reachability.
    pub(super) fn vanish(&mut self, p: u32, starts: bool) -> bool {
        let k = &mut self.vanished[p as usize];
        *k = if starts { *k + 1 } else { k.saturating_sub(1) };
        *k == 0 && self.listening[p as usize]
    }

    /// Degradation `entry` starts (`Some`) or ends on `p`; returns the
    /// condition now in force on `p`'s links.
    pub(super) fn degrade(
        &mut self,
        p: u32,
        entry: usize,
        cond: Option<sim::world::LinkCondition>,
    ) -> Option<sim::world::LinkCondition> {
        let active = &mut self.degraded[p as usize];
        match cond {
            Some(c) => active.push((entry, c)),
            None => active.retain(|&(e, _)| e != entry),
        }
        let ((_, first), rest) = active.split_first()?;
        let mut c = *first;
        for (_, x) in rest {
            c.extra_latency_ns += x.extra_latency_ns;
            c.loss = 1.0 - (1.0 - c.loss) * (1.0 - x.loss);
            c.bandwidth_factor *= x.bandwidth_factor;
        }
        Some(c)
    }
}

/// Turns the experiment's timeline into scheduled actions.
pub(super) fn schedule_timeline(
    spec: &Experiment,
    seeds: &sim::Seeds,
    driver: &mut Driver,
    engine: &Engine<Peer>,
) {
    let n = spec.peers;
    let mut churn = seeds.stream("churn");
    let end = |ev: &TimelineEvent| ev.end_s().unwrap_or(f64::INFINITY);
    // Offline windows decided so far, to draw `count` peers among those up.
    let mut windows: Vec<(u32, f64, f64)> = Vec::new();
    for (entry, ev) in spec.timeline.iter().enumerate() {
        let at_ns = ms_to_ns(ev.at_s() * 1000.0);
        let end_ns = ev.end_s().map(|e| ms_to_ns(e * 1000.0));
        match ev {
            TimelineEvent::Offline {
                peers,
                count,
                redial,
                graceful,
                ..
            } => {
                let chosen: Vec<u32> = if peers.is_empty() {
                    let (t0, t1) = (ev.at_s(), end(ev));
                    let mut free: Vec<u32> = (0..n)
                        .filter(|&p| {
                            !windows
                                .iter()
                                .any(|&(q, a, b)| q == p && a <= t1 && t0 <= b)
                        })
                        .collect();
                    rand::seq::SliceRandom::shuffle(free.as_mut_slice(), &mut churn);
                    let mut c: Vec<u32> = free.into_iter().take(*count as usize).collect();
                    c.sort_unstable();
                    c
                } else {
                    peers.clone()
                };
                for &p in &chosen {
                    windows.push((p, ev.at_s(), end(ev)));
                    let tag = driver.push(Action::Down {
                        peer: p,
                        graceful: *graceful,
                    });
                    engine.schedule_app(at_ns, None, tag);
                    if let Some(t) = end_ns {
                        let tag = driver.push(Action::Up {
                            peer: p,
                            redial: *redial,
                        });
                        engine.schedule_app(t, None, tag);
                    }
                }
            }
            TimelineEvent::Degrade {
                peers,
                extra_latency_ms,
                loss,
                bandwidth_factor,
                ..
            } => {
                let cond = sim::world::LinkCondition {
                    extra_latency_ns: ms_to_ns(*extra_latency_ms),
                    loss: *loss,
                    bandwidth_factor: *bandwidth_factor,
                };
                let tag = driver.push(Action::Condition {
                    entry,
                    peers: peers.clone(),
                    cond: Some(cond),
                });
                engine.schedule_app(at_ns, None, tag);
                if let Some(t) = end_ns {
                    let tag = driver.push(Action::Condition {
                        entry,
                        peers: peers.clone(),
                        cond: None,
                    });
                    engine.schedule_app(t, None, tag);
                }
            }
            TimelineEvent::Vanish { peers, .. } => {
                let tag = driver.push(Action::Reachable {
                    peers: peers.clone(),
                    reachable: false,
                });
                engine.schedule_app(at_ns, None, tag);
                if let Some(t) = end_ns {
                    let tag = driver.push(Action::Reachable {
                        peers: peers.clone(),
                        reachable: true,
                    });
                    engine.schedule_app(t, None, tag);
                }
            }
            TimelineEvent::Partition { group, share, .. } => {
                let mut in_a = vec![false; n as usize];
                if group.is_empty() {
                    let k = partition_size(share.unwrap_or(0.5), n);
                    in_a[..k as usize].iter_mut().for_each(|x| *x = true);
                } else {
                    for &p in group {
                        in_a[p as usize] = true;
                    }
                }
                let tag = driver.push(Action::PartitionStart { in_a });
                engine.schedule_app(at_ns, None, tag);
                if let Some(t) = end_ns {
                    let tag = driver.push(Action::PartitionHeal);
                    engine.schedule_app(t, None, tag);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Overlaps;
    use sim::world::LinkCondition;

    pub(super) fn cond(ms: u64, loss: f64, bandwidth_factor: f64) -> LinkCondition {
        LinkCondition {
            extra_latency_ns: ms * sim::MS,
            loss,
            bandwidth_factor,
        }
    }

    #[test]
    pub(super) fn one_degradation_at_a_time_is_applied_exactly_as_given() {
        // Bit for bit, so that timelines without overlaps run as before.
        let mut o = Overlaps::new(vec![true; 2]);
        let c = cond(300, 0.1, 0.3);
        assert_eq!(o.degrade(1, 4, Some(c)), Some(c));
        assert_eq!(o.degrade(1, 4, None), None);
        assert_eq!(
            o.degrade(1, 7, Some(cond(5, 0.07, 1.0))),
            Some(cond(5, 0.07, 1.0))
        );
    }

    #[test]
    pub(super) fn overlapping_degradations_stack_and_each_end_removes_only_its_own() {
        let mut o = Overlaps::new(vec![true; 3]);
        o.degrade(2, 0, Some(cond(500, 0.5, 0.5)));
        let both = o.degrade(2, 1, Some(cond(200, 0.2, 0.5))).unwrap();
        assert_eq!(both.extra_latency_ns, 700 * sim::MS);
        assert!((both.loss - 0.6).abs() < 1e-12, "{}", both.loss);
        assert_eq!(both.bandwidth_factor, 0.25);
        // An inner entry of nothing at all changes nothing, and its end neither.
        assert_eq!(o.degrade(2, 2, Some(cond(0, 0.0, 1.0))), Some(both));
        assert_eq!(o.degrade(2, 2, None), Some(both));
        // The outer one ends first: the inner one stays.
        assert_eq!(o.degrade(2, 0, None), Some(cond(200, 0.2, 0.5)));
        assert_eq!(o.degrade(2, 1, None), None);
        // Other peers untouched throughout.
        assert_eq!(o.degrade(0, 9, None), None);
    }

    #[test]
    pub(super) fn offline_and_vanish_intervals_count_their_cover() {
        let mut o = Overlaps::new(vec![true, false]);
        assert!(o.offline_starts(0), "the first interval takes it down");
        assert!(!o.offline_starts(0), "already down");
        assert!(!o.offline_ends(0), "still covered");
        assert!(o.offline_ends(0), "the last end brings it back");
        assert!(!o.vanish(0, true));
        assert!(!o.vanish(0, true));
        assert!(!o.vanish(0, false), "still covered");
        assert!(o.vanish(0, false), "reachable again");
        // A peer that accepts no inbound connection stays unreachable.
        assert!(!o.vanish(1, true));
        assert!(!o.vanish(1, false));
    }
}
