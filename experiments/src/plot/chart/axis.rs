//! Axes: a linear axis with our own tick positions ("nice" 1-2-5 steps),
//! tick labels, the y range of a panel, and numbers in cells.

use super::Panel;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::prelude::*;

/// A linear f64 axis whose tick positions are given (ours, not plotters').
#[derive(Debug, Clone)]
pub(super) struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ticked {
    pub(super) fn new(lo: f64, hi: f64, ticks: Vec<f64>) -> Ticked {
        Ticked { lo, hi, ticks }
    }
}

impl Ranged for Ticked {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if span <= 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let f = (v - self.lo) / span;
        limit.0 + ((limit.1 - limit.0) as f64 * f).round() as i32
    }
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }
    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for Ticked {
    fn format(v: &f64) -> String {
        format!("{v}")
    }
}

/// Nice tick positions covering `[lo, hi]` with about `n` ticks, and the step.
pub(crate) fn nice_ticks(lo: f64, hi: f64, n: usize) -> (Vec<f64>, f64) {
    let (lo, hi) = if hi - lo > 1e-12 * hi.abs().max(1.0) {
        (lo, hi)
    } else {
        let d = (lo.abs() * 0.1).max(1.0);
        (lo - d, hi + d)
    };
    let raw = (hi - lo) / (n.max(2) - 1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    let ticks = (first..=last).map(|k| k as f64 * step).collect();
    (ticks, step)
}

/// Formats a tick value given the tick step: `0.25`, `120`, `36k`, `1.2M`.
pub(crate) fn fmt_tick(v: f64, step: f64) -> String {
    let (scale, suffix) = if step >= 1e5 {
        (1e6, "M")
    } else if step >= 1e3 && v.abs() >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let s = step / scale;
    // As many decimals as the step needs (0.25 -> 2, 0.2 -> 1, 50 -> 0).
    let decimals = (0..6usize)
        .find(|d| {
            let m = s * 10f64.powi(*d as i32);
            (m - m.round()).abs() < 1e-6 * m.abs().max(1.0)
        })
        .unwrap_or(6);
    let x = v / scale;
    let x = if x.abs() < step / scale * 1e-6 {
        0.0
    } else {
        x
    };
    format!("{x:.decimals$}{suffix}")
}

/// Formats a value for a table cell or a heatmap cell: 4 significant digits.
pub fn fmt_value(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = 4i32 - 1 - v.abs().log10().floor() as i32;
    if digits <= 0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.*}", digits as usize);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// The y range, ticks and tick step of a panel.
pub(crate) fn y_axis(p: &Panel) -> (f64, f64, Vec<f64>, f64) {
    let mut all_y: Vec<f64> = p
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|q| q.1))
        .collect();
    all_y.extend(
        p.series
            .iter()
            .flat_map(|s| s.err.iter().flat_map(|e| [e.0, e.1])),
    );
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // y axis
    let (y_lo, y_hi) = match p.y_range {
        Some(r) => r,
        None if all_y.is_empty() => (0.0, 1.0),
        None => {
            let (mut lo, mut hi) = (min(&all_y), max(&all_y));
            if p.y_from_zero && lo >= 0.0 {
                lo = 0.0;
                if hi <= 0.0 {
                    // All zero (a count that never rose): 0 to 1, not -1 to 1.
                    hi = 1.0;
                }
            }
            (lo, hi)
        }
    };
    let (mut y_ticks, y_step) = nice_ticks(y_lo, y_hi, 6);
    if p.y_range.is_none() {
        // Room above the highest point, so a peak does not touch the frame.
        let top = y_ticks[y_ticks.len() - 1];
        if (top - y_hi).abs() <= 1e-9 * top.abs().max(1.0) && y_hi > y_lo {
            y_ticks.push(top + y_step);
        }
    }
    let (y_lo, y_hi) = if p.y_range.is_some() {
        (y_lo, y_hi)
    } else {
        (y_ticks[0], y_ticks[y_ticks.len() - 1])
    };
    let y_ticks: Vec<f64> = y_ticks
        .into_iter()
        .filter(|v| *v >= y_lo - 1e-9 && *v <= y_hi + 1e-9)
        .collect();
    (y_lo, y_hi, y_ticks, y_step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::chart::{Series, XAxis};

    #[test]
    fn ticks_are_nice_and_cover_the_range() {
        let (t, step) = nice_ticks(0.0, 1.0, 6);
        assert_eq!(step, 0.2);
        assert_eq!(t.len(), 6);
        let (t, step) = nice_ticks(13.0, 187.0, 6);
        assert_eq!(step, 50.0);
        assert_eq!((t[0], t[t.len() - 1]), (0.0, 200.0));
        assert_eq!(fmt_tick(0.4, 0.2), "0.4");
        assert_eq!(fmt_tick(0.25, 0.25), "0.25");
        assert_eq!(fmt_tick(350000.0, 50000.0), "350k");
        assert_eq!(fmt_tick(1_500_000.0, 500_000.0), "1.5M");
        assert_eq!(fmt_tick(150.0, 50.0), "150");
    }

    #[test]
    fn values_have_four_significant_digits() {
        assert_eq!(fmt_value(0.98765), "0.9877");
        assert_eq!(fmt_value(132.44), "132.4");
        assert_eq!(fmt_value(360304.0), "360304");
        assert_eq!(fmt_value(1.0), "1");
    }

    #[test]
    fn count_axes_start_at_zero_and_leave_room_above_the_peak() {
        let panel = |ys: &[f64]| Panel {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            x: XAxis::Numeric,
            series: vec![Series {
                key: 0,
                points: ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect(),
                err: Vec::new(),
                markers: false,
            }],
            y_from_zero: true,
            y_range: None,
            x_range: None,
        };
        // A count that stayed 0 is drawn on 0.., not on -1..1.
        let (lo, hi, _, _) = y_axis(&panel(&[0.0, 0.0]));
        assert!(lo == 0.0 && hi >= 1.0, "{lo}..{hi}");
        // A peak on a round value is below the top of the frame.
        let (lo, hi, _, _) = y_axis(&panel(&[0.0, 6.0, 2.0]));
        assert!(lo == 0.0 && hi > 6.0, "{lo}..{hi}");
    }
}
