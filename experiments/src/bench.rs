//! `meshsim bench`: the DESIGN.md section 4 scenario at several sizes.

use std::process::{Command, ExitCode};

fn scenario(peers: u32, signing: &str, seconds: f64) -> anyhow::Result<models::Experiment> {
    let text = format!(
        r#"
name = "bench"
peers = {peers}
duration_s = {seconds}
[network]
latency = {{ model = "uniform", min_ms = 20.0, max_ms = 80.0 }}
[topology]
kind = "random_regular"
degree = 8
[gossipsub]
signing = "{signing}"
heartbeat_interval_ms = 1000
[workload]
rate_per_s = 1.0
message_bytes = 1024
start_s = 2.0
drain_s = 1.0
"#
    );
    Ok(crate::load::parse("<bench>", &text, &[])?)
}

/// Peak resident memory of this process, KiB (Linux `VmHWM`).
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub fn cmd_bench_one(peers: u32, signing: &str, seconds: f64) -> anyhow::Result<ExitCode> {
    let exp = scenario(peers, signing, seconds)?;
    let t = std::time::Instant::now();
    let s = models::run(&exp, 1, sim::EntropyMode::Seeded)?;
    let wall = t.elapsed().as_secs_f64();
    let out = serde_json::json!({
        "peers": peers,
        "signing": signing,
        "sim_seconds": s.sim_seconds,
        "wall_seconds": wall,
        "sim_per_wall": s.sim_seconds / wall,
        "events": s.events,
        "events_per_s": s.events as f64 / wall,
        "peak_rss_mib": peak_rss_kib().map(|k| k as f64 / 1024.0),
        "bytes_per_peer": peak_rss_kib().map(|k| k as f64 * 1024.0 / f64::from(peers)),
        "delivery": format!("{}/{}", s.deliveries, s.deliveries_expected),
        "latency_ms_p50": s.latency_ms.p50,
        "latency_ms_p99": s.latency_ms.p99,
        "trace_hash": s.trace_hash,
    });
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

pub fn cmd_bench(
    peers: &[u32],
    signing: &[String],
    seconds: f64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe()?;
    if !json {
        println!(
            "{:>7} {:>8} {:>9} {:>9} {:>10} {:>12} {:>9} {:>13} {:>17}",
            "peers",
            "signing",
            "wall_s",
            "sim/wall",
            "events",
            "events/s",
            "rss_MiB",
            "delivery",
            "lat_p50/p99_ms"
        );
    }
    for &p in peers {
        for sg in signing {
            let out = Command::new(&exe)
                .args([
                    "bench-one",
                    "--peers",
                    &p.to_string(),
                    "--signing",
                    sg,
                    "--seconds",
                    &seconds.to_string(),
                ])
                .output()?;
            if !out.status.success() {
                anyhow::bail!(
                    "bench case {p} peers {sg} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if json {
                println!("{line}");
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&line)?;
            println!(
                "{:>7} {:>8} {:>9.2} {:>9.1} {:>10} {:>12.0} {:>9.0} {:>13} {:>8.1}/{:<8.1}",
                p,
                sg,
                v["wall_seconds"].as_f64().unwrap_or(0.0),
                v["sim_per_wall"].as_f64().unwrap_or(0.0),
                v["events"],
                v["events_per_s"].as_f64().unwrap_or(0.0),
                v["peak_rss_mib"].as_f64().unwrap_or(0.0),
                v["delivery"].as_str().unwrap_or(""),
                v["latency_ms_p50"].as_f64().unwrap_or(0.0),
                v["latency_ms_p99"].as_f64().unwrap_or(0.0),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
