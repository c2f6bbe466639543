//! Writing results: every file atomically (temp file + rename), so a killed
//! run never leaves a truncated file behind.

use models::RunSummary;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
        std::process::id()
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// The columns of `runs.csv`, in order, for one run.
pub fn run_columns(run_id: &str, s: &RunSummary) -> Vec<(&'static str, String)> {
    vec![
        ("run_id", run_id.to_string()),
        ("experiment", s.experiment.clone()),
        ("seed", s.seed.to_string()),
        ("peers", s.peers.to_string()),
        ("sim_seconds", s.sim_seconds.to_string()),
        ("wall_seconds", format!("{:.3}", s.wall_seconds)),
        ("trace_hash", s.trace_hash.clone()),
        ("messages_published", s.messages_published.to_string()),
        ("deliveries", s.deliveries.to_string()),
        ("deliveries_expected", s.deliveries_expected.to_string()),
        ("delivery_ratio", s.delivery_ratio.to_string()),
        ("latency_ms_p50", s.latency_ms.p50.to_string()),
        ("latency_ms_p90", s.latency_ms.p90.to_string()),
        ("latency_ms_p99", s.latency_ms.p99.to_string()),
        ("latency_ms_max", s.latency_ms.max.to_string()),
        (
            "duplicates_per_delivery",
            s.duplicates_per_delivery.to_string(),
        ),
        ("bytes_sent_per_peer", s.bytes_sent_per_peer.to_string()),
        ("mesh_degree_min", s.mesh_degree.min.to_string()),
        ("mesh_degree_mean", s.mesh_degree.mean.to_string()),
        ("mesh_degree_max", s.mesh_degree.max.to_string()),
        ("initial_components", s.initial_components.to_string()),
        ("graft", s.graft.to_string()),
        ("prune", s.prune.to_string()),
        ("ihave", s.ihave.to_string()),
        ("iwant", s.iwant.to_string()),
        ("idontwant", s.idontwant.to_string()),
        ("publish_errors", s.publish_errors.to_string()),
        ("events", s.events.to_string()),
        ("entropy_os_fallbacks", s.entropy_os_fallbacks.to_string()),
    ]
}

/// `runs.csv` text for the given runs.
pub fn runs_csv(runs: &[(String, RunSummary)]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if let Some((id, s)) = runs.first() {
        w.write_record(run_columns(id, s).iter().map(|(k, _)| *k))?;
    }
    for (id, s) in runs {
        w.write_record(run_columns(id, s).iter().map(|(_, v)| v.as_str()))?;
    }
    Ok(w.into_inner()?)
}

/// The git commit of the working directory, if any (for `meta.json`).
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
