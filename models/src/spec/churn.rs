//! Churn drawn from distributions (`[churn]`): session-length churn and
//! Poisson arrivals, expanded at start into `offline` timeline events (one
//! per outage), so they behave exactly like hand-written ones: the peer
//! crashes (its neighbours notice after the detection delay), comes back
//! with the same identity and dials its initial neighbours. Every one of
//! the `count` late joiners is down from 0; one whose arrival time falls at
//! or after the end of the run never joins.
//!
//! ```toml
//! [churn]
//! share = 0.3                                          # peers that churn (drawn at random)
//! start_s = 5.0
//! session = { distribution = "exponential", mean_s = 30.0 }   # time up between outages
//! offline = { distribution = "lognormal", median_s = 5.0, sigma = 0.5 }
//! [churn.arrivals]                                     # peers that join late
//! count = 20
//! rate_per_s = 1.0                                     # Poisson arrivals
//! start_s = 2.0
//! ```

use super::{err, SpecError, TimelineEvent};
use rand::RngExt;
use rand_distr::{Distribution, Exp, LogNormal, Weibull};
use serde::{Deserialize, Serialize};
use sim::SimRng;

/// A duration distribution (seconds).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "distribution", rename_all = "snake_case", deny_unknown_fields)]
pub enum DurationDist {
    /// Always `s`.
    Constant {
        /// Seconds.
        s: f64,
    },
    /// Exponential with mean `mean_s`.
    Exponential {
        /// Mean, seconds.
        mean_s: f64,
    },
    /// Weibull with `shape` and `scale_s`.
    Weibull {
        /// Shape k.
        shape: f64,
        /// Scale, seconds.
        scale_s: f64,
    },
    /// Log-normal with median `median_s` and `sigma` of ln(duration).
    Lognormal {
        /// Median, seconds.
        median_s: f64,
        /// Sigma.
        sigma: f64,
    },
}

impl DurationDist {
    /// Draws one duration (seconds, > 0).
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        let x = match *self {
            DurationDist::Constant { s } => s,
            DurationDist::Exponential { mean_s } => {
                Exp::new(1.0 / mean_s).map_or(mean_s, |d| d.sample(rng))
            }
            DurationDist::Weibull { shape, scale_s } => {
                Weibull::new(scale_s, shape).map_or(scale_s, |d| d.sample(rng))
            }
            DurationDist::Lognormal { median_s, sigma } => {
                LogNormal::new(median_s.ln(), sigma).map_or(median_s, |d| d.sample(rng))
            }
        };
        x.max(1e-3)
    }

    pub(crate) fn validate(&self, key: &str) -> Result<(), SpecError> {
        let pos = |k: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(err(&format!("{key}.{k}"), v, "a number > 0"))
            }
        };
        match *self {
            DurationDist::Constant { s } => pos("s", s),
            DurationDist::Exponential { mean_s } => pos("mean_s", mean_s),
            DurationDist::Weibull { shape, scale_s } => {
                pos("shape", shape).and(pos("scale_s", scale_s))
            }
            DurationDist::Lognormal { median_s, sigma } => {
                pos("median_s", median_s).and(if sigma.is_finite() && sigma >= 0.0 {
                    Ok(())
                } else {
                    Err(err(&format!("{key}.sigma"), sigma, "a number >= 0"))
                })
            }
        }
    }
}

/// Late joiners arriving as a Poisson process.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ArrivalsSpec {
    /// How many peers join late (drawn at random; they are down until they
    /// arrive, and for the whole run if their arrival falls after its end).
    pub count: u32,
    /// Arrival rate, peers per second.
    pub rate_per_s: f64,
    /// Arrivals start (s, default 0).
    #[serde(default)]
    pub start_s: f64,
}

/// The `[churn]` section.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChurnSpec {
    /// Share of peers that churn (0 = off).
    #[serde(default)]
    pub share: f64,
    /// Churn starts (s, default 0).
    #[serde(default)]
    pub start_s: f64,
    /// Time up between outages.
    #[serde(default)]
    pub session: Option<DurationDist>,
    /// Time down per outage.
    #[serde(default)]
    pub offline: Option<DurationDist>,
    /// Late joiners.
    #[serde(default)]
    pub arrivals: Option<ArrivalsSpec>,
    /// Share of outages that are graceful leaves (orderly close) rather than crashes (default 0).
    #[serde(default)]
    pub graceful_share: f64,
}

impl ChurnSpec {
    /// Checks the section.
    pub fn validate(&self, peers: u32, duration_s: f64) -> Result<(), SpecError> {
        if !(self.share.is_finite() && (0.0..=1.0).contains(&self.share)) {
            return Err(err("churn.share", self.share, "a share from 0 to 1"));
        }
        if !(self.graceful_share.is_finite() && (0.0..=1.0).contains(&self.graceful_share)) {
            return Err(err(
                "churn.graceful_share",
                self.graceful_share,
                "a share from 0 to 1",
            ));
        }
        if !(self.start_s.is_finite() && self.start_s >= 0.0) {
            return Err(err("churn.start_s", self.start_s, "a time in seconds >= 0"));
        }
        if self.share > 0.0 {
            match (&self.session, &self.offline) {
                (Some(s), Some(o)) => {
                    s.validate("churn.session")?;
                    o.validate("churn.offline")?;
                }
                _ => {
                    return Err(err(
                        "churn.session",
                        "(missing)",
                        "both `session` and `offline` distributions when share > 0",
                    ))
                }
            }
        }
        if let Some(a) = &self.arrivals {
            if a.count == 0 || a.count >= peers {
                return Err(err(
                    "churn.arrivals.count",
                    a.count,
                    format!("from 1 to peers - 1 ({})", peers.saturating_sub(1)),
                ));
            }
            if !(a.rate_per_s.is_finite() && a.rate_per_s > 0.0) {
                return Err(err("churn.arrivals.rate_per_s", a.rate_per_s, "a rate > 0"));
            }
            if !(a.start_s.is_finite() && a.start_s >= 0.0 && a.start_s < duration_s) {
                return Err(err(
                    "churn.arrivals.start_s",
                    a.start_s,
                    format!("a time from 0 to below duration_s ({duration_s})"),
                ));
            }
        }
        Ok(())
    }

    /// Expands the section into `offline` events for `peers` peers over
    /// `duration_s`, never touching the peers in `exclude`.
    pub fn expand(
        &self,
        peers: u32,
        duration_s: f64,
        exclude: &[u32],
        rng: &mut SimRng,
    ) -> Vec<TimelineEvent> {
        let mut out = Vec::new();
        let mut pool: Vec<u32> = (0..peers).filter(|p| !exclude.contains(p)).collect();
        rand::seq::SliceRandom::shuffle(pool.as_mut_slice(), rng);
        // Late joiners: down from 0 until their Poisson arrival time; those
        // whose time falls at or after the end stay down for the whole run
        // (no more draws once one does: the later ones come later still).
        if let Some(a) = &self.arrivals {
            let mut t = a.start_s;
            let k = (a.count as usize).min(pool.len());
            let joiners: Vec<u32> = pool.drain(..k).collect();
            for p in joiners {
                if t < duration_s {
                    t += Exp::new(a.rate_per_s).map_or(1.0 / a.rate_per_s, |d| d.sample(rng));
                }
                out.push(TimelineEvent::Offline {
                    at_s: 0.0,
                    duration_s: (t < duration_s).then_some(t.max(1e-3)),
                    peers: vec![p],
                    count: 0,
                    redial: None,
                    graceful: false,
                });
            }
        }
        // Session churn.
        if let (true, Some(session), Some(offline)) =
            (self.share > 0.0, &self.session, &self.offline)
        {
            let k = ((self.share * f64::from(peers)).round() as usize).min(pool.len());
            let mut churners: Vec<u32> = pool.drain(..k).collect();
            churners.sort_unstable();
            for p in churners {
                // Each peer starts at a random point of its first session.
                let mut t = self.start_s + session.sample(rng) * rng.random_range(0.0..1.0);
                while t < duration_s {
                    let d = offline.sample(rng);
                    // An outage that would end after the run stays down to the end.
                    let dur = (t + d < duration_s).then_some(d);
                    let graceful =
                        self.graceful_share > 0.0 && rng.random_bool(self.graceful_share.min(1.0));
                    out.push(TimelineEvent::Offline {
                        at_s: t,
                        duration_s: dur,
                        peers: vec![p],
                        count: 0,
                        redial: None,
                        graceful,
                    });
                    t += d + session.sample(rng);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::Seeds;

    #[test]
    fn exponential_mean_is_right() {
        let d = DurationDist::Exponential { mean_s: 4.0 };
        let mut rng = Seeds::new(1).stream("t");
        let n = 20_000;
        let mean = (0..n).map(|_| d.sample(&mut rng)).sum::<f64>() / f64::from(n);
        assert!((mean - 4.0).abs() < 0.15, "mean {mean}");
    }

    #[test]
    fn expansion_gives_non_overlapping_outages_within_the_run() {
        let c = ChurnSpec {
            share: 0.5,
            start_s: 1.0,
            session: Some(DurationDist::Exponential { mean_s: 5.0 }),
            offline: Some(DurationDist::Constant { s: 2.0 }),
            arrivals: Some(ArrivalsSpec {
                count: 3,
                rate_per_s: 1.0,
                start_s: 0.0,
            }),
            graceful_share: 0.5,
        };
        let ev = c.expand(20, 30.0, &[0], &mut Seeds::new(2).stream("churn"));
        assert!(!ev.is_empty());
        let mut per: std::collections::BTreeMap<u32, Vec<(f64, f64)>> = Default::default();
        for e in &ev {
            let TimelineEvent::Offline {
                at_s,
                duration_s,
                peers,
                ..
            } = e
            else {
                panic!()
            };
            assert_ne!(peers[0], 0, "excluded peer untouched");
            let end = at_s + duration_s.unwrap_or(30.0 - at_s);
            assert!(end <= 30.0 + 1e-9);
            per.entry(peers[0]).or_default().push((*at_s, end));
        }
        for w in per.values() {
            for pair in w.windows(2) {
                assert!(pair[0].1 < pair[1].0, "outages of one peer do not overlap");
            }
        }
    }
}
