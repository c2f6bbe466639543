//! Drawing: a [`Figure`] (title, shared legend, and either a grid of line
//! panels or a heatmap) rendered once to PNG and once to SVG with `plotters`.
//!
//! Text is drawn with the embedded DejaVu Sans (`assets/DejaVuSans.ttf`,
//! Bitstream Vera license) through `ab_glyph`, so no system font library is
//! needed. Tick positions are computed here ("nice" 1-2-5 steps), so labels
//! are tidy and never crowd: category labels that would overlap are thinned.
//!
//! - this file: the figure model ([`Figure`], [`Panel`], [`Series`],
//!   [`Heatmap`]), fonts and colors, and [`render`] (title, panels, legend).
//! - `axis`: tick positions and labels, the y range of a panel, number
//!   formatting ([`fmt_value`]).
//! - `panel`: one line panel; `heatmap`: a heatmap with its colorbar;
//!   `legend`: the legend column.

mod axis;
mod heatmap;
mod legend;
mod panel;

pub use axis::fmt_value;
pub(crate) use axis::nice_ticks;
#[cfg(test)]
pub(crate) use axis::y_axis;

use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

/// The embedded font (DejaVu Sans, Bitstream Vera license; see
/// `assets/DejaVuSans.LICENSE`).
static FONT: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Figure width in pixels.
const WIDTH: u32 = 1100;
const TITLE_H: u32 = 78;
const LEGEND_W: u32 = 260;
const PANEL_H: u32 = 400;
pub(super) const LEGEND_ROW_H: i32 = 24;

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
pub(super) const GREY: RGBColor = RGBColor(90, 90, 90);

/// The color of series `i`.
pub(crate) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
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

pub(super) fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FAMILY, size).into_font()).color(&BLACK)
}

pub(super) fn de<E: std::fmt::Display>(e: E) -> anyhow::Error {
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
                w = w.max(panel::y_label_width(root, p)?);
            }
            for (p, a) in panels.iter().zip(&areas) {
                panel::draw_panel(a, p, w)?;
            }
        }
        Body::Heatmap(h) => heatmap::draw_heatmap(&plots, h)?,
    }
    if let Some(l) = legend {
        legend::draw_legend(&l, &fig.legend, fig.legend_markers)?;
    }
    Ok(())
}
