//! Per-link latency models. A link's base latency is drawn once, when the
//! link is first used, from a stream seeded by the (unordered) pair of its
//! ends, so it does not depend on the order in which connections happen.

use crate::seeds::SimRng;
use rand::RngExt;
use rand_distr::{Distribution, LogNormal, Normal};
use serde::{Deserialize, Serialize};

/// How one-way link latency is drawn (milliseconds; never negative). In an
/// experiment file: `{ model = "uniform", min_ms = 20.0, max_ms = 80.0 }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum LatencyModel {
    /// Every link has the same latency.
    Constant {
        /// One-way latency.
        ms: f64,
    },
    /// Uniform in `[min_ms, max_ms]`.
    Uniform {
        /// Lower bound.
        min_ms: f64,
        /// Upper bound.
        max_ms: f64,
    },
    /// Normal with mean and standard deviation, clamped at `min_ms` (>= 0).
    Normal {
        /// Mean.
        mean_ms: f64,
        /// Standard deviation.
        std_ms: f64,
        /// Lower clamp (default 0).
        #[serde(default)]
        min_ms: f64,
    },
    /// Log-normal given by its median and the sigma of the underlying normal,
    /// clamped at `min_ms` (>= 0: draws below it are raised to it).
    #[serde(rename = "lognormal")]
    LogNormal {
        /// Median.
        median_ms: f64,
        /// Sigma of ln(latency).
        sigma: f64,
        /// Lower clamp (default 0: none): no link is faster, which is what
        /// partitioned runs need from a log-normal.
        #[serde(default, skip_serializing_if = "is_zero")]
        min_ms: f64,
    },
}

impl LatencyModel {
    /// Draws one link's latency in milliseconds (>= 0).
    pub fn sample_ms(&self, rng: &mut SimRng) -> f64 {
        let ms = match *self {
            LatencyModel::Constant { ms } => ms,
            LatencyModel::Uniform { min_ms, max_ms } => {
                if max_ms > min_ms {
                    rng.random_range(min_ms..=max_ms)
                } else {
                    min_ms
                }
            }
            LatencyModel::Normal {
                mean_ms,
                std_ms,
                min_ms,
            } => match Normal::new(mean_ms, std_ms) {
                Ok(d) => d.sample(rng).max(min_ms),
                Err(_) => mean_ms,
            },
            LatencyModel::LogNormal {
                median_ms,
                sigma,
                min_ms,
            } => match LogNormal::new(median_ms.max(1e-9).ln(), sigma) {
                Ok(d) => d.sample(rng).max(min_ms),
                Err(_) => median_ms.max(min_ms),
            },
        };
        ms.max(0.0)
    }

    /// Draws one link's latency in nanoseconds.
    pub fn sample_ns(&self, rng: &mut SimRng) -> u64 {
        ms_to_ns(self.sample_ms(rng))
    }

    /// The smallest latency this model can draw, nanoseconds (for the
    /// log-normal, its clamp: 0 without one).
    pub fn min_ns(&self) -> u64 {
        match *self {
            LatencyModel::Constant { ms } => ms_to_ns(ms),
            LatencyModel::Uniform { min_ms, .. } => ms_to_ns(min_ms),
            LatencyModel::Normal { min_ms, .. } => ms_to_ns(min_ms),
            LatencyModel::LogNormal { min_ms, .. } => ms_to_ns(min_ms),
        }
    }

    /// Checks the parameters; the error says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        let ok = |x: f64| x.is_finite() && x >= 0.0;
        match *self {
            LatencyModel::Constant { ms } if !ok(ms) => Err(format!("latency must be a finite number >= 0 ms, got {ms}")),
            LatencyModel::Uniform { min_ms, max_ms } if !(ok(min_ms) && ok(max_ms) && max_ms >= min_ms) => Err(format!(
                "uniform latency needs 0 <= min_ms <= max_ms, got min_ms = {min_ms}, max_ms = {max_ms}"
            )),
            LatencyModel::Normal { mean_ms, std_ms, min_ms } if !(ok(mean_ms) && ok(std_ms) && ok(min_ms)) => Err(format!(
                "normal latency needs finite mean_ms, std_ms, min_ms >= 0, got {mean_ms}, {std_ms}, {min_ms}"
            )),
            LatencyModel::LogNormal { median_ms, sigma, min_ms } if !(ok(median_ms) && median_ms > 0.0 && ok(sigma) && ok(min_ms)) => Err(format!(
                "log-normal latency needs median_ms > 0, sigma >= 0 and min_ms >= 0, got {median_ms}, {sigma}, {min_ms}"
            )),
            _ => Ok(()),
        }
    }
}

/// Leaves a zero `min_ms` out of a written experiment file.
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// Milliseconds to nanoseconds, rounded, never negative.
pub fn ms_to_ns(ms: f64) -> u64 {
    (ms.max(0.0) * 1e6).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeds::Seeds;

    fn sample(m: &LatencyModel, n: usize) -> Vec<f64> {
        let mut rng = Seeds::new(1).stream("t");
        let mut v: Vec<f64> = (0..n).map(|_| m.sample_ms(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// Kolmogorov-Smirnov distance between a sorted sample and a CDF.
    fn ks(sorted: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
        let n = sorted.len() as f64;
        sorted
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let f = cdf(x);
                (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
            })
            .fold(0.0, f64::max)
    }

    fn normal_cdf(z: f64) -> f64 {
        // Abramowitz-Stegun 7.1.26 erf approximation (error < 1.5e-7).
        let t = 1.0 / (1.0 + 0.327_591_1 * (z.abs() / std::f64::consts::SQRT_2));
        let y = 1.0
            - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736)
                * t
                + 0.254_829_592)
                * t
                * (-(z * z / 2.0)).exp();
        if z >= 0.0 {
            0.5 * (1.0 + y)
        } else {
            0.5 * (1.0 - y)
        }
    }

    // With n = 4000 the KS critical value at alpha = 0.001 is 1.95 / sqrt(n) = 0.031.
    const N: usize = 4000;
    const KS_MAX: f64 = 0.031;

    #[test]
    fn uniform_matches_its_distribution() {
        let v = sample(
            &LatencyModel::Uniform {
                min_ms: 20.0,
                max_ms: 80.0,
            },
            N,
        );
        assert!(v[0] >= 20.0 && v[N - 1] <= 80.0);
        let d = ks(&v, |x| ((x - 20.0) / 60.0).clamp(0.0, 1.0));
        assert!(d < KS_MAX, "KS {d}");
    }

    #[test]
    fn normal_matches_its_distribution_and_is_clamped() {
        let v = sample(
            &LatencyModel::Normal {
                mean_ms: 100.0,
                std_ms: 15.0,
                min_ms: 0.0,
            },
            N,
        );
        let d = ks(&v, |x| normal_cdf((x - 100.0) / 15.0));
        assert!(d < KS_MAX, "KS {d}");
        let v = sample(
            &LatencyModel::Normal {
                mean_ms: 5.0,
                std_ms: 20.0,
                min_ms: 0.0,
            },
            N,
        );
        assert!(v[0] >= 0.0, "never negative");
    }

    #[test]
    fn lognormal_matches_its_distribution() {
        let v = sample(
            &LatencyModel::LogNormal {
                median_ms: 50.0,
                sigma: 0.5,
                min_ms: 0.0,
            },
            N,
        );
        let d = ks(&v, |x| normal_cdf((x.ln() - 50f64.ln()) / 0.5));
        assert!(d < KS_MAX, "KS {d}");
    }

    #[test]
    fn a_clamped_lognormal_raises_only_the_draws_below_its_clamp() {
        let (free, clamped) = (
            LatencyModel::LogNormal {
                median_ms: 50.0,
                sigma: 0.5,
                min_ms: 0.0,
            },
            LatencyModel::LogNormal {
                median_ms: 50.0,
                sigma: 0.5,
                min_ms: 30.0,
            },
        );
        assert_eq!((free.min_ns(), clamped.min_ns()), (0, 30_000_000));
        let (a, b) = (sample(&free, N), sample(&clamped, N));
        // The same draws: raised to 30 ms below it, unchanged above.
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(*y, x.max(30.0));
        }
        // P(X < 30 ms) = Phi(ln(30/50)/0.5), about 15%, sits at the clamp.
        let at = b.iter().filter(|&&y| y == 30.0).count() as f64 / N as f64;
        let p = normal_cdf((30f64 / 50.0).ln() / 0.5);
        assert!((at - p).abs() < 0.01, "{at} vs {p}");
        assert!(LatencyModel::LogNormal {
            median_ms: 50.0,
            sigma: 0.5,
            min_ms: -1.0
        }
        .validate()
        .is_err());
    }

    #[test]
    fn constant_is_exact_and_bad_parameters_are_rejected() {
        let mut rng = Seeds::new(1).stream("t");
        assert_eq!(
            LatencyModel::Constant { ms: 50.0 }.sample_ns(&mut rng),
            50_000_000
        );
        assert!(LatencyModel::Constant { ms: -1.0 }.validate().is_err());
        assert!(LatencyModel::Uniform {
            min_ms: 9.0,
            max_ms: 1.0
        }
        .validate()
        .is_err());
        assert!(LatencyModel::LogNormal {
            median_ms: 0.0,
            sigma: 1.0,
            min_ms: 0.0
        }
        .validate()
        .is_err());
        assert!(LatencyModel::Normal {
            mean_ms: f64::NAN,
            std_ms: 1.0,
            min_ms: 0.0
        }
        .validate()
        .is_err());
    }
}
