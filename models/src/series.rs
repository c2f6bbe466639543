//! The network's time series: the samples taken: every `measure.sample_interval_ms`
//! the mesh of every live subscriber is sampled, giving the time series of
//! `timeseries.csv` and the mesh convergence time.
//!
//! A subscriber's mesh counts as *converged* when it has at least one
//! subscribed neighbour and holds at least `min(D_lo, subscribed
//! neighbours)` peers: a peer with fewer subscribed neighbours than D_lo
//! cannot do better. `convergence_s` is the time of the
//! first sample from which every later sample is converged: the initial
//! mesh formation time, or the recovery time after the last disruption.

use crate::scores::ScoreObservations;

/// One sample of the whole network.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// Simulated time, seconds.
    pub t_s: f64,
    /// Mean mesh degree over live subscribers (all topics).
    pub mesh_degree_mean: f64,
    /// Live subscribers whose mesh is below `min(D_lo, subscribed neighbours)`, or with no subscribed neighbour.
    pub below_d_lo: u32,
    /// Live subscribers with no mesh peer at all.
    pub isolated_peers: u32,
    /// Live subscribers with no connection at all.
    pub disconnected_peers: u32,
    /// Open connections (counted once).
    pub connections: u64,
    /// Live peers.
    pub live_peers: u32,
    /// Further metrics of this sample (peer scores, when scoring is on).
    pub extra: Vec<(String, f64)>,
    /// (Subscriber, topic) meshes averaged in `mesh_degree_mean`.
    pub meshes_sampled: u32,
    /// In a partition of a partitioned run with scoring: this partition's
    /// score observations, turned into `extra` once every partition's are added.
    pub score_obs: Option<ScoreObservations>,
}

impl Sample {
    /// Combines the sample another partition of a partitioned run took at
    /// the same time (over its own peers).
    pub fn absorb(&mut self, o: &Sample) {
        let n = self.meshes_sampled + o.meshes_sampled;
        if n > 0 {
            self.mesh_degree_mean = (self.mesh_degree_mean * f64::from(self.meshes_sampled)
                + o.mesh_degree_mean * f64::from(o.meshes_sampled))
                / f64::from(n);
        }
        self.meshes_sampled = n;
        self.below_d_lo += o.below_d_lo;
        self.isolated_peers += o.isolated_peers;
        self.disconnected_peers += o.disconnected_peers;
        self.connections += o.connections;
        self.live_peers += o.live_peers;
        if let (Some(a), Some(b)) = (self.score_obs.as_mut(), o.score_obs.as_ref()) {
            a.absorb(b);
        }
    }

    /// Is every live subscriber's mesh converged?
    pub fn converged(&self) -> bool {
        self.below_d_lo == 0
    }

    /// (metric, value) pairs for `timeseries.csv`.
    pub fn metrics(&self) -> [(&'static str, f64); 6] {
        [
            ("mesh_degree_mean", self.mesh_degree_mean),
            ("peers_below_d_lo", f64::from(self.below_d_lo)),
            ("isolated_peers", f64::from(self.isolated_peers)),
            ("disconnected_peers", f64::from(self.disconnected_peers)),
            ("connections", self.connections as f64),
            ("live_peers", f64::from(self.live_peers)),
        ]
    }
}

/// Time from which every later sample is converged; `None` if the last sample is not.
pub fn convergence_s(samples: &[Sample]) -> Option<f64> {
    let last_bad = samples.iter().rposition(|s| !s.converged());
    match last_bad {
        None => samples.first().map(|s| s.t_s),
        Some(i) => samples.get(i + 1).map(|s| s.t_s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: f64, bad: u32) -> Sample {
        Sample {
            t_s: t,
            below_d_lo: bad,
            ..Sample::default()
        }
    }

    #[test]
    fn convergence_is_the_start_of_the_final_converged_stretch() {
        assert_eq!(
            convergence_s(&[s(1.0, 3), s(2.0, 0), s(3.0, 1), s(4.0, 0), s(5.0, 0)]),
            Some(4.0)
        );
        assert_eq!(convergence_s(&[s(1.0, 0), s(2.0, 0)]), Some(1.0));
        assert_eq!(convergence_s(&[s(1.0, 0), s(2.0, 2)]), None);
        assert_eq!(convergence_s(&[]), None);
    }
}
