//! Per-link latency models. A link's latency is drawn once, when the link is
//! first used, from a stream seeded by the (unordered) pair of its ends, so it
//! does not depend on the order in which connections happen.

use crate::seeds::SimRng;
use rand::RngExt;

/// How one-way link latency is drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum LatencyModel {
    /// Every link has the same latency.
    Constant {
        /// One-way latency in milliseconds.
        ms: f64,
    },
    /// Each link's latency is uniform in `[min_ms, max_ms]`.
    Uniform {
        /// Lower bound, milliseconds.
        min_ms: f64,
        /// Upper bound, milliseconds.
        max_ms: f64,
    },
}

impl LatencyModel {
    /// Draws one link's latency in nanoseconds.
    pub fn sample_ns(&self, rng: &mut SimRng) -> u64 {
        let ms = match *self {
            LatencyModel::Constant { ms } => ms,
            LatencyModel::Uniform { min_ms, max_ms } => {
                if max_ms > min_ms {
                    rng.random_range(min_ms..=max_ms)
                } else {
                    min_ms
                }
            }
        };
        (ms.max(0.0) * 1e6).round() as u64
    }

    /// Checks the parameters; the error says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            LatencyModel::Constant { ms } if !(ms.is_finite() && ms >= 0.0) => {
                Err(format!("latency must be a finite number >= 0 ms, got {ms}"))
            }
            LatencyModel::Uniform { min_ms, max_ms }
                if !(min_ms.is_finite() && max_ms.is_finite() && min_ms >= 0.0 && max_ms >= min_ms) =>
            {
                Err(format!(
                    "uniform latency needs 0 <= min_ms <= max_ms, got min_ms = {min_ms}, max_ms = {max_ms}"
                ))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeds::Seeds;

    #[test]
    fn uniform_stays_in_range_and_constant_is_exact() {
        let mut rng = Seeds::new(1).stream("t");
        let m = LatencyModel::Uniform {
            min_ms: 20.0,
            max_ms: 80.0,
        };
        let xs: Vec<u64> = (0..2000).map(|_| m.sample_ns(&mut rng)).collect();
        assert!(xs.iter().all(|&x| (20_000_000..=80_000_000).contains(&x)));
        let mean = xs.iter().sum::<u64>() as f64 / xs.len() as f64 / 1e6;
        assert!((mean - 50.0).abs() < 2.0, "mean {mean}");
        let c = LatencyModel::Constant { ms: 50.0 };
        assert_eq!(c.sample_ns(&mut rng), 50_000_000);
        assert!(LatencyModel::Constant { ms: -1.0 }.validate().is_err());
        assert!(LatencyModel::Uniform {
            min_ms: 9.0,
            max_ms: 1.0
        }
        .validate()
        .is_err());
    }
}
