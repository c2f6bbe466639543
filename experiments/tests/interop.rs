//! `meshsim interop DIR`: a small test-plans `gossipsub-interop` style
//! experiment (params.json, graph.gml with three node types, shadow.yaml),
//! generated here, run end to end through the binary.

mod interop_support;

use interop_support::*;
use std::path::Path;

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// Latency (ms) of each first delivery of message `seq`, by peer, from deliveries.csv.
fn delivery_latencies(out: &Path, seq: u64) -> Vec<(u32, f64)> {
    // run_id, msg_seq, peer, published_s, delivered_s, latency_ms
    read_csv(&out.join("deliveries.csv"))
        .into_iter()
        .filter(|r| r[1].parse::<u64>().unwrap() == seq)
        .map(|r| (r[2].parse().unwrap(), r[5].parse().unwrap()))
        .collect()
}

/// Graph node of each of the 8 ring nodes (three node types).
const RING_GNODE: [usize; 8] = [0, 1, 2, 0, 1, 2, 1, 0];

fn publish(node: u32, id: u64, size: usize, topic: &str) -> serde_json::Value {
    if_node(
        node,
        serde_json::json!({"type": "publish", "messageID": id, "messageSizeBytes": size, "topicID": topic}),
    )
}

/// `n` nodes in a ring with two chords (0-4, 1-5), all subscribed to `a-subnet`.
fn ring_setup(n: u32) -> Vec<serde_json::Value> {
    let mut script = init(n);
    for i in 0..n {
        let mut to = vec![(i + 1) % n];
        if i < 2 {
            to.push(i + 4);
        }
        script.push(if_node(
            i,
            serde_json::json!({"type": "connect", "connectTo": to}),
        ));
    }
    script.push(serde_json::json!({"type": "subscribeToTopic", "topicID": "a-subnet"}));
    script
}

/// The ring, two messages (7 from node 0 at 5 s, 300 from node 5 at 6 s), the end at 8 s.
/// Also the script of the shipped sample folder `experiments/interop-sample/`.
fn sample_script() -> Vec<serde_json::Value> {
    let mut script = ring_setup(RING_GNODE.len() as u32);
    script.push(wait_until(5));
    script.push(publish(0, 7, 2048, "a-subnet"));
    script.push(wait_until(6));
    script.push(publish(5, 300, 100, "a-subnet"));
    script.push(wait_until(8));
    script
}

#[test]
fn generated_scenario_runs_end_to_end() {
    // 8 nodes on three graph node types; a ring with two chords.
    let gnode = RING_GNODE;
    let n = gnode.len() as u32;
    let script = sample_script();
    let dir = write_dir("ring", &gnode, &script);
    let out = dir.join("out");
    let o = meshsim(&[
        "interop",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "3",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("reliability           1.0000"), "{stdout}");
    assert!(!stdout.contains("WARNING"), "{stdout}");
    // The results line lists exactly the files written.
    let listed = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("results "))
        .and_then(|l| l.split_once('(')?.1.strip_suffix(')').map(str::to_string))
        .unwrap_or_else(|| panic!("no results line: {stdout}"));
    let mut listed: Vec<&str> = listed.split(", ").collect();
    listed.sort_unstable();
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort_unstable();
    // The plots and the report are on a line of their own.
    written.retain(|f| f != "plots" && f != "report.html");
    assert_eq!(listed, written, "{stdout}");
    assert!(stdout.contains("report.html"), "{stdout}");
    for f in [
        "analysis.txt",
        "interop.csv",
        "runs.csv",
        "messages.csv",
        "deliveries.csv",
        "timeseries.csv",
        "peers.csv",
    ] {
        assert!(out.join(f).exists(), "{f} written");
    }
    // peers.csv: one row per node, each connected and having received messages.
    let peers = read_csv(&out.join("peers.csv"));
    assert_eq!(peers.len(), 8, "{peers:?}");
    for (i, p) in peers.iter().enumerate() {
        assert_eq!(p[1], i.to_string(), "{p:?}");
        assert_eq!(p[4], "true", "up: {p:?}");
        assert!(p[6].parse::<u32>().unwrap() >= 2, "connections: {p:?}");
        assert!(
            p[14].parse::<u64>().unwrap() >= 1,
            "messages_received: {p:?}"
        );
    }
    // interop.csv: both messages reached all 7 other nodes.
    let rows = read_csv(&out.join("interop.csv"));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], "7");
    assert_eq!(rows[1][0], "300");
    for r in &rows {
        assert_eq!(r[4], "7", "expected receivers: {r:?}");
        assert_eq!(r[5], "7", "delivered: {r:?}");
        assert_eq!(r[6], "1", "reliability: {r:?}");
    }
    let analysis = std::fs::read_to_string(out.join("analysis.txt")).unwrap();
    assert!(analysis.starts_with("Message ID, Time to Disseminate, p50 to Disseminate, Avg Duplicate Count, Reached percent\n"));
    assert!(analysis.contains("\n7, "), "{analysis}");
    assert!(
        analysis
            .lines()
            .skip(1)
            .filter(|l| !l.starts_with('#'))
            .all(|l| l.ends_with(", 1")),
        "every message reached all other nodes: {analysis}"
    );
    assert!(
        analysis.contains("# transport: tcp, shadow preset"),
        "{analysis}"
    );

    // Latency consistent with the graph: each node's first delivery is no
    // earlier than its shortest path from the publisher over the connections
    // (one-way GML latencies), and not much later (a few ms of transmission).
    let mut edges: Vec<(u32, u32)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
    edges.extend([(0, 4), (1, 5)]);
    let lat = |a: u32, b: u32| LAT_MS[gnode[a as usize]][gnode[b as usize]] as f64;
    let shortest = |src: u32| {
        let mut d = vec![f64::INFINITY; n as usize];
        d[src as usize] = 0.0;
        for _ in 0..n {
            for &(a, b) in &edges {
                let w = lat(a, b);
                d[b as usize] = d[b as usize].min(d[a as usize] + w);
                d[a as usize] = d[a as usize].min(d[b as usize] + w);
            }
        }
        d
    };
    for (seq, src) in [(0u64, 0u32), (1, 5)] {
        let d = shortest(src);
        let got = delivery_latencies(&out, seq);
        assert_eq!(got.len(), 7, "message {seq}: {got:?}");
        for (peer, ms) in got {
            let min = d[peer as usize];
            assert!(
                ms >= min - 1e-6 && ms <= min + 15.0,
                "message {seq} to node {peer}: {ms} ms, shortest path {min} ms"
            );
        }
    }

    // Deterministic: the same folder and seed give the same trace hash.
    let again = meshsim(&[
        "interop",
        dir.to_str().unwrap(),
        "--no-write",
        "--seed",
        "3",
        "--json",
    ]);
    assert!(again.status.success());
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert!(stdout.contains(v["trace_hash"].as_str().unwrap()));
    assert_eq!(v["reliability"], 1.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn validation_delay_holds_back_forwarding() {
    // A chain 0 - 1 - 2 on one graph node (2 ms self-loop); node 1 validates after 100 ms.
    let gnode = [0, 0, 0];
    let mut script = init(3);
    script.push(if_node(
        0,
        serde_json::json!({"type": "connect", "connectTo": [1]}),
    ));
    script.push(if_node(
        2,
        serde_json::json!({"type": "connect", "connectTo": [1]}),
    ));
    script.push(serde_json::json!({"type": "subscribeToTopic", "topicID": "t"}));
    script.push(if_node(
        1,
        serde_json::json!({"type": "setTopicValidationDelay", "topicID": "t", "delaySeconds": 0.1}),
    ));
    script.push(serde_json::json!({"type": "waitUntil", "elapsedSeconds": 3}));
    script.push(if_node(
        0,
        serde_json::json!({"type": "publish", "messageID": 1, "messageSizeBytes": 64, "topicID": "t"}),
    ));
    script.push(serde_json::json!({"type": "waitUntil", "elapsedSeconds": 4}));
    let dir = write_dir("delay", &gnode, &script);
    let out = dir.join("out");
    let o = meshsim(&[
        "interop",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = delivery_latencies(&out, 0);
    let at = |p: u32| got.iter().find(|(q, _)| *q == p).map(|x| x.1).unwrap();
    assert!(at(1) >= 2.0 && at(1) < 10.0, "node 1: {got:?}");
    assert!(
        at(2) >= 104.0 && at(2) < 115.0,
        "node 2 waits for node 1's validation: {got:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unsupported_input_is_a_clear_error_with_exit_code_2() {
    let gnode = [0, 1];
    let script = vec![
        serde_json::json!({"type": "initGossipSub", "gossipSubParams": {"D": 4, "SlowHeartbeatWarning": 0.1, "MaxIHaveLength": 10}}),
        serde_json::json!({"type": "subscribeToTopic", "topicID": "t", "partial": true}),
        serde_json::json!({"type": "setTopicScoreParams", "topicID": "t"}),
        serde_json::json!({"type": "waitUntil", "elapsedSeconds": 1}),
    ];
    let dir = write_dir("unsupported", &gnode, &script);
    let o = meshsim(&["interop", dir.to_str().unwrap(), "--no-write"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for s in [
        "3 unsupported",
        "SlowHeartbeatWarning",
        "MaxIHaveLength",
        "setTopicScoreParams",
    ] {
        assert!(err.contains(s), "stderr should mention {s:?}: {err}");
    }

    // A host on a graph node that does not exist, and invalid D bounds.
    let dir = write_dir("badhost", &[0, 9], &[]);
    let o = meshsim(&["interop", dir.to_str().unwrap(), "--no-write"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("network_node_id 9"));
    let dir = write_dir(
        "badd",
        &[0, 1],
        &[serde_json::json!({"type": "initGossipSub", "gossipSubParams": {"D": 2, "Dlo": 5}})],
    );
    let o = meshsim(&["interop", dir.to_str().unwrap(), "--no-write"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for name in ["unsupported", "badhost", "badd"] {
        let _ = std::fs::remove_dir_all(temp_dir(name));
    }
}

#[test]
fn trailing_publish_counts_no_unreceived_copies_and_is_flagged() {
    // Message 300 is the script's last step: the run ends when it is published.
    let mut script = ring_setup(8);
    script.push(wait_until(5));
    script.push(publish(0, 7, 2048, "a-subnet"));
    script.push(wait_until(6));
    script.push(publish(5, 300, 100, "a-subnet"));
    let dir = write_dir("trailing", &RING_GNODE, &script);
    let (o, out) = run_into(&dir, &[]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let rows = interop_rows(&out);
    assert_eq!(rows[1]["message_id"], "300");
    assert_eq!(rows[1]["delivered"], "0", "{:?}", rows[1]);
    // Copies written but not received by the end are not duplicates.
    assert_eq!(rows[1]["duplicates"], "0", "{:?}", rows[1]);
    assert_eq!(rows[1]["warning"], "late", "{:?}", rows[1]);
    assert_eq!(rows[0]["delivered"], "7", "{:?}", rows[0]);
    assert_eq!(rows[0]["warning"], "", "{:?}", rows[0]);
    // messages.csv agrees: no copy of message 300 was received.
    let m = read_csv(&out.join("messages.csv"));
    assert_eq!(m[1][8], "0", "copies_received of message 300: {:?}", m[1]);
    // The summary and analysis.txt say why it scores 0.
    let warn = stdout
        .lines()
        .find(|l| l.contains("WARNING") && l.contains("before the end"))
        .unwrap_or_else(|| panic!("no late-publish warning: {stdout}"));
    assert!(warn.contains("300") && !warn.contains(" 7 "), "{warn}");
    let analysis = std::fs::read_to_string(out.join("analysis.txt")).unwrap();
    assert!(
        analysis
            .lines()
            .any(|l| l.starts_with("# WARNING") && l.contains("300")),
        "{analysis}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_message_nobody_expects_has_no_reliability() {
    // Message 9 goes to a topic nobody subscribes to; message 7 to the ring's topic.
    let mut script = ring_setup(8);
    script.push(wait_until(5));
    script.push(publish(0, 7, 64, "a-subnet"));
    script.push(publish(2, 9, 64, "nobody"));
    script.push(wait_until(7));
    let dir = write_dir("nobody", &RING_GNODE, &script);
    let (o, out) = run_into(&dir, &[]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let rows = interop_rows(&out);
    let r = rows.iter().find(|r| r["message_id"] == "9").unwrap();
    assert_eq!(r["expected"], "0", "{r:?}");
    assert_eq!(r["reliability"], "", "n/a, not 1: {r:?}");
    assert_eq!(r["reached"], "0", "{r:?}");
    assert_eq!(r["warning"], "no_receiver", "{r:?}");
    // The overall figure is over the messages somebody expected.
    assert!(
        stdout.contains("reliability           1.0000  (7 of 7 deliveries, 2 messages)"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("WARNING") && l.contains("no subscriber") && l.contains('9')),
        "{stdout}"
    );
    let row9 = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("9  nobody"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(row9.contains("n/a"), "{row9}");
    let analysis = std::fs::read_to_string(out.join("analysis.txt")).unwrap();
    assert!(
        analysis
            .lines()
            .any(|l| l.starts_with("# WARNING") && l.contains("no subscriber") && l.contains('9')),
        "{analysis}"
    );
    let j = meshsim(&["interop", dir.to_str().unwrap(), "--no-write", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    let m9 = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["message_id"] == 9)
        .unwrap();
    assert!(m9["reliability"].is_null(), "{m9}");
    assert_eq!(v["reliability"], 1.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn nothing_published_before_stop_time_is_na_with_a_warning() {
    let mut script = ring_setup(8);
    script.push(wait_until(5));
    script.push(publish(0, 7, 64, "a-subnet"));
    script.push(wait_until(6));
    let dir = write_dir("early-stop", &RING_GNODE, &script);
    std::fs::write(
        dir.join("shadow.yaml"),
        shadow_yaml_with_stop(&RING_GNODE, "3 s"),
    )
    .unwrap();
    let o = meshsim(&["interop", dir.to_str().unwrap(), "--no-write"]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("  reliability           n/a  (0 of 0 deliveries, 0 messages)"),
        "{stdout}"
    );
    assert!(stdout.contains("latency ms            n/a"), "{stdout}");
    let warn = stdout
        .lines()
        .find(|l| l.contains("WARNING") && l.contains("no message was published"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(warn.contains("stop_time"), "{warn}");
    let j = meshsim(&["interop", dir.to_str().unwrap(), "--no-write", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert!(v["reliability"].is_null(), "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_instruction_for_a_node_that_does_not_exist_is_an_error() {
    let mut script = ring_setup(8);
    script.push(wait_until(5));
    let index = script.len();
    script.push(publish(99, 7, 64, "a-subnet"));
    script.push(wait_until(6));
    let dir = write_dir("node99", &RING_GNODE, &script);
    let o = meshsim(&["interop", dir.to_str().unwrap(), "--no-write"]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    for s in [
        format!("script[{index}]"),
        "nodeID 99".to_string(),
        "0 to 7".to_string(),
    ] {
        assert!(stderr.contains(&s), "stderr should mention {s:?}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_packet_loss_is_printed_as_written() {
    let dir = write_dir("loss", &[0, 1], &[wait_until(1)]);
    std::fs::write(dir.join("graph.gml"), graph_gml_with_loss("1.5")).unwrap();
    let o = meshsim(&["interop", dir.to_str().unwrap(), "--no-write"]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("packet_loss 1.5:"), "{stderr}");
    assert!(!stderr.contains("Num("), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The shipped sample folder (`experiments/interop-sample/`) is what
/// [`sample_script`] and the helpers here generate, and it runs. To
/// regenerate it: `MESHSIM_WRITE_INTEROP_SAMPLE=1 cargo test -p meshsim --test interop shipped`.
#[test]
fn shipped_sample_folder_is_generated_here_and_runs() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop-sample");
    let files = [
        ("graph.gml", graph_gml()),
        ("shadow.yaml", shadow_yaml(&RING_GNODE)),
        (
            "params.json",
            serde_json::to_string_pretty(&serde_json::json!({ "script": sample_script() }))
                .unwrap()
                + "\n",
        ),
    ];
    check_shipped(&sample, &files);
    let o = meshsim(&["interop", sample.to_str().unwrap(), "--no-write"]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("reliability           1.0000  (14 of 14 deliveries, 2 messages)"),
        "{stdout}"
    );
    // A folder without the files points at the sample.
    let empty = temp_dir("empty");
    let o = meshsim(&["interop", empty.to_str().unwrap(), "--no-write"]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("experiments/interop-sample"), "{stderr}");
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn a_node_that_subscribes_after_the_publish_is_not_counted() {
    // Nodes 0 and 1 subscribe to `late` first; node 0 publishes; nodes 2-7
    // subscribe just after. Whatever reaches them later (by gossip, or not
    // at all) counts neither as expected nor as delivered.
    let mut script = ring_setup(8);
    script.push(if_node(
        0,
        serde_json::json!({"type": "subscribeToTopic", "topicID": "late"}),
    ));
    script.push(if_node(
        1,
        serde_json::json!({"type": "subscribeToTopic", "topicID": "late"}),
    ));
    script.push(wait_until(5));
    script.push(publish(0, 11, 64, "late"));
    for n in 2..8 {
        script.push(if_node(
            n,
            serde_json::json!({"type": "subscribeToTopic", "topicID": "late"}),
        ));
    }
    script.push(wait_until(9));
    let dir = write_dir("late-subscribers", &RING_GNODE, &script);
    let (o, out) = run_into(&dir, &[]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let rows = interop_rows(&out);
    let r = rows.iter().find(|r| r["message_id"] == "11").unwrap();
    assert_eq!(r["expected"], "1", "only node 1 was subscribed: {r:?}");
    let delivered: u32 = r["delivered"].parse().unwrap();
    assert!(delivered <= 1, "{r:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Graph node of each of the 16 nodes of the blob sample (three node types).
const BLOB_GNODE: [usize; 16] = [0, 1, 2, 1, 0, 1, 2, 1, 1, 0, 2, 1, 1, 2, 1, 0];

/// 16 nodes, each connecting to the nodes 1, 3 and 7 places on, all
/// subscribed to `blob`; blobs of 96 KiB and 128 KiB (test-plans
/// `subnet-blob-msg` sizes) from four nodes 2 s apart; the end at 16 s.
/// Also the script of the shipped folder `experiments/interop-blob/`.
fn blob_script() -> Vec<serde_json::Value> {
    let n = BLOB_GNODE.len() as u32;
    let mut script = init(n);
    for i in 0..n {
        let to: Vec<u32> = [1, 3, 7].iter().map(|k| (i + k) % n).collect();
        script.push(if_node(
            i,
            serde_json::json!({"type": "connect", "connectTo": to}),
        ));
    }
    script.push(serde_json::json!({"type": "subscribeToTopic", "topicID": "blob"}));
    for (k, (node, size)) in [
        (0u32, 98_304usize),
        (5, 131_072),
        (10, 98_304),
        (15, 131_072),
    ]
    .into_iter()
    .enumerate()
    {
        script.push(wait_until(5 + 2 * k as u64));
        script.push(publish(node, 1000 + k as u64, size, "blob"));
    }
    script.push(wait_until(16));
    script
}

/// The shipped blob folder (`experiments/interop-blob/`) is what
/// [`blob_script`] generates; it runs under the shadow preset by default
/// (and says so), and the tcp model's slow start makes its blobs slower
/// than the ideal model does. To regenerate it:
/// `MESHSIM_WRITE_INTEROP_SAMPLE=1 cargo test -p meshsim --test interop blob`.
#[test]
fn shipped_blob_folder_is_generated_here_and_runs_under_the_shadow_preset() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop-blob");
    let files = [
        ("graph.gml", graph_gml()),
        ("shadow.yaml", shadow_yaml_with_stop(&BLOB_GNODE, "16s")),
        (
            "params.json",
            serde_json::to_string_pretty(&serde_json::json!({ "script": blob_script() })).unwrap()
                + "\n",
        ),
    ];
    check_shipped(&dir, &files);
    let p50 = |transport: &str| {
        let o = meshsim(&[
            "interop",
            dir.to_str().unwrap(),
            "--no-write",
            "--json",
            "--transport",
            transport,
        ]);
        let (stdout, stderr) = text(&o);
        assert!(o.status.success(), "stdout: {stdout}\nstderr: {stderr}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["transport"], transport);
        assert_eq!(v["reliability"], 1.0, "{stdout}");
        v["latency_ms"]["p50"].as_f64().unwrap()
    };
    let (shadow, ideal) = (p50("shadow"), p50("ideal"));
    assert!(shadow > ideal * 1.2, "shadow {shadow} ms, ideal {ideal} ms");
    let o = meshsim(&["interop", dir.to_str().unwrap(), "--no-write"]);
    let (stdout, _) = text(&o);
    assert!(
        stdout.contains("transport             tcp, shadow preset"),
        "{stdout}"
    );
}
