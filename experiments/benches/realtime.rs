//! The real-time alternative against meshsim (issue #8).
//!
//! The same scenario twice: `meshsim bench`'s (random 8-regular graph, one
//! topic, one 1 KiB message per second from a random peer after a 2 s
//! warm-up, 1 s drain) with 50 peers, first in meshsim (virtual time, uniform
//! 20-80 ms latency), then with 50 real `libp2p-swarm` swarms built by
//! `libp2p-swarm-test` (`new_ephemeral_tokio`: memory transport, plaintext,
//! yamux) in one current-thread tokio runtime, in real time. Both sides build
//! GossipSub from the same experiment section with the same function
//! (`GossipsubSpec::to_config`) and dial the same graph (drawn
//! from the same seed). Prints the wall times, their ratio and both delivery
//! ratios; exits non-zero if the delivery ratios differ by more than the
//! tolerance.
//!
//! What differs, by construction: latency (the memory transport delivers at
//! once; meshsim draws 20-80 ms per link), keys (`new_ephemeral_tokio` draws
//! its own), the swarm's idle-connection timeout (libp2p-swarm's default
//! 10 s there, 1 h in meshsim: GossipSub keeps only mesh connections alive,
//! so idle non-mesh ones may close) and the publishers (same rule, not the
//! same draws).
//!
//! `cargo bench -p meshsim --bench realtime`. Environment (all optional):
//! `REALTIME_SECONDS` (messages, one per second; default 30),
//! `REALTIME_PEERS` (50), `REALTIME_SIGNING` (`none` or `ed25519`; `none`),
//! `REALTIME_SEED` (1), `REALTIME_RUNS` (real-time repetitions; 1),
//! `REALTIME_TOLERANCE` (0.02).

use futures::channel::mpsc;
use futures::StreamExt;
use libp2p_gossipsub as gossipsub;
use libp2p_swarm::dial_opts::DialOpts;
use libp2p_swarm::{Swarm, SwarmEvent};
use libp2p_swarm_test::SwarmExt;
use rand::RngExt;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Both sides run on the `meshsim` binary's allocator (`meshsim::alloc`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Warm-up before the first message (the scenario's `workload.start_s`).
const WARMUP_S: u64 = 2;
/// Wait after the last message (the scenario's `workload.drain_s`).
const GRACE_S: u64 = 1;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: cannot parse")),
        Err(_) => default,
    }
}

/// (user + system) CPU seconds of this process, all threads.
fn cpu_seconds() -> f64 {
    // SAFETY: `getrusage` only writes the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(ru.ru_utime) + s(ru.ru_stime)
}

/// One side's measurements.
struct Outcome {
    wall_s: f64,
    cpu_s: f64,
    /// Scenario seconds covered (simulated, or real from the swarms' start).
    scenario_s: f64,
    delivered: u64,
    expected: u64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    /// Real-time side only: publish errors, connections and mesh sizes at the end.
    publish_errors: u64,
    connections_min_max: (usize, usize),
    mesh_min_max: (usize, usize),
}

impl Outcome {
    fn ratio(&self) -> f64 {
        if self.expected == 0 {
            return 0.0;
        }
        self.delivered as f64 / self.expected as f64
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

/// What the controller asks a peer's task to do.
enum Cmd {
    /// Publish workload message `seq` now.
    Publish(u64),
    /// Report connections and mesh size, then stop.
    Stop,
}

/// Shared between the peer tasks and the controller.
struct Shared {
    /// `delivered[seq][peer]`.
    delivered: Vec<Vec<bool>>,
    /// When each message was published.
    published_at: Vec<Option<Instant>>,
    latencies_ms: Vec<f64>,
    publish_errors: u64,
    /// Per peer at the end: (connected peers, mesh peers on the topic).
    end_state: Vec<(usize, usize)>,
}

async fn peer_task(
    index: usize,
    mut swarm: Swarm<gossipsub::Behaviour>,
    topic: gossipsub::IdentTopic,
    message_bytes: usize,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    shared: Arc<Mutex<Shared>>,
) {
    loop {
        tokio::select! {
            cmd = cmds.next() => match cmd {
                Some(Cmd::Publish(seq)) => {
                    // The payload meshsim publishes: the sequence number first, zeros after.
                    let mut data = vec![0u8; message_bytes.max(8)];
                    data[..8].copy_from_slice(&seq.to_le_bytes());
                    let now = meshsim::wall::now();
                    let ok = swarm.behaviour_mut().publish(topic.clone(), data).is_ok();
                    let mut s = shared.lock().unwrap();
                    s.published_at[seq as usize] = Some(now);
                    if !ok {
                        s.publish_errors += 1;
                    }
                }
                Some(Cmd::Stop) | None => {
                    let conns = swarm.connected_peers().count();
                    let mesh = swarm.behaviour().mesh_peers(&topic.hash()).count();
                    shared.lock().unwrap().end_state[index] = (conns, mesh);
                    return;
                }
            },
            ev = swarm.select_next_some() => {
                if let SwarmEvent::Behaviour(gossipsub::Event::Message { message, .. }) = ev {
                    let now = meshsim::wall::now();
                    if message.data.len() < 8 {
                        continue;
                    }
                    let seq = u64::from_le_bytes(message.data[..8].try_into().unwrap()) as usize;
                    let mut s = shared.lock().unwrap();
                    if seq < s.delivered.len() && !s.delivered[seq][index] {
                        s.delivered[seq][index] = true;
                        if let Some(t) = s.published_at[seq] {
                            s.latencies_ms.push((now - t).as_secs_f64() * 1e3);
                        }
                    }
                }
            }
        }
    }
}

/// The scenario on real swarms in real time.
fn run_realtime(
    exp: &models::Experiment,
    messages: u64,
    edges: &[(usize, usize)],
    publishers: &[usize],
) -> Outcome {
    let n = exp.peers as usize;
    let cfg = exp.gossipsub.to_config(false).expect("valid gossipsub");
    let signing = exp
        .gossipsub
        .signing
        .unwrap_or(models::spec::Signing::Ed25519);
    let message_bytes = exp.workload.message_bytes;
    let cpu0 = cpu_seconds();
    let t_start = meshsim::wall::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let shared = Arc::new(Mutex::new(Shared {
        delivered: vec![vec![false; n]; messages as usize],
        published_at: vec![None; messages as usize],
        latencies_ms: Vec::new(),
        publish_errors: 0,
        end_state: vec![(0, 0); n],
    }));
    let scenario_s = rt.block_on(async {
        let topic = gossipsub::IdentTopic::new("meshsim-topic-0");
        let mut swarms = Vec::with_capacity(n);
        let mut addrs = Vec::with_capacity(n);
        for _ in 0..n {
            let cfg = cfg.clone();
            let mut swarm = Swarm::new_ephemeral_tokio(move |key| {
                let auth = match signing {
                    models::spec::Signing::Ed25519 => gossipsub::MessageAuthenticity::Signed(key),
                    models::spec::Signing::None => gossipsub::MessageAuthenticity::Anonymous,
                };
                gossipsub::Behaviour::new(auth, cfg).expect("valid gossipsub")
            });
            // Memory transport only (`listen()` would add a TCP listener too).
            swarm
                .listen_on("/memory/0".parse().unwrap())
                .expect("memory listener");
            let addr = swarm
                .wait(|e| match e {
                    SwarmEvent::NewListenAddr { address, .. } => Some(address),
                    _ => None,
                })
                .await;
            swarm.behaviour_mut().subscribe(&topic).expect("subscribe");
            addrs.push(addr);
            swarms.push(swarm);
        }
        for &(a, b) in edges {
            let opts = DialOpts::peer_id(*swarms[b].local_peer_id())
                .addresses(vec![addrs[b].clone()])
                .build();
            swarms[a].dial(opts).expect("dial");
        }
        let mut senders = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        for (i, swarm) in swarms.into_iter().enumerate() {
            let (tx, rx) = mpsc::unbounded();
            senders.push(tx);
            tasks.push(tokio::spawn(peer_task(
                i,
                swarm,
                topic.clone(),
                message_bytes,
                rx,
                shared.clone(),
            )));
        }
        // Scenario time zero: the swarms run.
        let t0 = tokio::time::Instant::now();
        for (seq, &p) in publishers.iter().enumerate() {
            tokio::time::sleep_until(t0 + Duration::from_secs(WARMUP_S + seq as u64)).await;
            let _ = senders[p].unbounded_send(Cmd::Publish(seq as u64));
        }
        tokio::time::sleep_until(t0 + Duration::from_secs(WARMUP_S + messages + GRACE_S - 1)).await;
        let scenario_s = t0.elapsed().as_secs_f64();
        for tx in &senders {
            let _ = tx.unbounded_send(Cmd::Stop);
        }
        for t in tasks {
            t.await.expect("peer task");
        }
        scenario_s
    });
    drop(rt);
    let wall_s = t_start.elapsed().as_secs_f64();
    let cpu_s = cpu_seconds() - cpu0;
    let s = shared.lock().unwrap();
    let mut delivered = 0;
    let mut expected = 0;
    for (seq, &p) in publishers.iter().enumerate() {
        for peer in 0..n {
            if peer != p {
                expected += 1;
                delivered += u64::from(s.delivered[seq][peer]);
            }
        }
    }
    let mut lat = s.latencies_ms.clone();
    lat.sort_by(f64::total_cmp);
    let min_max = |f: fn(&(usize, usize)) -> usize| {
        let it = s.end_state.iter().map(f);
        (it.clone().min().unwrap_or(0), it.max().unwrap_or(0))
    };
    Outcome {
        wall_s,
        cpu_s,
        scenario_s,
        delivered,
        expected,
        latency_p50_ms: percentile(&lat, 0.5),
        latency_p99_ms: percentile(&lat, 0.99),
        publish_errors: s.publish_errors,
        connections_min_max: min_max(|x| x.0),
        mesh_min_max: min_max(|x| x.1),
    }
}

/// The same scenario in meshsim.
fn run_meshsim(exp: &models::Experiment, seed: u64) -> Outcome {
    let cpu0 = cpu_seconds();
    let t = meshsim::wall::now();
    let s = models::run(exp, seed, sim::EntropyMode::Seeded).expect("meshsim run");
    let wall_s = t.elapsed().as_secs_f64();
    Outcome {
        wall_s,
        cpu_s: cpu_seconds() - cpu0,
        scenario_s: s.sim_seconds,
        delivered: s.deliveries,
        expected: s.deliveries_expected,
        latency_p50_ms: s.latency_ms.p50,
        latency_p99_ms: s.latency_ms.p99,
        publish_errors: 0,
        connections_min_max: (0, 0),
        mesh_min_max: (0, 0),
    }
}

fn main() -> ExitCode {
    meshsim::alloc::configure_mimalloc();
    let messages: u64 = env_or("REALTIME_SECONDS", 30);
    let peers: u32 = env_or("REALTIME_PEERS", 50);
    let signing: String = env_or("REALTIME_SIGNING", "none".to_string());
    let seed: u64 = env_or("REALTIME_SEED", 1);
    let runs: u32 = env_or("REALTIME_RUNS", 1);
    let tolerance: f64 = env_or("REALTIME_TOLERANCE", 0.02);
    assert!(messages >= 1 && peers >= 2 && runs >= 1);

    // meshsim's own benchmark scenario: publishes at 2, 3, ... s until
    // `duration - drain`, so `messages` messages take `messages + 2` seconds.
    let duration_s = (WARMUP_S + messages + GRACE_S - 1) as f64;
    let text = meshsim::bench::scenario_text(peers, &signing, duration_s);
    let exp = meshsim::load::parse("<realtime bench>", &text, &[]).expect("scenario");

    // The graph meshsim dials for this seed (its "topology" stream).
    let seeds = sim::Seeds::new(seed);
    let graph = models::topology::build(&exp.topology, peers, &[], &mut seeds.stream("topology"));
    let edges: Vec<(usize, usize)> = graph
        .edge_indices()
        .filter_map(|e| graph.edge_endpoints(e))
        .map(|(a, b)| (a.index(), b.index()))
        .collect();
    // Publishers: one random peer per message, seeded.
    let mut rng = seeds.stream("realtime-publishers");
    let publishers: Vec<usize> = (0..messages)
        .map(|_| rng.random_range(0..peers as usize))
        .collect();

    println!(
        "realtime vs meshsim: {peers} peers, {} edges (random {}-regular), signing {signing}, \
         {messages} x {} B messages (1/s after {WARMUP_S} s warm-up, {GRACE_S} s grace), seed {seed}; \
         allocator {}",
        edges.len(),
        exp.topology.degree,
        exp.workload.message_bytes,
        meshsim::alloc::allocator(),
    );

    let ms = run_meshsim(&exp, seed);
    let mut rts = Vec::new();
    for _ in 0..runs {
        rts.push(run_realtime(&exp, messages, &edges, &publishers));
    }

    println!();
    println!(
        "{:<34} {:>8} {:>8} {:>12} {:>15} {:>9} {:>15}",
        "side", "wall_s", "cpu_s", "scenario_s", "delivery", "ratio", "lat_p50/p99_ms"
    );
    let row = |name: &str, o: &Outcome| {
        println!(
            "{:<34} {:>8.2} {:>8.2} {:>12.2} {:>15} {:>9.4} {:>7.2}/{:<7.2}",
            name,
            o.wall_s,
            o.cpu_s,
            o.scenario_s,
            format!("{}/{}", o.delivered, o.expected),
            o.ratio(),
            o.latency_p50_ms,
            o.latency_p99_ms,
        );
    };
    row("meshsim (virtual time)", &ms);
    for (i, o) in rts.iter().enumerate() {
        let name = if runs == 1 {
            "libp2p-swarm-test + tokio (real)".to_string()
        } else {
            format!("swarm-test + tokio, run {}", i + 1)
        };
        row(&name, o);
    }
    println!();
    let mut ok = true;
    for (i, o) in rts.iter().enumerate() {
        let diff = (o.ratio() - ms.ratio()).abs();
        let agree = diff <= tolerance;
        ok &= agree;
        println!(
            "run {}: real-time wall / meshsim wall = {:.1}x (CPU {:.2}x); \
             simulated/wall: meshsim {:.1}x, real time {:.2}x",
            i + 1,
            o.wall_s / ms.wall_s,
            o.cpu_s / ms.cpu_s.max(1e-9),
            ms.scenario_s / ms.wall_s,
            o.scenario_s / o.wall_s,
        );
        println!(
            "       delivery ratio meshsim {:.4}, real time {:.4}: |diff| {:.4} {} {tolerance}; \
             real time at the end: connections per peer {}-{}, mesh {}-{}, publish errors {}",
            ms.ratio(),
            o.ratio(),
            diff,
            if agree { "<=" } else { "> tolerance: DISAGREE" },
            o.connections_min_max.0,
            o.connections_min_max.1,
            o.mesh_min_max.0,
            o.mesh_min_max.1,
            o.publish_errors,
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
