//! A heatmap: one cell per combination of two categories, colored
//! (viridis) and labelled with its value, and a colorbar.

use super::axis::{fmt_tick, fmt_value, nice_ticks, Ticked};
use super::{de, font, Heatmap, GREY};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Viridis, sampled at 9 points and interpolated.
fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

pub(super) fn draw_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    h: &Heatmap,
) -> anyhow::Result<()> {
    let vals: Vec<f64> = h.cells.iter().flatten().flatten().copied().collect();
    let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if vals.is_empty() {
        (0.0, 1.0)
    } else if hi - lo > 1e-12 * hi.abs().max(1.0) {
        (lo, hi)
    } else {
        (lo - 0.5 * lo.abs().max(1e-9), hi + 0.5 * hi.abs().max(1e-9))
    };
    let (aw, _) = area.dim_in_pixel();
    let (main, bar) = area.split_horizontally(aw.saturating_sub(170));

    let label_style = font(14.0);
    let mut y_label_w = 0;
    for l in &h.y_cats {
        y_label_w = y_label_w.max(main.estimate_text_size(l, &label_style).map_err(de)?.0);
    }
    let nx = h.x_cats.len().max(1);
    let ny = h.y_cats.len().max(1);
    let xt: Vec<f64> = (0..h.x_cats.len()).map(|i| i as f64).collect();
    let yt: Vec<f64> = (0..h.y_cats.len()).map(|i| i as f64).collect();
    let cat = |cats: &[String], v: f64| -> String {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 {
            cats.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let xf = |v: &f64| cat(&h.x_cats, *v);
    let yf = |v: &f64| cat(&h.y_cats, *v);
    let mut chart = ChartBuilder::on(&main)
        .margin(12)
        .x_label_area_size(52)
        .y_label_area_size(y_label_w + 40)
        .build_cartesian_2d(
            Ticked::new(-0.5, nx as f64 - 0.5, xt),
            Ticked::new(-0.5, ny as f64 - 0.5, yt),
        )
        .map_err(de)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(h.x_label.as_str())
        .y_desc(h.y_label.as_str())
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .label_style(label_style)
        .axis_desc_style(font(15.0))
        .draw()
        .map_err(de)?;
    let center = Pos::new(HPos::Center, VPos::Center);
    for (j, row) in h.cells.iter().enumerate() {
        for (i, cell) in row.iter().enumerate() {
            let (x, y) = (i as f64, j as f64);
            let rect = [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)];
            let (fill, text, text_color) = match cell {
                Some(v) => {
                    let t = (v - lo) / (hi - lo);
                    let c = viridis(t);
                    let light = t > 0.55;
                    (c, fmt_value(*v), if light { BLACK } else { WHITE })
                }
                None => (RGBColor(235, 235, 235), "n/a".to_string(), GREY),
            };
            chart
                .draw_series([
                    Rectangle::new(rect, fill.filled()),
                    Rectangle::new(rect, WHITE.stroke_width(2)),
                ])
                .map_err(de)?;
            chart
                .draw_series([Text::new(
                    text,
                    (x, y),
                    font(15.0).color(&text_color).pos(center),
                )])
                .map_err(de)?;
        }
    }

    // Colorbar.
    let (_, bh) = bar.dim_in_pixel();
    let bar = bar.margin(12, 64.min(bh / 4), 10, 0);
    let (vt, vstep) = nice_ticks(lo, hi, 6);
    let vt: Vec<f64> = vt
        .into_iter()
        .filter(|v| *v >= lo - 1e-12 && *v <= hi + 1e-12)
        .collect();
    let vf = |v: &f64| fmt_tick(*v, vstep);
    let mut cb = ChartBuilder::on(&bar)
        .set_label_area_size(LabelAreaPosition::Right, 100)
        .build_cartesian_2d(Ticked::new(0.0, 1.0, Vec::new()), Ticked::new(lo, hi, vt))
        .map_err(de)?;
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(h.value_label.as_str())
        .y_label_formatter(&vf)
        .label_style(font(13.0))
        .axis_desc_style(font(14.0))
        .draw()
        .map_err(de)?;
    let steps = 64;
    cb.draw_series((0..steps).map(|k| {
        let a = lo + (hi - lo) * k as f64 / steps as f64;
        let b = lo + (hi - lo) * (k + 1) as f64 / steps as f64;
        Rectangle::new(
            [(0.0, a), (1.0, b)],
            viridis((k as f64 + 0.5) / steps as f64).filled(),
        )
    }))
    .map_err(de)?;
    Ok(())
}
