//! Helpers of the interop tests: the binary, temporary folders, and the
//! framework's three files (graph.gml with three node types, shadow.yaml,
//! params.json) as its generator writes them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn meshsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .output()
        .expect("run meshsim")
}

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "meshsim-interop-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Graph node types: (label, upload, download). GML ids 0, 1, 2.
pub(crate) const TYPES: [(&str, &str, &str); 3] = [
    ("europe-supernode", "1024 Mbit", "1024 Mbit"),
    ("europe-fullnode", "50 Mbit", "50 Mbit"),
    ("na_east-fullnode", "50 Mbit", "50 Mbit"),
];

/// One-way latency in ms between graph nodes (symmetric; the diagonal is the self-loop).
pub(crate) const LAT_MS: [[u64; 3]; 3] = [[2, 3, 70], [3, 4, 72], [70, 72, 6]];

/// A directed GML graph as networkx writes it (every edge in both directions, self-loops included).
pub(crate) fn graph_gml() -> String {
    graph_gml_with_loss("0.0")
}

/// [`graph_gml`] with this `packet_loss` on every edge.
pub(crate) fn graph_gml_with_loss(loss: &str) -> String {
    let mut s = String::from("graph [\n  directed 1\n");
    for (i, (label, up, down)) in TYPES.iter().enumerate() {
        s.push_str(&format!(
            "  node [\n    id {i}\n    label \"{label}\"\n    host_bandwidth_up \"{up}\"\n    host_bandwidth_down \"{down}\"\n  ]\n"
        ));
    }
    for a in 0..3 {
        for b in 0..3 {
            s.push_str(&format!(
                "  edge [\n    source {a}\n    target {b}\n    label \"{} to {}\"\n    latency \"{} ms\"\n    packet_loss {loss}\n  ]\n",
                TYPES[a].0, TYPES[b].0, LAT_MS[a][b]
            ));
        }
    }
    s.push_str("]\n");
    s
}

/// shadow.yaml as the framework's `yaml.dump` writes it: host `nodeI` on graph node `gnode[I]`.
pub(crate) fn shadow_yaml(gnode: &[usize]) -> String {
    shadow_yaml_with_stop(gnode, "10 min")
}

/// [`shadow_yaml`] with this `general.stop_time`.
pub(crate) fn shadow_yaml_with_stop(gnode: &[usize], stop_time: &str) -> String {
    let mut s = format!(
        "experimental:\n  socket_recv_buffer: 7500000\ngeneral:\n  model_unblocked_syscall_latency: true\n  stop_time: {stop_time}\nhosts:\n",
    );
    for (i, g) in gnode.iter().enumerate() {
        s.push_str(&format!(
            "  node{i}:\n    network_node_id: {g}\n    processes:\n    - args: --params /tmp/params.json\n      environment:\n        RUST_LOG: debug\n      path: /usr/local/bin/rust-libp2p-interop\n"
        ));
    }
    s.push_str("network:\n  graph:\n    file:\n      path: graph.gml\n    type: gml\n");
    s
}

pub(crate) fn write_dir(name: &str, gnode: &[usize], script: &[serde_json::Value]) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::write(dir.join("graph.gml"), graph_gml()).unwrap();
    std::fs::write(dir.join("shadow.yaml"), shadow_yaml(gnode)).unwrap();
    let params = serde_json::json!({ "script": script });
    std::fs::write(dir.join("params.json"), params.to_string()).unwrap();
    dir
}

pub(crate) fn if_node(id: u32, ins: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"type": "ifNodeIDEquals", "nodeID": id, "instruction": ins})
}

/// Per node: GossipSub parameters with a spread initial heartbeat (nanoseconds, as test-plans writes them).
pub(crate) fn init(n: u32) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            if_node(
                i,
                serde_json::json!({"type": "initGossipSub", "gossipSubParams": {
                    "D": 3, "Dlo": 2, "Dhi": 6, "Dout": 1,
                    "HeartbeatInterval": 700_000_000.0,
                    "HeartbeatInitialDelay": 100_000_000.0 + f64::from(i) * 100_000.0,
                    "IDontWantMessageThreshold": 1000
                }}),
            )
        })
        .collect()
}

pub(crate) fn wait_until(s: u64) -> serde_json::Value {
    serde_json::json!({"type": "waitUntil", "elapsedSeconds": s})
}

/// Runs `meshsim interop DIR --out DIR/out` with extra arguments; returns the output and DIR/out.
pub(crate) fn run_into(dir: &Path, extra: &[&str]) -> (Output, PathBuf) {
    let out = dir.join("out");
    let mut args = vec![
        "interop",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    (meshsim(&args), out)
}

pub(crate) fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// interop.csv rows by column name.
pub(crate) fn interop_rows(out: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let t = std::fs::read_to_string(out.join("interop.csv")).unwrap();
    let mut lines = t.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

/// Checks that the shipped folder `dir` holds exactly `files` (name, text),
/// as the test's generator makes them; with `MESHSIM_WRITE_INTEROP_SAMPLE`
/// set it writes them first (to regenerate the folder).
pub(crate) fn check_shipped(dir: &Path, files: &[(&str, String)]) {
    if std::env::var_os("MESHSIM_WRITE_INTEROP_SAMPLE").is_some() {
        std::fs::create_dir_all(dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
    for (name, text) in files {
        let got = std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()));
        assert_eq!(
            &got,
            text,
            "{} differs from the generator (see the test's doc)",
            dir.join(name).display()
        );
    }
}
