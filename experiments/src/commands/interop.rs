//! `meshsim interop DIR`: runs a test-plans `gossipsub-interop` folder
//! (see [`crate::interop`]), prints its results and writes them.

use crate::interop::{
    check_configs, load_dir, message_results, partial_check, warnings, MessageResult, PartialCheck,
};
use anyhow::Context as _;
use models::interop::Scenario;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Run a libp2p test-plans `gossipsub-interop` experiment folder
/// (params.json, shadow.yaml, graph.gml) without Shadow.
///
/// Prints reliability, dissemination latency and duplicates per message
/// and overall, and writes analysis.txt, interop.csv, runs.csv,
/// messages.csv, peers.csv, deliveries.csv, timeseries.csv and
/// meta.json. Warnings (messages published too close to the end,
/// messages nobody else subscribed to, publishes after stop_time) are
/// printed and appended to analysis.txt. Exit code 2 on bad or
/// unsupported input. A sample folder: experiments/interop-sample/.
///
/// Example:
///   meshsim interop experiments/interop-sample --seed 3 --no-write
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct InteropArgs {
    /// The experiment folder.
    pub dir: PathBuf,
    /// Output directory (default: results/interop-<folder name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed (the scenario is fixed by the files; the seed drives meshsim's own randomness).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the summary as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write no files (not with --out).
    #[arg(long, conflicts_with = "out")]
    pub no_write: bool,
    /// How bytes cross the network: `shadow` (the tcp model as the Shadow
    /// simulator's TCP, which the framework's published runs use), `linux`
    /// (the tcp model with Linux's defaults) or `ideal` (writes timed when
    /// made: no congestion window, no handshake).
    #[arg(long, default_value = "shadow", value_parser = ["shadow", "linux", "ideal"])]
    pub transport: String,
    /// Do not draw plots/ and report.html (draw them later with `meshsim plot DIR`).
    #[arg(long)]
    pub no_plots: bool,
}

/// The transport of `--transport NAME`.
fn transport(name: &str) -> models::spec::TransportSpec {
    use models::spec::{TcpPreset, TransportModel, TransportSpec};
    match name {
        "ideal" => TransportSpec::ideal(),
        "linux" => TransportSpec {
            model: TransportModel::Tcp,
            preset: Some(TcpPreset::Linux),
            ..TransportSpec::default()
        },
        _ => models::interop::shadow_transport(),
    }
}

/// The `--transport` name of a scenario's transport.
fn transport_name(t: &models::spec::TransportSpec) -> String {
    use models::spec::{TcpPreset, TransportModel};
    match (t.model, t.preset.unwrap_or_default()) {
        (TransportModel::Ideal, _) => "ideal",
        (TransportModel::Tcp, TcpPreset::Linux) => "linux",
        (TransportModel::Tcp, TcpPreset::Shadow) => "shadow",
    }
    .to_string()
}

/// How `--transport NAME` reads in the summary.
fn transport_text(name: &str) -> &'static str {
    match name {
        "ideal" => "ideal (writes timed when made: no congestion window, no handshake)",
        "linux" => "tcp, linux preset (initial window 10 segments, restart after idle)",
        _ => "tcp, shadow preset (as Shadow's TCP: initial window 2 segments, no restart after idle; the framework's published runs)",
    }
}

fn reliability_text(r: Option<f64>, width: usize) -> String {
    match r {
        Some(r) => format!("{r:>width$.4}"),
        None => format!("{:>width$}", "n/a"),
    }
}

/// `meshsim interop`.
pub fn cmd_interop(a: InteropArgs) -> anyhow::Result<ExitCode> {
    let InteropArgs {
        dir,
        out,
        seed,
        json,
        no_write,
        transport: tname,
        no_plots,
    } = a;
    let dir = dir.as_path();
    let sc = match load_dir(dir).and_then(|sc| check_configs(&sc).map(|_| sc)) {
        Ok(mut sc) => {
            sc.transport = transport(&tname);
            sc
        }
        Err(e) => {
            let m = crate::load::short_message(&e.to_string());
            eprintln!("error: {}: {m}", dir.display());
            return Ok(ExitCode::from(2));
        }
    };
    let wall = crate::wall::now();
    let output = models::interop::run(&sc, seed).map_err(|e| {
        anyhow::anyhow!(
            "{e}\nnote: rerun with `meshsim interop {} --seed {seed}`",
            dir.display()
        )
    })?;
    let wall_s = wall.elapsed().as_secs_f64();
    let mut summary = output.run.summary.clone();
    summary.wall_seconds = wall_s;
    let (rows, overall) = message_results(&sc, &output);
    let warns = warnings(&sc, &rows, &overall);
    let check = partial_check(&sc, &output);
    if json {
        let v = serde_json::json!({
            "experiment": sc.name,
            "seed": seed,
            "nodes": sc.nodes,
            "transport": tname,
            "sim_seconds": sc.duration_s,
            "wall_seconds": wall_s,
            "trace_hash": summary.trace_hash,
            "reliability": overall.reliability,
            "deliveries": overall.delivered,
            "deliveries_expected": overall.expected,
            "latency_ms": { "p50": overall.latency_ms[0], "p90": overall.latency_ms[1], "p99": overall.latency_ms[2], "max": overall.latency_ms[3] },
            "duplicates": overall.duplicates,
            "avg_duplicates_per_message": overall.avg_duplicates,
            "publish_errors": summary.publish_errors,
            "partial_check": check,
            "partial_parts": check.as_ref().map(|_| serde_json::json!({
                "missing_at_publish": summary.partial_parts_missing,
                "received": summary.partial_parts_received,
                "duplicate": summary.partial_parts_duplicate,
                "invalid": summary.partial_invalid,
                "messages_with_parts": summary.partial_messages_with_parts,
                "messages_metadata_only": summary.partial_messages_metadata_only,
                "data_bytes_per_node": summary.partial_data_bytes_per_peer,
                "control_bytes_per_node": summary.partial_control_bytes_per_peer,
            })),
            "warnings": warns,
            "messages": rows,
        });
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!("meshsim interop: {} (seed {seed})", dir.display());
        println!("  nodes                 {}", sc.nodes);
        println!("  transport             {}", transport_text(&tname));
        println!(
            "  simulated / wall      {:.1} s / {:.2} s",
            sc.duration_s, wall_s
        );
        println!(
            "  reliability           {}  ({} of {} deliveries, {} messages)",
            reliability_text(overall.reliability, 0),
            overall.delivered,
            overall.expected,
            rows.len()
        );
        if overall.delivered == 0 {
            println!("  latency ms            n/a (no deliveries)");
        } else {
            println!(
                "  latency ms            p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
                overall.latency_ms[0],
                overall.latency_ms[1],
                overall.latency_ms[2],
                overall.latency_ms[3]
            );
        }
        if check.is_some() {
            println!(
                "  duplicates            {} full-message copies (partial messages: duplicate parts below)",
                overall.duplicates
            );
        } else {
            println!(
                "  duplicates            {}  ({:.2} per node per message)",
                overall.duplicates, overall.avg_duplicates
            );
        }
        if let Some(c) = &check {
            println!(
                "  partial parts         {} missing at the first publish (publisher included), {} received ({} duplicates), {} invalid; bytes per node: data {:.0}, control {:.0}",
                summary.partial_parts_missing,
                summary.partial_parts_received,
                summary.partial_parts_duplicate,
                summary.partial_invalid,
                summary.partial_data_bytes_per_peer,
                summary.partial_control_bytes_per_peer
            );
            println!("  partial check         {}", c.line());
        }
        for w in &warns {
            println!("  WARNING               {w}");
        }
        if summary.publish_errors > 0 {
            println!("  publish errors        {}", summary.publish_errors);
        }
        println!("  trace hash            {}", summary.trace_hash);
        println!("  message id  topic  publisher  reliability  p50 ms  p90 ms  p99 ms  max ms  duplicates");
        for r in &rows {
            println!(
                "  {:>10}  {}  {:>9}  {}  {:>6.1}  {:>6.1}  {:>6.1}  {:>6.1}  {:>10}",
                r.message_id,
                r.topic,
                r.publisher,
                reliability_text(r.reliability, 11),
                r.latency_ms[0],
                r.latency_ms[1],
                r.latency_ms[2],
                r.latency_ms[3],
                r.duplicates
            );
        }
    }
    if !no_write {
        let odir =
            out.unwrap_or_else(|| PathBuf::from("results").join(format!("interop-{}", sc.name)));
        let analysis = analysis_txt(&sc, &rows, &warns, &check);
        let written = write_interop(&odir, &sc, seed, &summary, &output, &rows, &analysis)
            .with_context(|| format!("writing {}", odir.display()))?;
        if !json {
            super::print_written(&odir, &written);
        }
        if !no_plots {
            super::plots_and_report(&odir, json);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the run's files into `dir`; returns their names, in the order written.
fn write_interop(
    dir: &Path,
    sc: &Scenario,
    seed: u64,
    summary: &models::RunSummary,
    output: &models::interop::InteropOutput,
    rows: &[MessageResult],
    analysis: &str,
) -> anyhow::Result<Vec<String>> {
    let mut written = Vec::new();
    let mut write = |name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        crate::output::write_atomic(&dir.join(name), bytes)?;
        written.push(name.to_string());
        Ok(())
    };
    write("analysis.txt", analysis.as_bytes())?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "message_id",
        "topic",
        "publisher",
        "published_s",
        "expected",
        "delivered",
        "reliability",
        "latency_ms_p50",
        "latency_ms_p90",
        "latency_ms_p99",
        "latency_ms_max",
        "duplicates",
        "avg_duplicates",
        "spread_s",
        "spread_p50_s",
        "reached",
        "warning",
    ])?;
    for r in rows {
        w.write_record([
            r.message_id.to_string(),
            r.topic.clone(),
            r.publisher.to_string(),
            r.published_s.to_string(),
            r.expected.to_string(),
            r.delivered.to_string(),
            r.reliability.map_or(String::new(), |x| x.to_string()),
            r.latency_ms[0].to_string(),
            r.latency_ms[1].to_string(),
            r.latency_ms[2].to_string(),
            r.latency_ms[3].to_string(),
            r.duplicates.to_string(),
            r.avg_duplicates.to_string(),
            r.spread_s.to_string(),
            r.spread_p50_s.to_string(),
            r.reached.to_string(),
            r.warning.to_string(),
        ])?;
    }
    write("interop.csv", &w.into_inner()?)?;
    let run_id = format!("{}-s{seed}", sc.name);
    write(
        "runs.csv",
        &crate::output::runs_csv(&[(run_id.clone(), summary.clone())])?,
    )?;
    let mut detail = output.run.clone();
    detail.summary = summary.clone();
    for (name, bytes) in crate::output::detail_files(&run_id, &detail)? {
        write(name, &bytes)?;
    }
    let meta = serde_json::json!({ "interop_dir": sc.name });
    write(
        "meta.json",
        &crate::output::meta_json(seed, &summary.trace_hash, meta)?,
    )?;
    Ok(written)
}

/// The framework's analysis.txt, with its definitions (times from the
/// first receipt), then the warnings and the partial-message check.
fn analysis_txt(
    sc: &Scenario,
    rows: &[MessageResult],
    warns: &[String],
    check: &Option<PartialCheck>,
) -> String {
    let mut a = String::from(
        "Message ID, Time to Disseminate, p50 to Disseminate, Avg Duplicate Count, Reached percent\n",
    );
    for r in rows {
        a.push_str(&format!(
            "{}, {}s, {}s, {}, {}\n",
            r.message_id, r.spread_s, r.spread_p50_s, r.avg_duplicates, r.reached
        ));
    }
    for w in warns {
        a.push_str(&format!("# WARNING: {w}\n"));
    }
    if let Some(c) = check {
        a.push_str(&format!("# partial messages check: {}\n", c.line()));
    }
    a.push_str(&format!(
        "# transport: {}\n",
        transport_text(&transport_name(&sc.transport))
    ));
    a
}
