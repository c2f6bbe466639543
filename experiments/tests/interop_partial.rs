//! The framework's three partial-message scenarios (`partial-messages`,
//! `partial-messages-chain`, `partial-messages-fanout`), generated here as
//! its `experiment.py` builds them (the same instructions in the same
//! order; random draws from meshsim's own seeded generator, so the bytes
//! differ from a `run.py --seed 1` folder), shipped as
//! `experiments/interop-partial*/` and run end to end: the framework's
//! check passes, and each is deterministic. To regenerate the folders:
//! `MESHSIM_WRITE_INTEROP_SAMPLE=1 cargo test -p meshsim --test interop_partial`.

mod interop_support;

use interop_support::*;
use rand::RngExt;
use serde_json::{json, Value};
use std::path::Path;

/// The framework's `spread_heartbeat_delay`: one `initGossipSub` per node,
/// the initial heartbeat 100 ms + (i + 1) x 0.1 ms, in nanoseconds.
fn spread_heartbeat(n: u32) -> Vec<Value> {
    (0..n)
        .map(|i| {
            if_node(
                i,
                json!({"type": "initGossipSub", "gossipSubParams": {
                    "HeartbeatInitialDelay": 100_000_000u64 + u64::from(i + 1) * 100_000
                }}),
            )
        })
        .collect()
}

/// The framework's `random_network_mesh(n, k)`: each node in turn draws
/// peers until it has `k` links (links are both ways; a node dials the
/// peers it drew itself).
fn random_mesh(n: u32, k: u32, rng: &mut sim::SimRng) -> Vec<Value> {
    let mut links: Vec<std::collections::BTreeSet<u32>> = vec![Default::default(); n as usize];
    let mut dials: Vec<Vec<u32>> = vec![Vec::new(); n as usize];
    for a in 0..n {
        while (links[a as usize].len() as u32) < k {
            let b = rng.random_range(0..n);
            if b == a || links[a as usize].contains(&b) {
                continue;
            }
            links[a as usize].insert(b);
            links[b as usize].insert(a);
            dials[a as usize].push(b);
        }
    }
    (0..n)
        .filter(|&a| !dials[a as usize].is_empty())
        .map(|a| {
            if_node(
                a,
                json!({"type": "connect", "connectTo": dials[a as usize]}),
            )
        })
        .collect()
}

fn subscribe_partial(topic: &str) -> Value {
    json!({"type": "subscribeToTopic", "topicID": topic, "partial": true})
}

fn add_parts(node: u32, parts: u32, topic: &str, group: u64) -> Value {
    if_node(
        node,
        json!({"type": "addPartialMessage", "parts": parts, "topicID": topic, "groupID": group}),
    )
}

fn publish_partial(topic: &str, group: u64) -> Value {
    json!({"type": "publishPartial", "topicID": topic, "groupID": group})
}

/// `partial-messages`: a random mesh of degree min(20, n - 1), everyone
/// subscribed with partial messages, each node holding random parts of one
/// group, all publishing at 30 s; the end at 40 s.
fn partial_messages(n: u32, seed: u64) -> Vec<Value> {
    let mut rng = sim::Seeds::new(seed).stream("partial-messages");
    let mut s = spread_heartbeat(n);
    s.extend(random_mesh(n, 20.min(n - 1), &mut rng));
    s.push(subscribe_partial("a-subnet"));
    let group = rng.random_range(0..256u64);
    s.push(wait_until(30));
    for i in 0..n {
        s.push(add_parts(i, rng.random_range(0..256u32), "a-subnet", group));
    }
    s.push(publish_partial("a-subnet", group));
    s.push(wait_until(40));
    s
}

/// `partial-messages-chain`: n nodes in a line; node p holds part p of
/// each of 16 groups (n = 8), published every 2 s from 32 s; the end at 92 s.
fn partial_chain(n: u32) -> Vec<Value> {
    let topic = "partial-msg-chain";
    let mut s = spread_heartbeat(n);
    for i in 0..n - 1 {
        s.push(if_node(i, json!({"type": "connect", "connectTo": [i + 1]})));
    }
    s.push(subscribe_partial(topic));
    s.push(wait_until(30));
    for msg in 0..16u32 {
        for part in 0..8u32 {
            s.push(add_parts(
                (msg * 8 + part) % n,
                1 << part,
                topic,
                u64::from(msg),
            ));
        }
    }
    for msg in 0..16u64 {
        s.push(wait_until(32 + 2 * msg));
        s.push(publish_partial(topic, msg));
    }
    s.push(wait_until(92));
    s
}

/// `partial-messages-fanout`: node 0 does not subscribe, holds every part
/// and publishes (to nodes 1-7 by `publishToNodeIDs`, which the framework's
/// rust node ignores); the end at 40 s.
fn partial_fanout(n: u32, seed: u64) -> Vec<Value> {
    let mut rng = sim::Seeds::new(seed).stream("partial-messages-fanout");
    let mut s = spread_heartbeat(n);
    s.extend(random_mesh(n, 20.min(n - 1), &mut rng));
    for i in 1..n {
        s.push(if_node(i, subscribe_partial("a-subnet")));
    }
    let group = rng.random_range(0..256u64);
    s.push(wait_until(30));
    s.push(add_parts(0, 0xff, "a-subnet", group));
    let to: Vec<u32> = (1..8.min(n)).collect();
    s.push(if_node(
        0,
        json!({"type": "publishPartial", "topicID": "a-subnet", "groupID": group, "publishToNodeIDs": to}),
    ));
    s.push(wait_until(40));
    s
}

/// Host `i` on graph node `i mod 3`.
fn gnode(n: u32) -> Vec<usize> {
    (0..n as usize).map(|i| i % 3).collect()
}

/// Checks (or with `MESHSIM_WRITE_INTEROP_SAMPLE`, writes) the shipped
/// folder `experiments/<name>/` against the generator.
fn shipped(name: &str, n: u32, script: &[Value]) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    let files = [
        ("graph.gml", graph_gml()),
        ("shadow.yaml", shadow_yaml(&gnode(n))),
        (
            "params.json",
            serde_json::to_string_pretty(&json!({ "script": script })).unwrap() + "\n",
        ),
    ];
    check_shipped(&dir, &files);
    dir
}

/// Runs a folder with `--json`; returns the parsed output.
fn run_json(dir: &Path, seed: &str) -> Value {
    let o = meshsim(&[
        "interop",
        dir.to_str().unwrap(),
        "--no-write",
        "--json",
        "--seed",
        seed,
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// Runs a scenario twice with one seed: the check passes, every expected
/// node completes every group, the hashes agree.
fn passes_and_is_deterministic(dir: &Path, groups: u64) -> Value {
    let v = run_json(dir, "1");
    let check = &v["partial_check"];
    assert_eq!(check["pass"], true, "{v}");
    assert_eq!(check["count"], groups, "{v}");
    assert_eq!(v["reliability"], 1.0, "{v}");
    assert_eq!(v["partial_parts"]["invalid"], 0, "{v}");
    let again = run_json(dir, "1");
    assert_eq!(v["trace_hash"], again["trace_hash"]);
    v
}

#[test]
fn partial_messages_scenario_passes_the_check() {
    let dir = shipped("interop-partial", 32, &partial_messages(32, 1));
    let v = passes_and_is_deterministic(&dir, 1);
    // Every node held some parts when they all published: of 32 x 8,
    // about half were missing (random bitmaps).
    let missing = v["partial_parts"]["missing_at_publish"].as_u64().unwrap();
    assert!(missing > 32 * 2 && missing < 32 * 6, "{v}");
}

#[test]
fn partial_chain_scenario_passes_the_check() {
    let dir = shipped("interop-partial-chain", 8, &partial_chain(8));
    let v = passes_and_is_deterministic(&dir, 16);
    // Each of the 8 nodes lacks 7 parts of each of 16 groups; in a line
    // every part has one way to go, so none crosses twice.
    let p = &v["partial_parts"];
    assert_eq!(p["missing_at_publish"], 8 * 7 * 16, "{v}");
    assert_eq!(p["received"], 8 * 7 * 16, "{v}");
    assert_eq!(p["duplicate"], 0, "{v}");
    assert_eq!(v["messages"].as_array().unwrap().len(), 16);
}

#[test]
fn partial_fanout_scenario_passes_the_check() {
    let dir = shipped("interop-partial-fanout", 8, &partial_fanout(8, 1));
    let v = passes_and_is_deterministic(&dir, 1);
    // Node 0 publishes holding every part, the 7 others lack all 8.
    assert_eq!(v["partial_parts"]["missing_at_publish"], 7 * 8, "{v}");
    assert_eq!(v["deliveries_expected"], 7, "{v}");
}

/// The same topology with full messages of the same size (8 KiB) gives a
/// table with the same columns: reliability, latency, per message.
#[test]
fn a_full_message_run_of_the_same_topology_compares() {
    let mut script = partial_fanout(8, 1);
    // Everyone subscribes (full messages); node 0 publishes one message.
    script.retain(|i| {
        let s = i.to_string();
        !s.contains("Partial") && !s.contains("subscribeToTopic")
    });
    let end = script.pop().unwrap();
    script.pop(); // waitUntil 30: subscribe before it
    script.push(json!({"type": "subscribeToTopic", "topicID": "a-subnet"}));
    script.push(wait_until(30));
    script.push(if_node(
        0,
        json!({"type": "publish", "messageID": 1, "messageSizeBytes": 8192, "topicID": "a-subnet"}),
    ));
    script.push(end);
    let dir = write_dir("full-fanout", &gnode(8), &script);
    let full = run_json(&dir, "1");
    let part = run_json(
        &shipped("interop-partial-fanout", 8, &partial_fanout(8, 1)),
        "1",
    );
    assert!(full["partial_check"].is_null());
    for v in [&full, &part] {
        assert_eq!(v["reliability"], 1.0, "{v}");
        assert_eq!(v["deliveries_expected"], 7, "{v}");
        let m = &v["messages"][0];
        for k in [
            "message_id",
            "publisher",
            "reliability",
            "latency_ms",
            "duplicates",
        ] {
            assert!(!m[k].is_null(), "{k}: {v}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_partial_input_is_a_clear_error_with_exit_code_2() {
    let base = |extra: Vec<Value>| {
        let mut s = vec![
            if_node(0, json!({"type": "connect", "connectTo": [1]})),
            subscribe_partial("t"),
        ];
        s.extend(extra);
        s
    };
    let cases: Vec<(&str, Vec<Value>, &str)> = vec![
        (
            "part-out-of-range",
            base(vec![add_parts(0, 256, "t", 1)]),
            "names part 8, out of range",
        ),
        (
            "metadata-too-long",
            base(vec![add_parts(0, 70_000, "t", 1)]),
            "is 1 byte, not 3",
        ),
        (
            "not-a-bitmap",
            base(vec![if_node(
                0,
                json!({"type": "addPartialMessage", "parts": "ff", "topicID": "t", "groupID": 1}),
            )]),
            "expected a bitmap of parts",
        ),
        (
            "topic-not-partial",
            vec![
                if_node(0, json!({"type": "connect", "connectTo": [1]})),
                json!({"type": "subscribeToTopic", "topicID": "t", "partial": false}),
                add_parts(0, 3, "t", 1),
                publish_partial("t", 1),
            ],
            "subscribed to without partial messages",
        ),
        (
            "nothing-held",
            base(vec![publish_partial("t", 9)]),
            "before any addPartialMessage",
        ),
    ];
    for (name, script, want) in cases {
        let dir = write_dir(name, &[0, 1], &script);
        let o = meshsim(&["interop", dir.to_str().unwrap(), "--no-write"]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(want) && !err.contains("panicked"),
            "{name}: {err}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A line 0-1-2-3 where the ends hold complementary halves and the middle
/// nothing, all publishing at once: the middle nodes pass on what they
/// receive although it equals what its sender holds, and every node
/// completes. A full message published alongside is no group.
#[test]
fn a_line_with_the_halves_at_its_ends_completes() {
    let mut s = spread_heartbeat(4);
    for i in 0..3 {
        s.push(if_node(i, json!({"type": "connect", "connectTo": [i + 1]})));
    }
    s.push(subscribe_partial("t"));
    s.push(json!({"type": "subscribeToTopic", "topicID": "full"}));
    s.push(wait_until(5));
    for (node, parts) in [(0, 0x0f), (1, 0), (2, 0), (3, 0xf0)] {
        s.push(add_parts(node, parts, "t", 7));
    }
    s.push(publish_partial("t", 7));
    s.push(if_node(
        0,
        json!({"type": "publish", "messageID": 99, "messageSizeBytes": 100, "topicID": "full"}),
    ));
    s.push(wait_until(10));
    let dir = write_dir("line-halves", &[0, 1, 2, 0], &s);
    let v = run_json(&dir, "1");
    assert_eq!(v["partial_check"]["pass"], true, "{v}");
    assert_eq!(v["partial_check"]["count"], 1, "one group: {v}");
    assert_eq!(v["reliability"], 1.0, "{v}");
    let _ = std::fs::remove_dir_all(dir);
}

/// One node adds a part, publishes, replaces it by another and publishes
/// again, all at one instant: its own order is kept, so both parts are
/// offered and the other node gets both.
#[test]
fn a_nodes_own_order_is_kept_at_one_instant() {
    let mut s = spread_heartbeat(2);
    s.push(if_node(0, json!({"type": "connect", "connectTo": [1]})));
    s.push(subscribe_partial("t"));
    s.push(wait_until(5));
    s.push(add_parts(0, 0x01, "t", 3));
    s.push(if_node(0, publish_partial("t", 3)));
    s.push(add_parts(0, 0x02, "t", 3));
    s.push(if_node(0, publish_partial("t", 3)));
    s.push(wait_until(10));
    let dir = write_dir("own-order", &[0, 1], &s);
    let v = run_json(&dir, "1");
    // Node 1 gets parts 0 and 1; eager, it offers part 0 back to node 0,
    // which no longer holds it (it was replaced): 3 parts, none twice.
    // Had the second add come before the first publish, node 1 would have
    // got part 1 only (and sent it back: a duplicate).
    assert_eq!(v["partial_parts"]["received"], 3, "{v}");
    assert_eq!(v["partial_parts"]["duplicate"], 0, "{v}");
    let _ = std::fs::remove_dir_all(dir);
}
