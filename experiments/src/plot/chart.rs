//! Drawing: a [`Figure`] (title, shared legend, and either a grid of line
//! panels or a heatmap) rendered once to PNG and once to SVG with `plotters`.
//!
//! Text is drawn with the embedded DejaVu Sans (`assets/DejaVuSans.ttf`,
//! Bitstream Vera license) through `ab_glyph`, so no system font library is
//! needed. Tick positions are computed here ("nice" 1-2-5 steps), so labels
//! are tidy and never crowd: category labels that would overlap are thinned.

use anyhow::anyhow;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

/// The embedded font (DejaVu Sans, Bitstream Vera license; see
/// `assets/DejaVuSans.LICENSE`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Figure width in pixels.
const WIDTH: u32 = 1100;
const TITLE_H: u32 = 78;
const LEGEND_W: u32 = 260;
const PANEL_H: u32 = 400;
const LEGEND_ROW_H: i32 = 24;

/// Colors: the Tableau 10 palette (distinct, colorblind-aware).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
const GREY: RGBColor = RGBColor(90, 90, 90);

/// The color of series `i`.
pub(crate) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A linear f64 axis whose tick positions are given (ours, not plotters').
#[derive(Debug, Clone)]
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(lo: f64, hi: f64, ticks: Vec<f64>) -> Ticked {
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

/// One line (with optional markers and error bars) in a panel.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// Index into the figure's legend (gives label and color).
    pub(crate) key: usize,
    pub(crate) points: Vec<(f64, f64)>,
    /// Error bar `(low, high)` per point; empty for none.
    pub(crate) err: Vec<(f64, f64)>,
    pub(crate) markers: bool,
}

/// The x axis of a panel.
#[derive(Debug, Clone)]
pub(crate) enum XAxis {
    Numeric,
    /// Evenly spaced categories at x = 0, 1, 2, ...
    Categories(Vec<String>),
}

/// One chart in a grid of panels.
#[derive(Debug, Clone)]
pub(crate) struct Panel {
    pub(crate) title: String,
    pub(crate) x_label: String,
    pub(crate) y_label: String,
    pub(crate) x: XAxis,
    pub(crate) series: Vec<Series>,
    /// Start the y axis at 0 when all values are non-negative.
    pub(crate) y_from_zero: bool,
    /// Fixed y range, e.g. `(0, 1)` for a fraction.
    pub(crate) y_range: Option<(f64, f64)>,
    /// Fixed x range (numeric axes), e.g. to align time axes across panels.
    pub(crate) x_range: Option<(f64, f64)>,
}

/// A heatmap: `cells[y][x]`, `None` for a missing point.
#[derive(Debug, Clone)]
pub(crate) struct Heatmap {
    pub(crate) x_label: String,
    pub(crate) y_label: String,
    pub(crate) x_cats: Vec<String>,
    pub(crate) y_cats: Vec<String>,
    pub(crate) cells: Vec<Vec<Option<f64>>>,
    /// Colorbar label (the metric, with units).
    pub(crate) value_label: String,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Panels { panels: Vec<Panel>, columns: usize },
    Heatmap(Heatmap),
}

/// A whole image.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    pub(crate) title: String,
    pub(crate) subtitle: String,
    /// Legend entries (label; the color is the entry's index). Empty: no legend.
    pub(crate) legend: Vec<String>,
    /// Whether legend entries show a marker as well as a line.
    pub(crate) legend_markers: bool,
    pub(crate) body: Body,
}

impl Figure {
    fn size(&self) -> (u32, u32) {
        let rows = match &self.body {
            Body::Panels { panels, columns } => panels.len().div_ceil((*columns).max(1)).max(1),
            Body::Heatmap(h) => {
                // Taller for many rows of cells.
                return (WIDTH, TITLE_H + (520).max(60 * h.y_cats.len() as u32 + 160));
            }
        };
        (WIDTH, TITLE_H + PANEL_H * rows as u32 + 10)
    }
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            // Only a corrupt embedded file can fail; the build would show it.
            eprintln!("warning: the embedded font could not be loaded; plots have no text");
        }
    });
}

fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).color(&BLACK)
}

fn de<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e}")
}

/// Renders `fig` as PNG bytes and SVG text.
pub(crate) fn render(fig: &Figure) -> anyhow::Result<(Vec<u8>, String)> {
    register_font();
    let (w, h) = fig.size();
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_figure(&root, fig)?;
        root.present().map_err(de)?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc.write_header()?;
        wr.write_image_data(&rgb)?;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        draw_figure(&root, fig)?;
        root.present().map_err(de)?;
    }
    Ok((png_bytes, svg))
}

fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
) -> anyhow::Result<()> {
    root.fill(&WHITE).map_err(de)?;
    let (w, _) = root.dim_in_pixel();
    let center = Pos::new(HPos::Center, VPos::Top);
    root.draw(&Text::new(
        fig.title.clone(),
        (w as i32 / 2, 14),
        font(26.0).pos(center),
    ))
    .map_err(de)?;
    if !fig.subtitle.is_empty() {
        root.draw(&Text::new(
            fig.subtitle.clone(),
            (w as i32 / 2, 50),
            font(15.0).color(&GREY).pos(center),
        ))
        .map_err(de)?;
    }
    let body = root.margin(TITLE_H, 10, 10, 10);
    let (plots, legend) = if fig.legend.is_empty() {
        (body, None)
    } else {
        let (bw, _) = body.dim_in_pixel();
        // Wide enough for the widest ", "-separated part of any entry (up
        // to 40% of the figure), so parameter names are not cut.
        let style = font(15.0);
        let mut widest = 0u32;
        for part in fig.legend.iter().flat_map(|e| e.split(", ")) {
            widest = widest.max(body.estimate_text_size(part, &style).map_err(de)?.0);
        }
        let legend_w = (widest + 60).clamp(LEGEND_W, bw * 2 / 5);
        let (p, l) = body.split_horizontally(bw.saturating_sub(legend_w));
        (p, Some(l))
    };
    match &fig.body {
        Body::Panels { panels, columns } => {
            let cols = (*columns).max(1);
            let rows = panels.len().div_ceil(cols).max(1);
            let areas = plots.split_evenly((rows, cols));
            // Same y label width in every panel, so stacked plot areas line up.
            let mut w = 0;
            for p in panels {
                w = w.max(y_label_width(root, p)?);
            }
            for (p, a) in panels.iter().zip(&areas) {
                draw_panel(a, p, w)?;
            }
        }
        Body::Heatmap(h) => draw_heatmap(&plots, h)?,
    }
    if let Some(l) = legend {
        draw_legend(&l, &fig.legend, fig.legend_markers)?;
    }
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[String],
    markers: bool,
) -> anyhow::Result<()> {
    let (w, h) = area.dim_in_pixel();
    let top = 40;
    let bottom = h as i32 - 30;
    let left = Pos::new(HPos::Left, VPos::Center);
    let style = font(15.0).pos(left);
    let max_text = w as i32 - 52;
    // Entries too wide for the column wrap at ", " (sweep points name
    // several parameters); each line takes one row.
    let mut wrapped = Vec::with_capacity(entries.len());
    for label in entries {
        wrapped.push(wrap_text(area, label, &style, max_text)?);
    }
    let mut y = top;
    let mut shown = 0;
    for (i, lines) in wrapped.iter().enumerate() {
        let rows = lines.len() as i32;
        let last = i + 1 == wrapped.len();
        // Keep one row free for "... and N more" unless this is the last entry.
        let need = rows * LEGEND_ROW_H + if last { 0 } else { LEGEND_ROW_H };
        if y + need > bottom && !(last && y + rows * LEGEND_ROW_H <= bottom) {
            break;
        }
        let c = color(i);
        area.draw(&PathElement::new(vec![(8, y), (36, y)], c.stroke_width(3)))
            .map_err(de)?;
        if markers {
            area.draw(&Circle::new((22, y), 4, c.filled()))
                .map_err(de)?;
        }
        for line in lines {
            area.draw(&Text::new(line.clone(), (44, y), style.clone()))
                .map_err(de)?;
            y += LEGEND_ROW_H;
        }
        shown += 1;
    }
    if shown < entries.len() {
        area.draw(&Text::new(
            format!("... and {} more", entries.len() - shown),
            (44, y),
            style.clone().color(&GREY),
        ))
        .map_err(de)?;
    }
    Ok(())
}

/// Splits `text` at ", " into lines that fit `max_px` (a part wider than
/// that is shortened with "...").
fn wrap_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle<'_>,
    max_px: i32,
) -> anyhow::Result<Vec<String>> {
    let width = |s: &str| -> anyhow::Result<i32> {
        Ok(area.estimate_text_size(s, style).map_err(de)?.0 as i32)
    };
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for part in text.split(", ") {
        let joined = if cur.is_empty() {
            part.to_string()
        } else {
            format!("{cur}, {part}")
        };
        if cur.is_empty() || width(&joined)? <= max_px {
            cur = joined;
        } else {
            lines.push(std::mem::take(&mut cur));
            cur = part.to_string();
        }
    }
    lines.push(cur);
    lines
        .iter()
        .map(|l| fit_text(area, l, style, max_px))
        .collect()
}

/// Shortens `text` with a trailing "..." until it fits `max_px`.
fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle<'_>,
    max_px: i32,
) -> anyhow::Result<String> {
    let width = |s: &str| -> anyhow::Result<i32> {
        Ok(area.estimate_text_size(s, style).map_err(de)?.0 as i32)
    };
    if width(text)? <= max_px {
        return Ok(text.to_string());
    }
    let chars: Vec<char> = text.chars().collect();
    for n in (1..chars.len()).rev() {
        let s: String = chars[..n].iter().collect::<String>() + "...";
        if width(&s)? <= max_px {
            return Ok(s);
        }
    }
    Ok("...".to_string())
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

/// Width of a panel's widest y tick label, in pixels.
fn y_label_width<DB: DrawingBackend>(
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

fn draw_panel<DB: DrawingBackend>(
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

fn draw_heatmap<DB: DrawingBackend>(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
