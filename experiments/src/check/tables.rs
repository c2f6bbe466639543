//! The comparison as an aligned text table (printed) and a Markdown table
//! (`--markdown`, for a CI comment).

use super::{failure_summary, gone_lines, value_text, Row, Value};
use std::fmt::Write as _;

fn fmt_change(b: Option<Value>, v: Value) -> String {
    let (Some(Value::Num(b)), Value::Num(v)) = (b, v) else {
        // Never and n/a have no difference to print.
        return "-".into();
    };
    match b {
        b if b == v => "0".into(),
        b if b != 0.0 => format!("{:+.4} ({:+.2}%)", v - b, (v - b) / b.abs() * 100.0),
        b => format!("{:+.4}", v - b),
    }
}

fn fmt_num(x: Option<Value>) -> String {
    match x {
        None => "-".into(),
        Some(Value::Num(x)) => format!("{x:.6}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        Some(v) => value_text(v),
    }
}

/// The comparison as an aligned text table.
pub fn text_table(rows: &[Row]) -> String {
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.point.clone(),
                r.metric.clone(),
                fmt_num(r.baseline),
                fmt_num(Some(r.now)),
                fmt_change(r.baseline, r.now),
                r.verdict.text().to_string(),
            ]
        })
        .collect();
    let head = ["point", "metric", "baseline", "now", "change", "verdict"];
    let mut width = head.map(str::len);
    for c in &cells {
        for (w, s) in width.iter_mut().zip(c) {
            *w = (*w).max(s.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, c: &[&str]| {
        for (i, s) in c.iter().enumerate() {
            let _ = write!(out, "{:<w$}  ", s, w = width[i]);
        }
        out.push('\n');
    };
    line(&mut out, &head);
    for c in &cells {
        line(&mut out, &c.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out
}

/// The comparison as a Markdown table (for a CI comment).
pub fn markdown_table(rows: &[Row], gone: &[(String, usize)], title: &str) -> String {
    let mut out = format!(
        "### meshsim check: {title}\n\n{}\n\n| point | metric | baseline | now | change | verdict |\n|---|---|---|---|---|---|\n",
        match failure_summary(rows, gone) {
            None => "All metrics within tolerance.".to_string(),
            Some(s) => format!("**Failed: {s}.**"),
        }
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.point,
            r.metric,
            fmt_num(r.baseline),
            fmt_num(Some(r.now)),
            fmt_change(r.baseline, r.now),
            r.verdict.text()
        );
    }
    if !gone.is_empty() {
        out.push('\n');
        for l in gone_lines(gone).lines() {
            let _ = writeln!(out, "- {l}");
        }
    }
    out
}
