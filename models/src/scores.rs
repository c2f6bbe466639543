//! Score observations: what the peers of a run score their neighbours at
//! one instant, grouped by class and behaviour (the `score_*` metrics).

/// What the peers simulated here score their neighbours at one instant:
/// per observed peer, the sum, count and minimum of the scores it is given,
/// and whether it is up. A partitioned run adds up its partitions'
/// observations before computing [`score_metrics`](crate::sampler::score_metrics)' values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScoreObservations {
    pub(crate) sum: Vec<f64>,
    pub(crate) cnt: Vec<u32>,
    pub(crate) min: Vec<f64>,
    pub(crate) up: Vec<bool>,
}

/// The static facts about a peer that score metrics group by.
#[derive(Clone, Copy, Debug)]
pub struct ScoredPeer {
    /// Whether the peer is honest.
    pub honest: bool,
    /// Its class index.
    pub class: u16,
}

impl ScoreObservations {
    /// Adds another partition's observations of the same instant.
    pub fn absorb(&mut self, other: &ScoreObservations) {
        for i in 0..self.sum.len().min(other.sum.len()) {
            self.sum[i] += other.sum[i];
            self.cnt[i] += other.cnt[i];
            self.min[i] = self.min[i].min(other.min[i]);
        }
    }

    /// The values of [`score_metrics`](crate::sampler::score_metrics).
    pub fn metrics(
        &self,
        peers: &[ScoredPeer],
        class_names: &[String],
        graylist: f64,
    ) -> Vec<(String, f64)> {
        let (sum, cnt, min) = (&self.sum, &self.cnt, &self.min);
        let mut honest = (0.0, 0u32, f64::INFINITY, 0u32);
        let mut attacker = (0.0, 0u32);
        let mut per_class = vec![(0.0, 0u32); class_names.len()];
        for (i, p) in peers.iter().enumerate() {
            if cnt[i] == 0 || !self.up[i] {
                continue;
            }
            let mean = sum[i] / f64::from(cnt[i]);
            if p.honest {
                honest.0 += mean;
                honest.1 += 1;
                honest.2 = honest.2.min(min[i]);
                if min[i] < graylist {
                    honest.3 += 1;
                }
            } else {
                attacker.0 += mean;
                attacker.1 += 1;
            }
            if let Some(c) = per_class.get_mut(p.class as usize) {
                c.0 += mean;
                c.1 += 1;
            }
        }
        let mut out = Vec::new();
        if honest.1 > 0 {
            out.push((
                "score_mean_honest".to_string(),
                honest.0 / f64::from(honest.1),
            ));
            out.push(("score_min_honest".to_string(), honest.2));
        }
        out.push(("graylisted_honest".to_string(), f64::from(honest.3)));
        if attacker.1 > 0 {
            out.push((
                "score_mean_attacker".to_string(),
                attacker.0 / f64::from(attacker.1),
            ));
        }
        for (name, (s, c)) in class_names.iter().zip(per_class) {
            if c > 0 {
                out.push((format!("score_mean.{name}"), s / f64::from(c)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two partitions' observations of the same instant, added, give the
    /// metrics of all observations at once.
    #[test]
    fn partial_score_observations_add_up() {
        let obs = |sum: Vec<f64>, cnt: Vec<u32>, min: Vec<f64>| ScoreObservations {
            up: vec![true; sum.len()],
            sum,
            cnt,
            min,
        };
        let inf = f64::INFINITY;
        // Peer 0 is scored 10 and -50 by neighbours in two partitions;
        // peer 1 only by partition b; peer 2 (an attacker) 4 and 6.
        let mut a = obs(vec![10.0, 0.0, 4.0], vec![1, 0, 1], vec![10.0, inf, 4.0]);
        let b = obs(vec![-50.0, 7.0, 6.0], vec![1, 1, 1], vec![-50.0, 7.0, 6.0]);
        let all = obs(vec![-40.0, 7.0, 10.0], vec![2, 1, 2], vec![-50.0, 7.0, 4.0]);
        a.absorb(&b);
        assert_eq!(a, all);
        let peers = [
            ScoredPeer {
                honest: true,
                class: 0,
            },
            ScoredPeer {
                honest: true,
                class: 0,
            },
            ScoredPeer {
                honest: false,
                class: 1,
            },
        ];
        let names = ["h".to_string(), "x".to_string()];
        let m = a.metrics(&peers, &names, -10.0);
        let get = |k: &str| m.iter().find(|(n, _)| n == k).map(|x| x.1);
        assert_eq!(get("score_mean_honest"), Some((-20.0 + 7.0) / 2.0));
        assert_eq!(get("score_min_honest"), Some(-50.0));
        assert_eq!(get("graylisted_honest"), Some(1.0));
        assert_eq!(get("score_mean_attacker"), Some(5.0));
        assert_eq!(get("score_mean.x"), Some(5.0));
    }
}
