//! `report.html`: one static page (no script, no network) that opens straight
//! from disk: the experiment, a summary table per parameter point (or per
//! run), every plot (SVG, with links to PNG and SVG), the experiment file as
//! run and `meta.json`. Written by [`super::plot_dir`].

use super::data::{mean_std, Study};
use super::{metric_label, PlotInfo};
use crate::output::write_atomic;
use std::fmt::Write as _;
use std::path::Path;

/// Metrics in the summary table, when present.
const KEY_METRICS: &[&str] = &[
    "delivery_ratio",
    "latency_ms_p50",
    "latency_ms_p99",
    "duplicates_per_delivery",
    "bytes_sent_per_peer",
    "mesh_degree_mean",
    "publish_errors",
];

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;color:#222}
h1{margin-bottom:4px}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
.facts{color:#555;margin-top:0}
table{border-collapse:collapse;font-size:14px;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
td{white-space:nowrap}th{background:#f4f4f4;vertical-align:bottom}td.l,th.l{text-align:left}
.scroll{overflow-x:auto}
figure{margin:24px 0}figure img{width:100%;height:auto;border:1px solid #eee}
figcaption{color:#444;font-size:14px}
pre{background:#f7f7f7;border:1px solid #e4e4e4;padding:10px;overflow-x:auto;font-size:13px}
";

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Writes `dir/report.html`.
pub fn write_report(dir: &Path, study: &Study, plots: &[PlotInfo]) -> anyhow::Result<()> {
    let html = render(dir, study, plots);
    write_atomic(&dir.join("report.html"), html.as_bytes())?;
    Ok(())
}

/// `failures.csv` of `dir`, if it lists any run: (header, rows).
fn failed_runs(dir: &Path) -> Option<(Vec<String>, Vec<Vec<String>>)> {
    let mut r = csv::Reader::from_path(dir.join("failures.csv")).ok()?;
    let head: Vec<String> = r.headers().ok()?.iter().map(str::to_string).collect();
    let rows: Vec<Vec<String>> = r
        .records()
        .filter_map(Result::ok)
        .map(|x| x.iter().map(str::to_string).collect())
        .collect();
    (!rows.is_empty()).then_some((head, rows))
}

/// The page for `study` and `plots` (files of `dir` are read for the
/// experiment and metadata sections).
pub fn render(dir: &Path, study: &Study, plots: &[PlotInfo]) -> String {
    let name = {
        let n = study.experiment();
        if n.is_empty() {
            dir.file_name()
                .map_or("experiment".into(), |f| f.to_string_lossy().into_owned())
        } else {
            n
        }
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>meshsim report: {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        escape(&name)
    );
    let _ = writeln!(h, "<h1>meshsim report: {}</h1>", escape(&name));
    let seeds: std::collections::BTreeSet<&str> = (0..study.runs.rows.len())
        .map(|r| study.runs.text(r, "seed"))
        .collect();
    let mut facts = format!(
        "{} run{}, {} seed{}",
        study.runs.rows.len(),
        plural(study.runs.rows.len()),
        seeds.len(),
        plural(seeds.len())
    );
    if study.is_sweep {
        let _ = write!(
            facts,
            ", {} parameter point{}",
            study.points.len(),
            plural(study.points.len())
        );
        for a in &study.axes {
            let _ = write!(facts, "; {} in {{{}}}", a.title(), a.values.join(", "));
        }
    }
    let failed = failed_runs(dir);
    if let Some((_, rows)) = &failed {
        let _ = write!(
            facts,
            "; {} failed run{} (below and failures.csv)",
            rows.len(),
            plural(rows.len())
        );
    }
    let _ = writeln!(h, "<p class=\"facts\">{}</p>", escape(&facts));
    let _ = writeln!(
        h,
        "<p>Sections: <a href=\"#summary\">summary</a> · <a href=\"#plots\">plots</a> · \
         <a href=\"#experiment\">experiment</a> · <a href=\"#meta\">metadata</a> · \
         <a href=\"#all-metrics\">all metrics</a></p>"
    );

    summary_table(&mut h, study);
    if let Some((head, rows)) = &failed {
        // Failed runs have no metrics, so no point of the summary shows them.
        let _ = writeln!(h, "<h2 id=\"failures\">Failed runs (failures.csv)</h2>");
        let _ = writeln!(
            h,
            "<p>Each failed run with its parameters, seed, error and the command that reproduces it.</p>\n<table>"
        );
        let cells = |tag: &str, r: &[String]| {
            r.iter()
                .map(|c| format!("<{tag}>{}</{tag}>", escape(c)))
                .collect::<String>()
        };
        let _ = writeln!(h, "<tr>{}</tr>", cells("th", head));
        for r in rows {
            let _ = writeln!(h, "<tr>{}</tr>", cells("td", r));
        }
        let _ = writeln!(h, "</table>");
    }
    plots_section(&mut h, plots);

    let _ = writeln!(h, "<h2 id=\"experiment\">Experiment (experiment.toml)</h2>");
    match std::fs::read_to_string(dir.join("experiment.toml")) {
        Ok(t) => {
            let _ = writeln!(h, "<pre>{}</pre>", escape(&t));
        }
        Err(_) => {
            let _ = writeln!(h, "<p>No experiment.toml in this directory.</p>");
        }
    }
    let _ = writeln!(h, "<h2 id=\"meta\">Metadata (meta.json)</h2>");
    match std::fs::read_to_string(dir.join("meta.json")) {
        Ok(t) => {
            let pretty = serde_json::from_str::<serde_json::Value>(&t)
                .ok()
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or(t);
            let _ = writeln!(h, "<pre>{}</pre>", escape(&pretty));
        }
        Err(_) => {
            let _ = writeln!(h, "<p>No meta.json in this directory.</p>");
        }
    }
    all_metrics_table(&mut h, study);
    let _ = writeln!(
        h,
        "<p class=\"facts\">Data: <a href=\"runs.csv\">runs.csv</a>. \
         Regenerate this page and its plots with <code>meshsim plot {}</code>.</p>",
        escape(&dir.display().to_string())
    );
    h.push_str("</body>\n</html>\n");
    h
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn cell(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), super::fmt_value)
}

/// One row per point (mean over seeds) in sweeps, one row per run otherwise.
fn summary_table(h: &mut String, study: &Study) {
    let metrics: Vec<&str> = KEY_METRICS
        .iter()
        .copied()
        .filter(|m| study.runs.col(m).is_some())
        .collect();
    let _ = writeln!(h, "<h2 id=\"summary\">Summary</h2>");
    if study.is_sweep {
        let _ = writeln!(
            h,
            "<p>One row per parameter point: the mean over its seeds.</p>"
        );
    }
    h.push_str("<div class=\"scroll\"><table>\n<tr>");
    if study.is_sweep {
        for a in &study.axes {
            for p in &a.params {
                let _ = write!(h, "<th class=\"l\">{}</th>", escape(p));
            }
        }
        h.push_str("<th>seeds</th>");
    } else {
        h.push_str("<th class=\"l\">run_id</th><th>seed</th>");
    }
    for m in &metrics {
        let _ = write!(h, "<th title=\"{m}\">{}</th>", escape(&metric_label(m)));
    }
    h.push_str("</tr>\n");
    for p in &study.points {
        let r = p.runs[0];
        h.push_str("<tr>");
        if study.is_sweep {
            for a in &study.axes {
                for q in &a.params {
                    let _ = write!(h, "<td class=\"l\">{}</td>", escape(study.runs.text(r, q)));
                }
            }
            let _ = write!(h, "<td>{}</td>", p.runs.len());
        } else {
            let _ = write!(
                h,
                "<td class=\"l\">{}</td><td>{}</td>",
                escape(study.runs.text(r, "run_id")),
                escape(study.runs.text(r, "seed"))
            );
        }
        for m in &metrics {
            let mean = mean_std(&study.values(p, m)).map(|v| v.0);
            let _ = write!(h, "<td>{}</td>", cell(mean));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
}

fn plots_section(h: &mut String, plots: &[PlotInfo]) {
    let _ = writeln!(h, "<h2 id=\"plots\">Plots</h2>");
    if plots.is_empty() {
        let _ = writeln!(
            h,
            "<p>No plots: this directory has neither deliveries.csv nor timeseries.csv, and runs.csv is not a sweep.</p>"
        );
    }
    for p in plots {
        let n = escape(&p.name);
        let _ = writeln!(
            h,
            "<figure id=\"plot-{n}\">\n<img src=\"plots/{n}.svg\" alt=\"{}\" width=\"1100\">\n\
             <figcaption><b>{}</b>. {} <a href=\"plots/{n}.png\">PNG</a> · <a href=\"plots/{n}.svg\">SVG</a></figcaption>\n</figure>",
            escape(&p.title),
            escape(&p.title),
            escape(&p.description)
        );
    }
}

/// Every metric column, mean over the point's runs.
fn all_metrics_table(h: &mut String, study: &Study) {
    let metrics = study.runs.metrics();
    let _ = writeln!(
        h,
        "<h2 id=\"all-metrics\">All metrics{}</h2>",
        if study.is_sweep {
            " (mean over seeds)"
        } else {
            ""
        }
    );
    h.push_str("<div class=\"scroll\"><table>\n<tr><th class=\"l\">metric</th>");
    for p in &study.points {
        let _ = write!(h, "<th>{}</th>", escape(&p.label));
    }
    h.push_str("</tr>\n");
    for m in &metrics {
        let _ = write!(h, "<tr><td class=\"l\">{}</td>", escape(m));
        for p in &study.points {
            let mean = mean_std(&study.values(p, m)).map(|v| v.0);
            let _ = write!(h, "<td>{}</td>", cell(mean));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b & \"c\"'"), "a&lt;b &amp; &quot;c&quot;&#39;");
    }
}
