//! The legend column: one entry per series (a colored line, optionally a
//! marker), long entries wrapped, and "... and N more" when they do not fit.

use super::{color, de, font, GREY, LEGEND_ROW_H};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub(super) fn draw_legend<DB: DrawingBackend>(
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
