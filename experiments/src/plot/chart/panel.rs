//! One line panel: axes with tidy ticks (overlapping category labels
//! thinned), the series with their error bars and markers, or "no data".

use super::axis::{fmt_tick, nice_ticks, y_axis, Ticked};
use super::{color, de, font, Panel, XAxis, GREY};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Width of a panel's widest y tick label, in pixels.
pub(super) fn y_label_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Panel,
) -> anyhow::Result<u32> {
    let (_, _, ticks, step) = y_axis(p);
    let mut w = 0;
    for v in &ticks {
        w = w.max(
            area.estimate_text_size(&fmt_tick(*v, step), &font(14.0))
                .map_err(de)?
                .0,
        );
    }
    Ok(w)
}

pub(super) fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Panel,
    min_y_label_w: u32,
) -> anyhow::Result<()> {
    let all_x: Vec<f64> = p
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|q| q.0))
        .collect();
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);

    // x axis: ticks, range, labels
    let (x_lo, x_hi, x_ticks, x_labels): (f64, f64, Vec<f64>, Vec<String>) = match &p.x {
        XAxis::Categories(c) => {
            let n = c.len().max(1);
            (
                -0.5,
                n as f64 - 0.5,
                (0..c.len()).map(|i| i as f64).collect(),
                c.clone(),
            )
        }
        XAxis::Numeric => {
            let (lo, hi) = match p.x_range {
                Some(r) => r,
                None if all_x.is_empty() => (0.0, 1.0),
                None => (min(&all_x), max(&all_x)),
            };
            let (t, step) = nice_ticks(lo, hi, 7);
            let labels: Vec<String> = t.iter().map(|v| fmt_tick(*v, step)).collect();
            let (lo, hi) = if hi > lo {
                (lo, hi)
            } else {
                (t[0], t[t.len() - 1])
            };
            // Keep only ticks inside the data range (no empty margins).
            let (t, labels): (Vec<f64>, Vec<String>) = t
                .into_iter()
                .zip(labels)
                .filter(|(v, _)| *v >= lo - 1e-9 * (hi - lo) && *v <= hi + 1e-9 * (hi - lo))
                .unzip();
            (lo, hi, t, labels)
        }
    };

    let (y_lo, y_hi, y_ticks, y_step) = y_axis(p);
    let label_style = font(14.0);
    let mut y_label_w = min_y_label_w;
    for v in &y_ticks {
        y_label_w = y_label_w.max(
            area.estimate_text_size(&fmt_tick(*v, y_step), &label_style)
                .map_err(de)?
                .0,
        );
    }

    // Thin category labels that would overlap.
    let (aw, _) = area.dim_in_pixel();
    let plot_w = aw.saturating_sub(y_label_w + 70 + 24).max(50) as f64;
    let mut label_w = 0u32;
    for l in &x_labels {
        label_w = label_w.max(area.estimate_text_size(l, &label_style).map_err(de)?.0);
    }
    let slot = plot_w / x_ticks.len().max(1) as f64;
    let every = ((label_w as f64 + 12.0) / slot).ceil().max(1.0) as usize;
    let (x_ticks, x_labels): (Vec<f64>, Vec<String>) = x_ticks
        .into_iter()
        .zip(x_labels)
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(_, t)| t)
        .unzip();
    let x_label_of = |v: &f64| -> String {
        x_ticks
            .iter()
            .position(|t| (t - v).abs() <= 1e-9 * (1.0 + v.abs()))
            .map(|i| x_labels[i].clone())
            .unwrap_or_default()
    };
    let y_label_of = |v: &f64| fmt_tick(*v, y_step);

    let mut builder = ChartBuilder::on(area);
    if !p.title.is_empty() {
        builder.caption(&p.title, font(18.0));
    }
    let mut chart = builder
        .margin(12)
        .x_label_area_size(52)
        .y_label_area_size(y_label_w + 40)
        .build_cartesian_2d(
            Ticked::new(x_lo, x_hi, x_ticks.clone()),
            Ticked::new(y_lo, y_hi, y_ticks.clone()),
        )
        .map_err(de)?;
    chart
        .configure_mesh()
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .x_label_formatter(&x_label_of)
        .y_label_formatter(&y_label_of)
        .label_style(label_style.clone())
        .axis_desc_style(font(15.0))
        .bold_line_style(RGBColor(220, 220, 220))
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(de)?;

    if p.series.iter().all(|s| s.points.is_empty()) {
        chart
            .draw_series([Text::new(
                "no data",
                ((x_lo + x_hi) / 2.0, (y_lo + y_hi) / 2.0),
                font(16.0)
                    .color(&GREY)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            )])
            .map_err(de)?;
        return Ok(());
    }
    let cap = (x_hi - x_lo) * 0.008;
    for s in &p.series {
        let c = color(s.key);
        for (pt, e) in s.points.iter().zip(&s.err) {
            let st = c.stroke_width(2);
            chart
                .draw_series([
                    PathElement::new(vec![(pt.0, e.0), (pt.0, e.1)], st),
                    PathElement::new(vec![(pt.0 - cap, e.0), (pt.0 + cap, e.0)], st),
                    PathElement::new(vec![(pt.0 - cap, e.1), (pt.0 + cap, e.1)], st),
                ])
                .map_err(de)?;
        }
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))
            .map_err(de)?;
        if s.markers {
            chart
                .draw_series(s.points.iter().map(|q| Circle::new(*q, 4, c.filled())))
                .map_err(de)?;
        }
    }
    Ok(())
}
