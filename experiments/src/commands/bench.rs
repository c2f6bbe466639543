//! `meshsim bench` (the engine benchmark, see [`crate::bench`]) and the
//! hidden `meshsim bench-one`, which runs one case in its own process so
//! that its peak memory is its own. Wall-clock time is measured around the
//! run only (building the swarms included); CPU time is the process's user +
//! system time, which stays meaningful on a loaded machine. `--sweep`
//! measures sweep throughput instead (`--jobs 2` against `--jobs 1`).

use crate::bench::{
    check_components, cpu_seconds, median_run, options_error, peak_rss_kib, reachable_deliveries,
    scenario, scenario_text,
};
use std::process::{Command, ExitCode};

/// Benchmark the engine on a fixed scenario (a random 8-regular graph,
/// uniform 20-80 ms links, one 1 KiB message per second, 62 simulated s),
/// unsigned and ed25519-signed: wall and CPU time, simulated/wall ratio,
/// events/s, peak memory. Each case runs in its own process so peak memory
/// is its own.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Peer counts to run.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    pub peers: Vec<u32>,
    /// Signing modes to run: ed25519, none.
    #[arg(long, value_delimiter = ',', default_value = "none,ed25519")]
    pub signing: Vec<String>,
    /// Simulated seconds.
    #[arg(long, default_value_t = 62.0)]
    pub seconds: f64,
    /// Print results as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// Also report wall time per phase: swarm polls, engine, metrics, scenario.
    #[arg(long)]
    pub phases: bool,
    /// Sweep throughput instead: the same sweep of equal runs (first
    /// `--peers` value, first `--signing` mode) with --jobs 1 and --jobs 2.
    #[arg(long)]
    pub sweep: bool,
    /// Runs in the `--sweep` benchmark.
    #[arg(long, default_value_t = 8)]
    pub sweep_runs: u32,
    /// Run every case this many times (each in its own process) and
    /// report the run with the median CPU time, with the CPU range:
    /// before/after comparisons on a shared machine need it. With
    /// `--sweep`: run the (--jobs 1, --jobs 2) pair this many times and
    /// report the median speedup.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// Split each case's peers into this many disjoint networks (the same
    /// seeded random 8-regular graph each, one message per second each):
    /// `--peers 10000 --components 10` does ten times the work of
    /// `--peers 1000` in one process, so its cost per event against that
    /// run shows what the larger working set alone costs.
    #[arg(long, default_value_t = 1)]
    pub components: u32,
    /// Verify every ed25519 signature again at every peer instead of
    /// remembering successful verifications: the cost without the memo
    /// (signed cases; the same trace hashes).
    #[arg(long)]
    pub no_memo: bool,
    /// Run each case as this many partitions, one thread each (the
    /// experiment key `partitions`): on a machine with that many free
    /// cores, large networks run up to that many times faster. Results
    /// (and trace hashes) differ from one partition's, as between seeds.
    /// A list (`1,2,4`) runs every case at each count: the speedup curve
    /// of this machine.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub partitions: Vec<u16>,
    /// Transport models to run: ideal, tcp (linux preset). A list
    /// (`ideal,tcp`) runs every case under each: what the tcp model costs.
    #[arg(long, value_delimiter = ',', default_value = "ideal", value_parser = ["ideal", "tcp"])]
    pub transport: Vec<String>,
}

/// (internal) Run one benchmark case and print JSON.
#[derive(clap::Args)]
pub struct BenchOneArgs {
    #[arg(long)]
    pub peers: u32,
    #[arg(long)]
    pub signing: String,
    #[arg(long)]
    pub seconds: f64,
    #[arg(long)]
    pub phases: bool,
    #[arg(long, default_value_t = 1)]
    pub components: u32,
    #[arg(long)]
    pub no_memo: bool,
    #[arg(long, default_value_t = 1)]
    pub partitions: u16,
    #[arg(long, default_value = "ideal")]
    pub transport: String,
}

/// `meshsim bench`.
pub fn cmd_bench(a: &BenchArgs) -> anyhow::Result<ExitCode> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this meshsim is a debug build: its timings are several times slower than a \
             release build's (cargo build --release -p meshsim; target/release/meshsim bench)"
        );
    }
    if a.sweep && a.components != 1 {
        return Err(options_error(
            "--components applies to the per-case benchmark, not to --sweep".into(),
        ));
    }
    let min_peers = a.peers.iter().copied().min().unwrap_or(1);
    if let Some(&k) = a
        .partitions
        .iter()
        .find(|&&k| k == 0 || u32::from(k) > min_peers)
    {
        return Err(options_error(format!(
            "--partitions {k} must be at least 1 and at most the smallest --peers ({min_peers})"
        )));
    }
    if a.partitions.is_empty() {
        return Err(options_error(
            "--partitions needs at least one count".into(),
        ));
    }
    if a.sweep && a.partitions.iter().any(|&k| k != 1) {
        return Err(options_error(
            "--partitions applies to the per-case benchmark, not to --sweep".into(),
        ));
    }
    if a.sweep && a.no_memo {
        return Err(options_error(
            "--no-memo applies to the per-case benchmark, not to --sweep".into(),
        ));
    }
    if a.sweep {
        return cmd_bench_sweep(a);
    }
    check_components(&a.peers, a.components)?;
    let exe = std::env::current_exe()?;
    if !a.json {
        println!("allocator: {}", crate::alloc::allocator());
        if a.partitions.iter().any(|&k| k > 1) {
            println!("partitions: one thread each; cpu_s adds up all threads");
        }
        if a.sweep || a.signing.iter().any(|m| m == "ed25519") {
            println!(
                "ed25519 memo: {}",
                if a.no_memo {
                    "off (--no-memo: every copy verified)"
                } else {
                    "on (successful verifications remembered)"
                }
            );
        }
        println!(
            "{:>7} {:>8} {:>6} {:>5} {:>8} {:>8} {:>9} {:>9} {:>10} {:>10} {:>8} {:>9} {:>13} {:>15}",
            "peers",
            "signing",
            "transp",
            "parts",
            "wall_s",
            "cpu_s",
            "sim/wall",
            "us/peer-s",
            "events",
            "events/s",
            "rss_MiB",
            "KiB/peer",
            "delivery",
            "lat_p50/p99_ms"
        );
    }
    for &p in &a.peers {
        for sg in &a.signing {
            for (k, tr) in a
                .partitions
                .iter()
                .flat_map(|&k| a.transport.iter().map(move |tr| (k, tr)))
            {
                let mut runs = Vec::new();
                for _ in 0..a.repeat.max(1) {
                    let line = run_case(&exe, a, p, sg, k, tr)?;
                    runs.push(serde_json::from_str::<serde_json::Value>(&line)?);
                }
                let v = median_run(runs)?;
                if a.json {
                    println!("{v}");
                    continue;
                }
                let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
                println!(
                "{:>7} {:>8} {:>6} {:>5} {:>8.2} {:>8.2} {:>9.1} {:>9.1} {:>10} {:>10.0} {:>8.0} {:>9.0} {:>13} {:>7.1}/{:<7.1}",
                p,
                sg,
                tr,
                k,
                f("wall_seconds"),
                f("cpu_user_seconds") + f("cpu_sys_seconds"),
                f("sim_per_wall"),
                f("cpu_us_per_peer_second"),
                v["events"].as_u64().unwrap_or(0),
                f("events_per_s"),
                f("peak_rss_mib"),
                f("bytes_per_peer") / 1024.0,
                v["delivery"].as_str().unwrap_or(""),
                f("latency_ms_p50"),
                f("latency_ms_p99"),
            );
                if a.repeat > 1 {
                    println!(
                        "{:>7} median of {} runs by CPU time; CPU range {:.2}-{:.2} s",
                        "",
                        a.repeat,
                        f("cpu_min_seconds"),
                        f("cpu_max_seconds"),
                    );
                }
                if a.phases {
                    let ph = &v["phases"];
                    let g = |k: &str| ph[k].as_f64().unwrap_or(0.0);
                    let total = g("swarm_s") + g("engine_s") + g("metrics_s") + g("app_s");
                    let pct = |x: f64| if total > 0.0 { 100.0 * x / total } else { 0.0 };
                    println!(
                    "{:>7} phases: swarm polls {:.2} s ({:.0}%), engine {:.2} s ({:.0}%), metrics {:.2} s ({:.0}%), scenario {:.2} s ({:.0}%)",
                    "",
                    g("swarm_s"),
                    pct(g("swarm_s")),
                    g("engine_s"),
                    pct(g("engine_s")),
                    g("metrics_s"),
                    pct(g("metrics_s")),
                    g("app_s"),
                    pct(g("app_s")),
                );
                    // The yardstick: meshsim's own cost against the floor
                    // (the real libp2p code, polled inside the swarms).
                    if g("swarm_s") > 0.0 {
                        println!(
                            "{:>7} overhead: engine + metrics = {:.2}x the time inside the swarms",
                            "",
                            (g("engine_s") + g("metrics_s")) / g("swarm_s"),
                        );
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `meshsim bench-one`: runs one case in this process and prints one JSON line.
pub fn cmd_bench_one(a: BenchOneArgs) -> anyhow::Result<ExitCode> {
    let BenchOneArgs {
        peers,
        ref signing,
        seconds,
        phases,
        components,
        no_memo,
        partitions,
        ref transport,
    } = a;
    check_components(&[peers], components)?;
    let mut exp = scenario(peers, signing, seconds, components)?;
    exp.partitions = partitions;
    // Set either way: the experiment default is tcp, so `ideal` must be
    // asked for (it was not, so `--transport ideal` ran tcp).
    exp.network.transport.model = if transport == "tcp" {
        models::spec::TransportModel::Tcp
    } else {
        models::spec::TransportModel::Ideal
    };
    exp.validate()
        .map_err(|e| options_error(format!("--partitions {partitions}: {e}")))?;
    if phases {
        sim::profile::enable();
    }
    let cpu0 = cpu_seconds(libc::RUSAGE_SELF);
    let t = crate::wall::now();
    // Like `meshsim run`: the process exits after the run, so the network
    // is not freed at its end.
    let opts = models::RunOptions {
        trace: None,
        skip_teardown: true,
        no_memo,
        progress: None,
    };
    let s = models::run_with(&exp, 1, sim::EntropyMode::Seeded, &opts)?.summary;
    let wall = t.elapsed().as_secs_f64();
    let cpu1 = cpu_seconds(libc::RUSAGE_SELF);
    let rss_kib = peak_rss_kib();
    let mut out = serde_json::json!({
        "peers": peers,
        "components": components,
        "partitions": partitions,
        "signing": signing,
        "transport": transport,
        "sim_seconds": s.sim_seconds,
        "wall_seconds": wall,
        "cpu_user_seconds": cpu1.0 - cpu0.0,
        "cpu_sys_seconds": cpu1.1 - cpu0.1,
        "sim_per_wall": s.sim_seconds / wall,
        "events": s.events,
        "events_per_s": s.events as f64 / wall,
        "polls": s.polls,
        // Linear cost means this stays flat as peers grow.
        "cpu_us_per_peer_second": (cpu1.0 - cpu0.0 + cpu1.1 - cpu0.1) * 1e6
            / (f64::from(peers) * s.sim_seconds.max(1e-9)),
        "peak_rss_mib": rss_kib.map(|k| k as f64 / 1024.0),
        "bytes_per_peer": rss_kib.map(|k| k as f64 * 1024.0 / f64::from(peers)),
        "delivery": format!(
            "{}/{}",
            s.deliveries,
            reachable_deliveries(s.deliveries_expected, peers, components)
        ),
        "latency_ms_p50": s.latency_ms.p50,
        "latency_ms_p99": s.latency_ms.p99,
        "trace_hash": s.trace_hash,
        "allocator": crate::alloc::allocator(),
        "memo_hits": s.memo_hits,
        "memo_misses": s.memo_misses,
    });
    if phases {
        let p = sim::profile::totals();
        out["phases"] = serde_json::json!({
            "swarm_s": p.swarm_s,
            "engine_s": p.engine_s,
            "metrics_s": p.metrics_s,
            "app_s": p.app_s,
        });
    }
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn run_case(
    exe: &std::path::Path,
    a: &BenchArgs,
    peers: u32,
    signing: &str,
    partitions: u16,
    transport: &str,
) -> anyhow::Result<String> {
    let mut cmd = Command::new(exe);
    cmd.args([
        "bench-one",
        "--peers",
        &peers.to_string(),
        "--signing",
        signing,
        "--seconds",
        &a.seconds.to_string(),
    ]);
    if a.phases {
        cmd.arg("--phases");
    }
    if a.no_memo {
        cmd.arg("--no-memo");
    }
    cmd.args(["--components", &a.components.to_string()]);
    cmd.args(["--partitions", &partitions.to_string()]);
    cmd.args(["--transport", transport]);
    let out = cmd.output()?;
    if !out.status.success() {
        anyhow::bail!(
            "bench case {peers} peers {signing} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `meshsim bench --sweep`: the same sweep of equal runs (one point, several
/// seeds) with `--jobs 1` and `--jobs 2`; prints both wall times and the speedup.
fn cmd_bench_sweep(a: &BenchArgs) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe()?;
    let peers = a.peers.first().copied().unwrap_or(300);
    let signing = a.signing.first().map_or("none", String::as_str);
    let dir = std::env::temp_dir().join(format!("meshsim-bench-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("sweep.toml");
    let mut text = scenario_text(peers, signing, a.seconds);
    text = text.replace("name = \"bench\"", "name = \"bench-sweep\"");
    text.push_str(&format!("[sweep]\nseeds = {}\n", a.sweep_runs));
    std::fs::write(&file, text)?;
    // One pair = the sweep with --jobs 1, then with --jobs 2. On a shared
    // machine pairs vary; the median pair (by speedup) is reported.
    let mut pairs: Vec<[(f64, f64); 2]> = Vec::new();
    for rep in 0..a.repeat.max(1) {
        let mut pair = [(0.0, 0.0); 2];
        for (k, jobs) in [1usize, 2].into_iter().enumerate() {
            let out = dir.join(format!("rep{rep}-jobs{jobs}"));
            let c0 = cpu_seconds(libc::RUSAGE_CHILDREN);
            let t = crate::wall::now();
            let st = Command::new(&exe)
                .arg("sweep")
                .arg(&file)
                .args(["--jobs", &jobs.to_string(), "--out"])
                .arg(&out)
                .stderr(std::process::Stdio::null())
                .status()?;
            let wall = t.elapsed().as_secs_f64();
            let c1 = cpu_seconds(libc::RUSAGE_CHILDREN);
            if !st.success() {
                let _ = std::fs::remove_dir_all(&dir);
                anyhow::bail!("sweep with --jobs {jobs} failed ({st})");
            }
            let _ = std::fs::remove_dir_all(&out);
            pair[k] = (wall, (c1.0 - c0.0) + (c1.1 - c0.1));
        }
        pairs.push(pair);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let speedup_of = |p: &[(f64, f64); 2]| p[0].0 / p[1].0;
    let mut speedups: Vec<f64> = pairs.iter().map(speedup_of).collect();
    speedups.sort_by(f64::total_cmp);
    pairs.sort_by(|x, y| speedup_of(x).total_cmp(&speedup_of(y)));
    let m = pairs[(pairs.len() - 1) / 2];
    let speedup = speedup_of(&m);
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "sweep_runs": a.sweep_runs,
                "peers": peers,
                "signing": signing,
                "sim_seconds": a.seconds,
                "jobs1_wall_seconds": m[0].0,
                "jobs1_cpu_seconds": m[0].1,
                "jobs2_wall_seconds": m[1].0,
                "jobs2_cpu_seconds": m[1].1,
                "speedup": speedup,
                "repeat": speedups.len(),
                "speedups": speedups,
                "allocator": crate::alloc::allocator(),
            })
        );
    } else {
        println!(
            "sweep of {} equal runs ({} peers, {}, {} simulated s each; allocator: {})",
            a.sweep_runs,
            peers,
            signing,
            a.seconds,
            crate::alloc::allocator()
        );
        for (k, (wall, cpu)) in m.iter().enumerate() {
            println!("  --jobs {}: wall {wall:.2} s, cpu {cpu:.2} s", k + 1);
        }
        println!("  speedup --jobs 2 / --jobs 1: {speedup:.2}x");
        if speedups.len() > 1 {
            let list: Vec<String> = speedups.iter().map(|x| format!("{x:.2}")).collect();
            println!(
                "  median of {} pairs; all speedups: {}",
                speedups.len(),
                list.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
