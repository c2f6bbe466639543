//! `meshsim plot`: every plot kind from small fixed CSV files, checked as
//! decodable PNG and well-formed SVG with the expected titles and one legend
//! entry and one drawn series per expected series; bad input is an error,
//! never a panic.

mod plot_fixtures;

use meshsim::plot::{plot_dir, PlotInfo};
use plot_fixtures::{single, sweep, MAX_MS, MESH_N, SEEDS};
use std::collections::BTreeSet;
use std::path::Path;

/// The series colors, in order (`plot::chart`'s palette), as SVG writes them.
const COLORS: [&str; 6] = [
    "#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B",
];

/// Checks `path` is a PNG that decodes to the given width and a plausible
/// height, and has dark (text and axis) pixels on white.
fn check_png(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{}: PNG magic",
        path.display()
    );
    let dec = png::Decoder::new(std::io::Cursor::new(&bytes));
    let mut rd = dec
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = vec![0; rd.output_buffer_size()];
    let info = rd.next_frame(&mut buf).unwrap();
    assert_eq!(info.width, 1100, "{}", path.display());
    assert!((300..4000).contains(&info.height), "{}", path.display());
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let px = &buf[..info.buffer_size()];
    let dark = px.chunks(3).filter(|p| p.iter().all(|c| *c < 60)).count();
    let white = px.chunks(3).filter(|p| p.iter().all(|c| *c == 255)).count();
    let total = px.len() / 3;
    assert!(
        dark > 2000,
        "{}: text and axes drawn ({dark} dark px)",
        path.display()
    );
    assert!(white > total / 4, "{}: white background", path.display());
    (info.width, info.height)
}

/// A parsed SVG: its text elements (trimmed) and polyline stroke colors.
struct Svg {
    texts: Vec<String>,
    polylines: Vec<String>,
    rects: usize,
}

impl Svg {
    fn load(path: &Path) -> Svg {
        let text = std::fs::read_to_string(path).unwrap();
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{}: not well-formed XML: {e}", path.display()));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg", "{}", path.display());
        assert_eq!(root.attribute("width"), Some("1100"));
        let texts = root
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or("").trim().to_string())
            .collect();
        let polylines = root
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .map(|n| n.attribute("stroke").unwrap_or("").to_string())
            .collect();
        let rects = root
            .descendants()
            .filter(|n| n.has_tag_name("rect"))
            .count();
        Svg {
            texts,
            polylines,
            rects,
        }
    }

    fn count_text(&self, s: &str) -> usize {
        self.texts.iter().filter(|t| *t == s).count()
    }

    fn has_text(&self, s: &str) -> bool {
        self.count_text(s) > 0
    }

    /// Asserts one legend entry per label, and that series `i` is drawn in
    /// `min_lines` polylines of color `i` (legend line + data).
    fn assert_series(&self, name: &str, labels: &[String], min_lines: usize) {
        for (i, l) in labels.iter().enumerate() {
            assert_eq!(self.count_text(l), 1, "{name}: legend entry {l:?} once");
            let lines = self.polylines.iter().filter(|c| *c == COLORS[i]).count();
            assert!(
                lines >= min_lines,
                "{name}: series {l:?} ({}) drawn in {lines} polylines, want >= {min_lines}",
                COLORS[i]
            );
        }
        // No extra series colors beyond the expected ones.
        for c in &COLORS[labels.len()..] {
            assert!(
                !self.polylines.iter().any(|p| p == c),
                "{name}: unexpected series color {c}"
            );
        }
    }
}

fn names(p: &[PlotInfo]) -> Vec<&str> {
    p.iter().map(|p| p.name.as_str()).collect()
}

fn svg(dir: &Path, name: &str) -> Svg {
    let plots = dir.join("plots");
    check_png(&plots.join(format!("{name}.png")));
    Svg::load(&plots.join(format!("{name}.svg")))
}

#[test]
fn single_experiment_plots_every_time_series_kind() {
    let (dir, runs) = single("plot-single");
    let plots = plot_dir(&dir).unwrap();
    assert_eq!(
        names(&plots),
        [
            "latency_cdf",
            "delivery_over_time",
            "latency_over_time",
            "mesh_over_time",
            "other_over_time"
        ]
    );
    let labels: Vec<String> = runs.iter().map(|r| r.run_id.clone()).collect();

    let s = svg(&dir, "latency_cdf");
    assert!(s.has_text("First-delivery latency (CDF)"));
    assert!(s.has_text("first-delivery latency (ms)"));
    assert!(s.has_text("fraction of deliveries"));
    s.assert_series("latency_cdf", &labels, 2);

    let s = svg(&dir, "delivery_over_time");
    assert!(s.has_text("Delivery ratio over time"));
    assert!(s.has_text("simulated time (s)"));
    assert!(s.has_text("delivery ratio"), "y axis label");
    s.assert_series("delivery_over_time", &labels, 2);

    // One panel per percentile: each run drawn in each panel.
    let s = svg(&dir, "latency_over_time");
    assert!(s.has_text("Latency percentiles over time"));
    assert!(s.has_text("latency p50 (ms)") && s.has_text("latency p99 (ms)"));
    s.assert_series("latency_over_time", &labels, 1 + 2);

    let s = svg(&dir, "mesh_over_time");
    assert!(s.has_text("Mesh degree and isolated peers over time"));
    for t in [
        "mean mesh degree (peers)",
        "isolated peers (no mesh peer)",
        "connections",
    ] {
        assert!(s.has_text(t), "mesh_over_time: panel {t:?}");
    }
    s.assert_series("mesh_over_time", &labels, 1 + 3);

    let s = svg(&dir, "other_over_time");
    assert!(s.has_text("score mean"), "unknown metrics get a panel");
    s.assert_series("other_over_time", &labels, 2);
}

#[test]
fn sweep_plots_metrics_vs_each_axis_and_heatmaps() {
    let (dir, _) = sweep("plot-sweep");
    let plots = plot_dir(&dir).unwrap();
    let got: BTreeSet<&str> = names(&plots).into_iter().collect();
    for want in [
        "latency_cdf",
        "delivery_over_time",
        "latency_over_time",
        "mesh_over_time",
        "sweep_vs_mesh_n",
        "sweep_vs_max_ms",
        "heatmap_delivery_ratio",
        "heatmap_latency_ms_p99",
        "heatmap_duplicates_per_delivery",
        "heatmap_bytes_sent_per_peer",
    ] {
        assert!(got.contains(want), "missing plot {want}; got {got:?}");
    }
    // mesh_n_low moves with mesh_n: one axis, not two.
    assert!(!got.iter().any(|n| n.contains("mesh_n_low")), "{got:?}");

    // CDF: one curve per parameter point, labelled by its axis values.
    let point_labels: Vec<String> = MESH_N
        .iter()
        .flat_map(|(n, _)| {
            MAX_MS
                .iter()
                .map(move |m| format!("mesh_n={n}, max_ms={m}"))
        })
        .collect();
    let s = svg(&dir, "latency_cdf");
    s.assert_series("latency_cdf", &point_labels, 2);

    // Metric vs mesh_n: one series per max_ms value, in 4 panels, with error bars.
    let s = svg(&dir, "sweep_vs_mesh_n");
    assert!(s.has_text("Metrics vs mesh_n"));
    for t in [
        "delivery ratio",
        "latency p99 (ms)",
        "duplicates per delivery",
        "bytes sent per peer",
    ] {
        assert!(
            s.count_text(t) >= 2,
            "sweep_vs_mesh_n: panel title and y label {t:?}"
        );
    }
    assert!(
        s.has_text("gossipsub.mesh_n (with mesh_n_low)"),
        "x axis names the zipped axis"
    );
    let legend: Vec<String> = MAX_MS.iter().map(|m| format!("max_ms={m}")).collect();
    // legend line + 4 panel lines + 3 error-bar paths per point per panel
    s.assert_series("sweep_vs_mesh_n", &legend, 1 + 4 + 4 * 3 * MESH_N.len());
    for (n, _) in MESH_N {
        assert!(s.has_text(&n.to_string()), "x tick {n}");
    }

    let s = svg(&dir, "sweep_vs_max_ms");
    let legend: Vec<String> = MESH_N.iter().map(|(n, _)| format!("mesh_n={n}")).collect();
    s.assert_series("sweep_vs_max_ms", &legend, 1 + 4);

    // Heatmap: one cell per point, labelled with the mean over seeds.
    let s = svg(&dir, "heatmap_delivery_ratio");
    assert!(s.has_text("delivery ratio: mean over seeds"));
    let (n, _) = MESH_N[2];
    let m = MAX_MS[0];
    let mean = SEEDS
        .iter()
        .map(|&seed| plot_fixtures::sweep_delivery(n, m, seed))
        .sum::<f64>()
        / SEEDS.len() as f64;
    let cell = meshsim::plot::fmt_value(mean);
    assert!(
        s.has_text(&cell),
        "heatmap cell {cell} for mesh_n={n}, max_ms={m}"
    );
    let cells = s
        .texts
        .iter()
        .filter(|t| t.starts_with("0.9") || t.starts_with("0.8"))
        .count();
    assert!(cells >= MESH_N.len() * MAX_MS.len(), "{cells} cell labels");
    assert!(
        s.rects >= 2 * MESH_N.len() * MAX_MS.len() + 64,
        "cells + colorbar"
    );
    for t in [
        "network.latency.max_ms",
        "gossipsub.mesh_n (with mesh_n_low)",
    ] {
        assert!(s.has_text(t), "heatmap axis {t:?}");
    }
}

#[test]
fn only_runs_csv_gives_no_plots_but_a_report() {
    let (dir, _) = single("plot-runs-only");
    std::fs::remove_file(dir.join("deliveries.csv")).unwrap();
    std::fs::remove_file(dir.join("timeseries.csv")).unwrap();
    let plots = plot_dir(&dir).unwrap();
    assert!(plots.is_empty(), "{:?}", names(&plots));
    assert!(dir.join("report.html").is_file());
}

#[test]
fn stale_plots_are_removed_and_output_is_deterministic() {
    let (dir, _) = sweep("plot-stale");
    plot_dir(&dir).unwrap();
    let first = std::fs::read(dir.join("plots/sweep_vs_mesh_n.svg")).unwrap();
    let first_png = std::fs::read(dir.join("plots/heatmap_delivery_ratio.png")).unwrap();
    std::fs::remove_file(dir.join("deliveries.csv")).unwrap();
    let plots = plot_dir(&dir).unwrap();
    assert!(!names(&plots).contains(&"latency_cdf"));
    assert!(!dir.join("plots/latency_cdf.png").exists());
    assert!(!dir.join("plots/latency_cdf.svg").exists());
    assert_eq!(
        std::fs::read(dir.join("plots/sweep_vs_mesh_n.svg")).unwrap(),
        first
    );
    assert_eq!(
        std::fs::read(dir.join("plots/heatmap_delivery_ratio.png")).unwrap(),
        first_png
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("plots"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "no temp files left behind");
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let dir = plot_fixtures::temp_dir("plot-bad");
    let err = plot_dir(&dir).unwrap_err().to_string();
    assert!(
        err.contains("runs.csv") && err.contains("not found"),
        "{err}"
    );

    std::fs::write(
        dir.join("runs.csv"),
        "run_id,delivery_ratio\na,1\nb,1,extra\n",
    )
    .unwrap();
    let err = format!("{:#}", plot_dir(&dir).unwrap_err());
    assert!(
        err.contains("runs.csv") && err.contains("malformed"),
        "{err}"
    );

    std::fs::write(dir.join("runs.csv"), "seed,delivery_ratio\n1,1\n").unwrap();
    let err = format!("{:#}", plot_dir(&dir).unwrap_err());
    assert!(err.contains("run_id"), "{err}");

    std::fs::write(dir.join("runs.csv"), "run_id,delivery_ratio\n").unwrap();
    let err = format!("{:#}", plot_dir(&dir).unwrap_err());
    assert!(err.contains("no runs"), "{err}");

    std::fs::write(dir.join("runs.csv"), "run_id,delivery_ratio\na,1\n").unwrap();
    std::fs::write(
        dir.join("timeseries.csv"),
        "run_id,t_s,metric,value\na,0,delivery_ratio,0.5\na,1,delivery_ratio,lots\n",
    )
    .unwrap();
    let err = format!("{:#}", plot_dir(&dir).unwrap_err());
    assert!(
        err.contains("timeseries.csv line 3") && err.contains("lots"),
        "{err}"
    );

    std::fs::remove_file(dir.join("timeseries.csv")).unwrap();
    std::fs::write(dir.join("deliveries.csv"), "run_id,msg_seq\na,1\n").unwrap();
    let err = format!("{:#}", plot_dir(&dir).unwrap_err());
    assert!(
        err.contains("deliveries.csv") && err.contains("latency_ms"),
        "{err}"
    );

    // Binary garbage is a CSV error too.
    std::fs::write(dir.join("runs.csv"), [0xff, 0xfe, b',', b'\n', 0x00, 0xc3]).unwrap();
    assert!(plot_dir(&dir).is_err());
}

#[test]
fn cli_plot_exit_codes() {
    let exe = env!("CARGO_BIN_EXE_meshsim");
    let missing = plot_fixtures::temp_dir("plot-cli-missing");
    let out = std::process::Command::new(exe)
        .args(["plot", missing.to_str().unwrap()])
        .output()
        .unwrap();
    // Bad input is exit 2, as for the other commands.
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("runs.csv"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    std::fs::write(missing.join("runs.csv"), "a,b\n1\n").unwrap();
    let out = std::process::Command::new(exe)
        .args(["plot", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run_id"), "{err}");

    let (dir, _) = single("plot-cli-ok");
    let out = std::process::Command::new(exe)
        .args(["plot", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("5 plots"), "{stdout}");
    assert!(dir.join("report.html").is_file());
}

#[test]
fn categorical_and_log_spread_axes_one_seed_and_failed_runs() {
    let dir = plot_fixtures::temp_dir("plot-categorical");
    let mut csv =
        String::from("run_id,experiment,seed,gossipsub.flood_publish,gossipsub.heartbeat_interval_ms,delivery_ratio,latency_ms_p99,status\n");
    for (i, flood) in ["false", "true"].iter().enumerate() {
        for (j, hb) in ["10", "100", "1000"].iter().enumerate() {
            let (ratio, p99) = if i == 1 && j == 2 {
                // A failed run: no metrics.
                (String::new(), String::new())
            } else {
                (format!("0.9{i}{j}"), format!("{}", 100 + 10 * j + i))
            };
            csv.push_str(&format!(
                "r{i}{j},cat,1,{flood},{hb},{ratio},{p99},{}\n",
                if ratio.is_empty() { "failed" } else { "ok" }
            ));
        }
    }
    std::fs::write(dir.join("runs.csv"), csv).unwrap();
    let plots = plot_dir(&dir).unwrap();
    assert_eq!(
        names(&plots),
        [
            "sweep_vs_flood_publish",
            "sweep_vs_heartbeat_interval_ms",
            "heatmap_delivery_ratio",
            "heatmap_latency_ms_p99"
        ]
    );
    let s = svg(&dir, "sweep_vs_flood_publish");
    assert!(s.has_text("false") && s.has_text("true"), "category ticks");
    // 10, 100, 1000 span 100x: evenly spaced categories, each labelled.
    let s = svg(&dir, "sweep_vs_heartbeat_interval_ms");
    for t in ["10", "100", "1000"] {
        assert!(s.has_text(t), "tick {t}");
    }
    s.assert_series(
        "sweep_vs_heartbeat_interval_ms",
        &[
            "flood_publish=false".to_string(),
            "flood_publish=true".to_string(),
        ],
        3,
    );
    let s = svg(&dir, "heatmap_delivery_ratio");
    assert!(s.has_text("n/a"), "the failed run's cell");
    assert!(s.has_text("0.911") && !s.has_text("0.912"));

    // A third axis: no heatmap (it needs exactly two).
    let text = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{},network.latency.max_ms\n", lines.next().unwrap());
    for (k, l) in lines.enumerate() {
        out.push_str(&format!("{l},{}\n", 80 + 40 * (k % 2)));
    }
    std::fs::write(dir.join("runs.csv"), out).unwrap();
    let plots = plot_dir(&dir).unwrap();
    assert!(!names(&plots).iter().any(|n| n.starts_with("heatmap")));
    assert_eq!(names(&plots).len(), 3, "{:?}", names(&plots));
}
