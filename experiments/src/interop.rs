//! `meshsim interop DIR`: reads a libp2p test-plans `gossipsub-interop`
//! experiment folder (`params.json`, `graph.gml`, `shadow.yaml`), compiles it
//! into a [`models::interop::Scenario`], runs it, and reports what the
//! framework's analysis reports: reliability, dissemination latency and
//! duplicates per message and overall (`analysis.txt`, `interop.csv`), plus
//! meshsim's usual CSV files.
//!
//! The format is the contract (github.com/libp2p/test-plans, folder
//! `gossipsub-interop`): `script_instruction.py` for the script,
//! `network_graph.py` for the graph and the host mapping.

use anyhow::Context as _;
use models::interop::{Op, OpKind, PairLink, Scenario};
use models::spec::GossipsubSpec;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Bad or unsupported interop input (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InteropError(pub String);

fn bad(msg: impl Into<String>) -> InteropError {
    InteropError(msg.into())
}

// ---------------------------------------------------------------- params.json

/// One script instruction (test-plans `ScriptInstruction`).
#[derive(Clone, Debug, PartialEq)]
pub enum Instr {
    /// `connect`: dial these nodes.
    Connect(Vec<u64>),
    /// `ifNodeIDEquals`: run the instruction on this node only.
    IfNodeIdEquals(u64, Box<Instr>),
    /// `waitUntil`: wait until this many seconds since the start.
    WaitUntil(u64),
    /// `publish`.
    Publish {
        /// `messageID`.
        id: u64,
        /// `messageSizeBytes`.
        size: usize,
        /// `topicID`.
        topic: String,
    },
    /// `subscribeToTopic` (without `partial`).
    Subscribe(String),
    /// `setTopicValidationDelay`.
    ValidationDelay {
        /// `topicID`.
        topic: String,
        /// `delaySeconds`.
        seconds: f64,
    },
    /// `initGossipSub`, mapped onto meshsim's GossipSub settings.
    InitGossipSub(Box<GossipsubSpec>),
}

/// GossipSubParams fields rust-libp2p ignores (the reference node warns and
/// goes on); meshsim refuses them.
const RUST_IGNORES: &[&str] = &[
    "SlowHeartbeatWarning",
    "ConnectionTimeout",
    "DirectConnectTicks",
    "DirectConnectInitialDelay",
    "Connectors",
    "MaxPendingConnections",
    "MaxIDontWantLength",
    "MaxIDontWantMessages",
    "IDontWantMessageTTL",
];

fn get<'a>(
    o: &'a serde_json::Map<String, Value>,
    k: &str,
    at: &str,
) -> Result<&'a Value, InteropError> {
    o.get(k)
        .ok_or_else(|| bad(format!("params.json: {at}: missing field `{k}`")))
}

fn as_u64(v: &Value, at: &str) -> Result<u64, InteropError> {
    v.as_u64().ok_or_else(|| {
        bad(format!(
            "params.json: {at}: expected a non-negative integer, got {v}"
        ))
    })
}

fn as_str<'a>(v: &'a Value, at: &str) -> Result<&'a str, InteropError> {
    v.as_str()
        .ok_or_else(|| bad(format!("params.json: {at}: expected a string, got {v}")))
}

fn as_f64(v: &Value, at: &str) -> Result<f64, InteropError> {
    v.as_f64()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| {
            bad(format!(
                "params.json: {at}: expected a non-negative number, got {v}"
            ))
        })
}

/// Nanoseconds (a test-plans duration) to whole milliseconds.
fn ns_to_ms(v: &Value, at: &str) -> Result<u64, InteropError> {
    Ok((as_f64(v, at)? / 1e6).round() as u64)
}

/// Maps `gossipSubParams` onto meshsim's settings; unsupported fields go to `unsupported`.
fn gossipsub_params(
    v: &Value,
    at: &str,
    unsupported: &mut Vec<String>,
) -> Result<GossipsubSpec, InteropError> {
    let o = v
        .as_object()
        .ok_or_else(|| bad(format!("params.json: {at}: expected an object")))?;
    let mut g = GossipsubSpec::default();
    for (k, v) in o {
        if v.is_null() {
            continue;
        }
        let a = format!("{at}.{k}");
        let us = |v: &Value| as_u64(v, &a).map(|x| x as usize);
        match k.as_str() {
            "D" => g.mesh_n = Some(us(v)?),
            "Dlo" => g.mesh_n_low = Some(us(v)?),
            "Dhi" => g.mesh_n_high = Some(us(v)?),
            "Dscore" => g.retain_scores = Some(us(v)?),
            "Dout" => g.mesh_outbound_min = Some(us(v)?),
            "HistoryLength" => g.history_length = Some(us(v)?),
            "HistoryGossip" => g.history_gossip = Some(us(v)?),
            "Dlazy" => g.gossip_lazy = Some(us(v)?),
            "GossipFactor" => g.gossip_factor = Some(as_f64(v, &a)?),
            "GossipRetransmission" => {
                g.gossip_retransmission = Some(u32::try_from(as_u64(v, &a)?).unwrap_or(u32::MAX))
            }
            "HeartbeatInitialDelay" => {
                g.heartbeat_initial_delay_ns = Some(as_f64(v, &a)?.round() as u64)
            }
            "HeartbeatInterval" => {
                let ms = ns_to_ms(v, &a)?;
                if ms == 0 {
                    return Err(bad(format!(
                        "params.json: {a}: {v} ns is below meshsim's 1 ms resolution for the heartbeat interval"
                    )));
                }
                g.heartbeat_interval_ms = Some(ms);
            }
            "FanoutTTL" => g.fanout_ttl_ms = Some(ns_to_ms(v, &a)?),
            "PrunePeers" => g.prune_peers = Some(us(v)?),
            "PruneBackoff" => g.prune_backoff_ms = Some(ns_to_ms(v, &a)?),
            "UnsubscribeBackoff" => g.unsubscribe_backoff_ms = Some(ns_to_ms(v, &a)?),
            "OpportunisticGraftTicks" => g.opportunistic_graft_ticks = Some(as_u64(v, &a)?),
            "OpportunisticGraftPeers" => g.opportunistic_graft_peers = Some(us(v)?),
            "GraftFloodThreshold" => g.graft_flood_threshold_ms = Some(ns_to_ms(v, &a)?),
            "MaxIHaveMessages" => g.max_ihave_messages = Some(us(v)?),
            "IWantFollowupTime" => g.iwant_followup_time_ms = Some(ns_to_ms(v, &a)?),
            "IDontWantMessageThreshold" => g.idontwant_message_size_threshold = Some(us(v)?),
            "MaxIHaveLength" => unsupported.push(format!(
                "{a}: not available in libp2p-gossipsub 0.50.1 (the crate meshsim runs)"
            )),
            k if RUST_IGNORES.contains(&k) => unsupported.push(format!(
                "{a}: not supported by rust-libp2p (its test-plans node ignores it with a warning)"
            )),
            _ => unsupported.push(format!("{a}: unknown GossipSubParams field")),
        }
    }
    Ok(g)
}

fn instruction(
    v: &Value,
    at: &str,
    unsupported: &mut Vec<String>,
) -> Result<Option<Instr>, InteropError> {
    let o = v
        .as_object()
        .ok_or_else(|| bad(format!("params.json: {at}: expected an instruction object")))?;
    let ty = as_str(get(o, "type", at)?, &format!("{at}.type"))?;
    let f = |k: &str| get(o, k, at);
    let fa = |k: &str| format!("{at}.{k}");
    let i = match ty {
        "connect" => {
            let list = f("connectTo")?.as_array().ok_or_else(|| {
                bad(format!(
                    "params.json: {}: expected a list of node ids",
                    fa("connectTo")
                ))
            })?;
            let ids = list
                .iter()
                .map(|x| as_u64(x, &fa("connectTo")))
                .collect::<Result<Vec<_>, _>>()?;
            Instr::Connect(ids)
        }
        "ifNodeIDEquals" => {
            let id = as_u64(f("nodeID")?, &fa("nodeID"))?;
            match instruction(f("instruction")?, &fa("instruction"), unsupported)? {
                Some(inner) => Instr::IfNodeIdEquals(id, Box::new(inner)),
                None => return Ok(None),
            }
        }
        "waitUntil" => Instr::WaitUntil(as_u64(f("elapsedSeconds")?, &fa("elapsedSeconds"))?),
        "publish" => {
            let size = as_u64(f("messageSizeBytes")?, &fa("messageSizeBytes"))? as usize;
            if size < 8 {
                return Err(bad(format!(
                    "params.json: {}: {size} bytes; at least 8 (the message id)",
                    fa("messageSizeBytes")
                )));
            }
            Instr::Publish {
                id: as_u64(f("messageID")?, &fa("messageID"))?,
                size,
                topic: as_str(f("topicID")?, &fa("topicID"))?.to_string(),
            }
        }
        "subscribeToTopic" => {
            if o.get("partial").and_then(Value::as_bool) == Some(true) {
                unsupported.push(format!(
                    "{}: partial messages (subscribeToTopic with partial = true) are not supported",
                    fa("partial")
                ));
                return Ok(None);
            }
            Instr::Subscribe(as_str(f("topicID")?, &fa("topicID"))?.to_string())
        }
        "setTopicValidationDelay" => Instr::ValidationDelay {
            topic: as_str(f("topicID")?, &fa("topicID"))?.to_string(),
            seconds: as_f64(f("delaySeconds")?, &fa("delaySeconds"))?,
        },
        "initGossipSub" => Instr::InitGossipSub(Box::new(gossipsub_params(
            f("gossipSubParams")?,
            &fa("gossipSubParams"),
            unsupported,
        )?)),
        "addPartialMessage" | "publishPartial" => {
            unsupported.push(format!(
                "{at}: instruction `{ty}`: partial messages are not supported"
            ));
            return Ok(None);
        }
        other => {
            unsupported.push(format!("{at}: unknown instruction type `{other}`"));
            return Ok(None);
        }
    };
    Ok(Some(i))
}

/// Parses `params.json` (`{"script": [...]}`); unsupported instructions and
/// fields are one error that lists them all.
pub fn parse_params(text: &str) -> Result<Vec<Instr>, InteropError> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("params.json: not valid JSON: {e}")))?;
    let script = v
        .get("script")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("params.json: expected an object with a `script` list"))?;
    let mut unsupported = Vec::new();
    let mut out = Vec::new();
    for (i, ins) in script.iter().enumerate() {
        if let Some(x) = instruction(ins, &format!("script[{i}]"), &mut unsupported)? {
            out.push(x);
        }
    }
    if !unsupported.is_empty() {
        const SHOWN: usize = 20;
        let more = unsupported.len().saturating_sub(SHOWN);
        unsupported.truncate(SHOWN);
        if more > 0 {
            unsupported.push(format!("... and {more} more"));
        }
        return Err(bad(format!(
            "params.json: {} unsupported instruction(s) or field(s):\n  {}",
            SHOWN.min(unsupported.len()) + more,
            unsupported.join("\n  ")
        )));
    }
    Ok(out)
}

// ---------------------------------------------------------------- graph.gml

#[derive(Clone, Debug, PartialEq)]
enum Gml {
    Num(f64),
    Str(String),
    List(Vec<(String, Gml)>),
}

fn gml_tokens(text: &str) -> Result<Vec<String>, InteropError> {
    let mut out = Vec::new();
    let mut it = text.chars().peekable();
    while let Some(&c) = it.peek() {
        if c.is_whitespace() {
            it.next();
        } else if c == '#' {
            for c in it.by_ref() {
                if c == '\n' {
                    break;
                }
            }
        } else if c == '[' || c == ']' {
            out.push(c.to_string());
            it.next();
        } else if c == '"' {
            it.next();
            let mut s = String::from("\"");
            loop {
                match it.next() {
                    Some('"') => break,
                    Some(c) => s.push(c),
                    None => return Err(bad("graph.gml: unterminated string")),
                }
            }
            out.push(s);
        } else {
            let mut s = String::new();
            while let Some(&c) = it.peek() {
                if c.is_whitespace() || c == '[' || c == ']' || c == '"' {
                    break;
                }
                s.push(c);
                it.next();
            }
            out.push(s);
        }
    }
    Ok(out)
}

fn gml_list(
    toks: &[String],
    pos: &mut usize,
    nested: bool,
) -> Result<Vec<(String, Gml)>, InteropError> {
    let mut out = Vec::new();
    while *pos < toks.len() {
        let key = &toks[*pos];
        if key == "]" {
            if nested {
                *pos += 1;
                return Ok(out);
            }
            return Err(bad("graph.gml: unbalanced `]`"));
        }
        *pos += 1;
        let val = toks
            .get(*pos)
            .ok_or_else(|| bad(format!("graph.gml: key `{key}` has no value")))?;
        *pos += 1;
        let v = if val == "[" {
            Gml::List(gml_list(toks, pos, true)?)
        } else if let Some(s) = val.strip_prefix('"') {
            Gml::Str(s.to_string())
        } else if let Ok(x) = val.parse::<f64>() {
            Gml::Num(x)
        } else {
            Gml::Str(val.clone())
        };
        out.push((key.clone(), v));
    }
    if nested {
        return Err(bad("graph.gml: missing `]`"));
    }
    Ok(out)
}

/// A Shadow network graph.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// GML node ids, by index.
    pub ids: Vec<i64>,
    /// Labels, by index.
    pub labels: Vec<String>,
    /// (upload, download) bits per second, by index.
    pub bandwidth: Vec<(Option<u64>, Option<u64>)>,
    /// Shortest-path one-way latency (ns) and delivery probability, [from][to].
    pub paths: Vec<Vec<Option<(u64, f64)>>>,
}

/// Shadow bandwidth (`"50 Mbit"`) in bits per second.
pub fn parse_bandwidth(s: &str) -> Result<u64, InteropError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = (s[..split].trim(), s[split..].trim());
    let x: f64 = num
        .parse()
        .map_err(|_| bad(format!("graph.gml: bandwidth `{s}`: no number")))?;
    let mult = match unit {
        "" | "bit" | "b" => 1.0,
        "Kbit" | "kbit" | "kilobit" => 1e3,
        "Mbit" | "mbit" | "megabit" => 1e6,
        "Gbit" | "gbit" | "gigabit" => 1e9,
        "Tbit" | "tbit" | "terabit" => 1e12,
        "Kibit" | "kibibit" => 1024.0,
        "Mibit" | "mebibit" => 1024.0 * 1024.0,
        "Gibit" | "gibibit" => 1024.0 * 1024.0 * 1024.0,
        "B" | "byte" => 8.0,
        "KB" | "kB" | "kilobyte" => 8e3,
        "MB" | "megabyte" => 8e6,
        "GB" | "gigabyte" => 8e9,
        "KiB" => 8.0 * 1024.0,
        "MiB" => 8.0 * 1024.0 * 1024.0,
        "GiB" => 8.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(bad(format!(
                "graph.gml: bandwidth `{s}`: unknown unit `{unit}`"
            )))
        }
    };
    Ok((x * mult).round().max(1.0) as u64)
}

/// A Shadow duration (`"2 ms"`, `"10 min"`) in nanoseconds; a bare number is `bare_unit_ns` each.
pub fn parse_duration(s: &str, bare_unit_ns: Option<f64>) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = (s[..split].trim(), s[split..].trim());
    let x: f64 = num.parse().map_err(|_| format!("`{s}`: no number"))?;
    let mult = match unit {
        "ns" | "nanosecond" | "nanoseconds" => 1.0,
        "us" | "μs" | "microsecond" | "microseconds" => 1e3,
        "ms" | "millisecond" | "milliseconds" => 1e6,
        "s" | "sec" | "secs" | "second" | "seconds" => 1e9,
        "min" | "mins" | "minute" | "minutes" => 60e9,
        "h" | "hr" | "hour" | "hours" => 3600e9,
        "" => {
            bare_unit_ns.ok_or_else(|| format!("`{s}`: a unit is required (for example `ms`)"))?
        }
        _ => return Err(format!("`{s}`: unknown unit `{unit}`")),
    };
    Ok((x * mult).round() as u64)
}

/// Parses a Shadow GML graph and computes shortest paths (Shadow's default routing).
pub fn parse_graph(text: &str) -> Result<Graph, InteropError> {
    let toks = gml_tokens(text)?;
    let mut pos = 0;
    let top = gml_list(&toks, &mut pos, false)?;
    let items = top
        .iter()
        .find_map(|(k, v)| match (k.as_str(), v) {
            ("graph", Gml::List(l)) => Some(l),
            _ => None,
        })
        .ok_or_else(|| bad("graph.gml: no `graph [ ... ]`"))?;
    let directed = items
        .iter()
        .any(|(k, v)| k == "directed" && *v == Gml::Num(1.0));
    let mut g = Graph::default();
    let field =
        |l: &[(String, Gml)], k: &str| l.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    for (k, v) in items {
        if let ("node", Gml::List(l)) = (k.as_str(), v) {
            let id = match field(l, "id") {
                Some(Gml::Num(x)) => x as i64,
                _ => return Err(bad("graph.gml: a node without a numeric `id`")),
            };
            let bw = |key: &str| -> Result<Option<u64>, InteropError> {
                match field(l, key) {
                    Some(Gml::Str(s)) => parse_bandwidth(&s).map(Some),
                    Some(Gml::Num(x)) => Ok(Some(x.round().max(1.0) as u64)),
                    _ => Ok(None),
                }
                .map_err(|e| bad(format!("{e} (node {id}, {key})")))
            };
            let label = match field(l, "label") {
                Some(Gml::Str(s)) => s,
                _ => format!("node {id}"),
            };
            g.ids.push(id);
            g.labels.push(label);
            g.bandwidth
                .push((bw("host_bandwidth_up")?, bw("host_bandwidth_down")?));
        }
    }
    let n = g.ids.len();
    let index: BTreeMap<i64, usize> = g.ids.iter().enumerate().map(|(i, &x)| (x, i)).collect();
    // Direct edges: latency ns, delivery probability.
    let mut dist: Vec<Vec<Option<(u64, f64)>>> = vec![vec![None; n]; n];
    let mut self_loops: Vec<Option<(u64, f64)>> = vec![None; n];
    for (k, v) in items {
        let ("edge", Gml::List(l)) = (k.as_str(), v) else {
            continue;
        };
        let end = |key: &str| -> Result<usize, InteropError> {
            match field(l, key) {
                Some(Gml::Num(x)) => index
                    .get(&(x as i64))
                    .copied()
                    .ok_or_else(|| bad(format!("graph.gml: edge {key} {x} is not a node id"))),
                _ => Err(bad(format!("graph.gml: an edge without a numeric `{key}`"))),
            }
        };
        let (a, b) = (end("source")?, end("target")?);
        let lat = match field(l, "latency") {
            Some(Gml::Str(s)) => parse_duration(&s, None),
            Some(Gml::Num(x)) => parse_duration(&x.to_string(), None),
            _ => Err("missing `latency`".to_string()),
        }
        .map_err(|e| {
            bad(format!(
                "graph.gml: edge {} -> {}: latency {e}",
                g.ids[a], g.ids[b]
            ))
        })?;
        let loss = match field(l, "packet_loss") {
            Some(Gml::Num(x)) if (0.0..1.0).contains(&x) => x,
            None => 0.0,
            Some(other) => {
                return Err(bad(format!(
                    "graph.gml: edge {} -> {}: packet_loss {other:?}: expected a number in [0, 1)",
                    g.ids[a], g.ids[b]
                )))
            }
        };
        let jitter_ok = match field(l, "jitter") {
            None => true,
            Some(Gml::Num(x)) => x == 0.0,
            Some(Gml::Str(s)) => parse_duration(&s, Some(1.0)).is_ok_and(|v| v == 0),
            Some(Gml::List(_)) => false,
        };
        if !jitter_ok {
            return Err(bad(format!(
                "graph.gml: edge {} -> {}: `jitter` is not supported",
                g.ids[a], g.ids[b]
            )));
        }
        let e = Some((lat, 1.0 - loss));
        let mut set = |x: usize, y: usize| {
            if x == y {
                self_loops[x] = e;
            } else if dist[x][y].is_none_or(|(d, _)| lat < d) {
                dist[x][y] = e;
            }
        };
        set(a, b);
        if !directed {
            set(b, a);
        }
    }
    // Floyd-Warshall over the direct edges.
    for k in 0..n {
        let row_k = dist[k].clone();
        for (i, row_i) in dist.iter_mut().enumerate() {
            let Some((dik, pik)) = row_i[k] else {
                continue;
            };
            for (j, via) in row_k.iter().enumerate() {
                if i == j {
                    continue;
                }
                if let Some((dkj, pkj)) = *via {
                    if row_i[j].is_none_or(|(d, _)| dik + dkj < d) {
                        row_i[j] = Some((dik + dkj, pik * pkj));
                    }
                }
            }
        }
    }
    for (i, s) in self_loops.into_iter().enumerate() {
        dist[i][i] = s;
    }
    g.paths = dist;
    Ok(g)
}

// ---------------------------------------------------------------- shadow.yaml

/// The few fields of `shadow.yaml` meshsim needs.
#[derive(Clone, Debug, Default)]
pub struct Shadow {
    /// `general.stop_time`, ns.
    pub stop_ns: Option<u64>,
    /// `network.graph.file.path`.
    pub graph_path: Option<String>,
    /// Host `nodeN` -> GML node id (`network_node_id`), by N.
    pub hosts: BTreeMap<u64, i64>,
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(s)
}

/// Reads `shadow.yaml` (block-style YAML as written by the framework's `yaml.dump`).
pub fn parse_shadow(text: &str) -> Result<Shadow, InteropError> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut values: Vec<(Vec<String>, String)> = Vec::new();
    let mut host_keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for raw in text.lines() {
        let line = match raw.find(" #") {
            Some(i) if !raw[..i].contains('"') && !raw[..i].contains('\'') => &raw[..i],
            _ => raw,
        };
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
            continue;
        }
        let mut indent = line.len() - trimmed.len();
        let mut content = trimmed.trim_end();
        while let Some(rest) = content.strip_prefix("- ") {
            indent += 2;
            content = rest.trim_start();
        }
        let Some((key, value)) = content
            .split_once(": ")
            .or_else(|| content.strip_suffix(':').map(|k| (k, "")))
        else {
            continue; // a list scalar or a continuation line
        };
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let key = unquote(key).to_string();
        let mut path: Vec<String> = stack.iter().map(|(_, k)| k.clone()).collect();
        path.push(key.clone());
        if path.len() == 3 && path[0] == "hosts" {
            host_keys
                .entry(path[1].clone())
                .or_default()
                .push(path[2].clone());
        }
        let value = value.trim();
        if value.is_empty() || value.starts_with('|') || value.starts_with('>') {
            // A section (or a block scalar): recorded, so that its presence can be checked.
            values.push((path, String::new()));
            stack.push((indent, key));
        } else {
            values.push((path, unquote(value).to_string()));
        }
    }
    let find = |p: &[&str]| {
        values
            .iter()
            .find(|(k, _)| k.len() == p.len() && k.iter().zip(p).all(|(a, b)| a == b))
            .map(|(_, v)| v.clone())
    };
    let mut sh = Shadow::default();
    if let Some(t) = find(&["general", "stop_time"]) {
        sh.stop_ns = Some(
            parse_duration(&t, Some(1e9))
                .map_err(|e| bad(format!("shadow.yaml: general.stop_time {e}")))?,
        );
    }
    if let Some(t) = find(&["network", "graph", "type"]) {
        if t != "gml" {
            return Err(bad(format!(
                "shadow.yaml: network.graph.type `{t}` is not supported (only `gml`)"
            )));
        }
    }
    if find(&["network", "graph", "inline"]).is_some()
        || values
            .iter()
            .any(|(k, _)| k.len() >= 3 && k[..3] == ["network", "graph", "inline"])
    {
        return Err(bad(
            "shadow.yaml: network.graph.inline is not supported; use network.graph.file.path",
        ));
    }
    if let Some(c) = find(&["network", "graph", "file", "compression"]) {
        return Err(bad(format!(
            "shadow.yaml: network.graph.file.compression `{c}` is not supported"
        )));
    }
    sh.graph_path = find(&["network", "graph", "file", "path"]);
    let mut unsupported = Vec::new();
    for (name, keys) in &host_keys {
        let id: u64 = name
            .strip_prefix("node")
            .and_then(|x| x.parse().ok())
            .ok_or_else(|| bad(format!("shadow.yaml: host `{name}`: expected `node<N>`")))?;
        for k in keys {
            if k.starts_with("bandwidth") || k == "quantity" || k == "ip_addr" {
                unsupported.push(format!("hosts.{name}.{k}"));
            }
        }
        let nid = find(&["hosts", name, "network_node_id"])
            .ok_or_else(|| bad(format!("shadow.yaml: host `{name}` has no network_node_id")))?;
        let nid: i64 = nid.parse().map_err(|_| {
            bad(format!(
                "shadow.yaml: hosts.{name}.network_node_id `{nid}`: expected an integer"
            ))
        })?;
        sh.hosts.insert(id, nid);
    }
    if !unsupported.is_empty() {
        return Err(bad(format!(
            "shadow.yaml: unsupported host option(s): {}",
            unsupported.join(", ")
        )));
    }
    if sh.hosts.is_empty() {
        return Err(bad("shadow.yaml: no hosts"));
    }
    Ok(sh)
}

// ---------------------------------------------------------------- compile

/// Reads `DIR/params.json`, `DIR/shadow.yaml` and the graph it names (default `DIR/graph.gml`).
pub fn load_dir(dir: &Path) -> Result<Scenario, InteropError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| bad(format!("cannot read {}: {e}", p.display())))
    };
    let params = parse_params(&read(&dir.join("params.json"))?)?;
    let shadow = parse_shadow(&read(&dir.join("shadow.yaml"))?)?;
    // The framework writes the graph next to shadow.yaml; a path elsewhere is tried as given, then beside it.
    let named = shadow.graph_path.as_deref().unwrap_or("graph.gml");
    let candidates = [dir.join(named), dir.join("graph.gml")];
    let gpath = candidates
        .iter()
        .find(|p| p.exists())
        .cloned()
        .unwrap_or_else(|| dir.join("graph.gml"));
    let graph = parse_graph(&read(&gpath)?)?;
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "interop".into());
    compile(&name, &params, &shadow, &graph)
}

/// Compiles a parsed experiment into timed operations.
pub fn compile(
    name: &str,
    script: &[Instr],
    shadow: &Shadow,
    graph: &Graph,
) -> Result<Scenario, InteropError> {
    let n = shadow.hosts.len() as u64;
    if shadow.hosts.keys().copied().ne(0..n) {
        return Err(bad(format!(
            "shadow.yaml: hosts must be node0..node{} (found {})",
            n - 1,
            shadow
                .hosts
                .keys()
                .map(|k| format!("node{k}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let gindex: BTreeMap<i64, usize> = graph.ids.iter().enumerate().map(|(i, &x)| (x, i)).collect();
    let gnode: Vec<usize> = shadow
        .hosts
        .iter()
        .map(|(h, id)| {
            gindex.get(id).copied().ok_or_else(|| {
                bad(format!(
                    "shadow.yaml: node{h}: network_node_id {id} is not a node of the graph"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let mut topics: Vec<String> = Vec::new();
    let mut topic = |t: &str| match topics.iter().position(|x| x == t) {
        Some(i) => i,
        None => {
            topics.push(t.to_string());
            topics.len() - 1
        }
    };
    let mut ops: Vec<(u64, u32, usize, OpKind)> = Vec::new();
    let mut configs: Vec<Option<GossipsubSpec>> = vec![None; n as usize];
    let mut end_ns = 0u64;
    let mut published: BTreeMap<u64, u32> = BTreeMap::new();
    for node in 0..n as u32 {
        let mut t = 0u64;
        let mut order = 0usize;
        for ins in script {
            let mut ins = ins;
            // Nested ifNodeIDEquals: all must match.
            let mut applies = true;
            while let Instr::IfNodeIdEquals(id, inner) = ins {
                applies &= *id == u64::from(node);
                ins = inner;
            }
            if !applies {
                continue;
            }
            order += 1;
            let kind = match ins {
                Instr::IfNodeIdEquals(..) => unreachable!("unwrapped above"),
                Instr::WaitUntil(s) => {
                    t = t.max(s.saturating_mul(1_000_000_000));
                    continue;
                }
                Instr::InitGossipSub(g) => {
                    // As the reference node: the first initGossipSub for this node wins.
                    if configs[node as usize].is_none() {
                        configs[node as usize] = Some((**g).clone());
                    }
                    continue;
                }
                Instr::Connect(to) => {
                    for &x in to {
                        if x >= n {
                            return Err(bad(format!(
                                "params.json: node {node} connects to node {x}, but shadow.yaml has {n} hosts"
                            )));
                        }
                        if x == u64::from(node) {
                            return Err(bad(format!(
                                "params.json: node {node} connects to itself"
                            )));
                        }
                        ops.push((t, node, order, OpKind::Connect(x as u32)));
                        order += 1;
                    }
                    continue;
                }
                Instr::Subscribe(s) => OpKind::Subscribe(topic(s)),
                Instr::ValidationDelay { topic: s, seconds } => OpKind::ValidationDelay {
                    topic: topic(s),
                    delay_ns: (seconds * 1e9).round() as u64,
                },
                Instr::Publish { id, size, topic: s } => {
                    if let Some(p) = published.insert(*id, node) {
                        return Err(bad(format!(
                            "params.json: message id {id} is published twice (nodes {p} and {node}); ids must be unique"
                        )));
                    }
                    OpKind::Publish {
                        id: *id,
                        size: *size,
                        topic: topic(s),
                    }
                }
            };
            ops.push((t, node, order, kind));
        }
        end_ns = end_ns.max(t);
    }
    // Every pair that connects gets the graph's path between its hosts' graph nodes.
    let mut links = BTreeMap::new();
    for (_, a, _, k) in &ops {
        let OpKind::Connect(b) = k else { continue };
        let (a, b) = (*a.min(b), *a.max(b));
        if links.contains_key(&(a, b)) {
            continue;
        }
        let (ga, gb) = (gnode[a as usize], gnode[b as usize]);
        let (ab, ba) = (graph.paths[ga][gb], graph.paths[gb][ga]);
        let (Some((lab, pab)), Some((lba, pba))) = (ab, ba) else {
            return Err(bad(format!(
                "graph.gml: no path between `{}` and `{}` (nodes {a} and {b}){}",
                graph.labels[ga],
                graph.labels[gb],
                if ga == gb {
                    ": a self-loop edge is needed"
                } else {
                    ""
                }
            )));
        };
        // meshsim links are symmetric: the mean of both directions keeps the round trip.
        links.insert(
            (a, b),
            PairLink {
                latency_ns: (lab + lba) / 2,
                loss: 1.0 - (pab + pba) / 2.0,
            },
        );
    }
    ops.sort_by_key(|(t, node, order, _)| (*t, *node, *order));
    let duration_ns = match shadow.stop_ns {
        Some(s) => end_ns.min(s),
        None => end_ns,
    };
    Ok(Scenario {
        name: name.to_string(),
        nodes: n as u32,
        topics,
        ops: ops
            .into_iter()
            .map(|(at_ns, node, _, kind)| Op { at_ns, node, kind })
            .collect(),
        configs: configs.into_iter().map(Option::unwrap_or_default).collect(),
        bandwidth: gnode.iter().map(|&g| graph.bandwidth[g]).collect(),
        links,
        duration_s: duration_ns as f64 / 1e9,
    })
}

/// Checks every node's GossipSub settings as the crate would (bad D bounds and the like).
pub fn check_configs(sc: &Scenario) -> Result<(), InteropError> {
    let base = models::interop::base_gossipsub();
    let mut seen: Vec<&GossipsubSpec> = Vec::new();
    for (i, c) in sc.configs.iter().enumerate() {
        if seen.contains(&c) {
            continue;
        }
        seen.push(c);
        let merged = base.merged(c);
        let d = models::peer::build_gossipsub_config(&GossipsubSpec::default())
            .expect("the crate's defaults are valid");
        let n = merged.mesh_n.unwrap_or(d.mesh_n());
        let lo = merged.mesh_n_low.unwrap_or(d.mesh_n_low());
        let hi = merged.mesh_n_high.unwrap_or(d.mesh_n_high());
        if n == 0 || lo > n || hi < n {
            return Err(bad(format!(
                "params.json: initGossipSub of node {i}: D {n}, Dlo {lo}, Dhi {hi}: need 1 <= D, Dlo <= D <= Dhi"
            )));
        }
        if merged
            .gossip_factor
            .is_some_and(|f| !(0.0..=1.0).contains(&f))
        {
            return Err(bad(format!(
                "params.json: initGossipSub of node {i}: GossipFactor must be from 0 to 1"
            )));
        }
        if let Err(e) = models::peer::build_gossipsub_config(&merged) {
            return Err(bad(format!(
                "params.json: initGossipSub of node {i}: libp2p-gossipsub refuses the parameters: {e}"
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- report

/// Per-message results, comparable with the framework's `analysis.txt`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MessageResult {
    /// Test-plans message id.
    pub message_id: u64,
    /// Topic name.
    pub topic: String,
    /// Publishing node.
    pub publisher: u32,
    /// Publish time, s.
    pub published_s: f64,
    /// Subscribers (other than the publisher) that should receive it.
    pub expected: u32,
    /// Those that did.
    pub delivered: u32,
    /// delivered / expected (1 when nobody was expected).
    pub reliability: f64,
    /// Latency percentiles from the publish, ms (nearest rank): p50, p90, p99, max.
    pub latency_ms: [f64; 4],
    /// Copies received beyond the first, by every node (the publisher included).
    pub duplicates: u64,
    /// duplicates / nodes (the framework's "Avg Duplicate Count").
    pub avg_duplicates: f64,
    /// The framework's "Time to Disseminate": last receipt minus first receipt, s.
    pub spread_s: f64,
    /// The framework's "p50 to Disseminate": receipt number len/2 minus the first, s.
    pub spread_p50_s: f64,
    /// The framework's "Reached percent": receipts / (nodes - 1), at most 1.
    pub reached: f64,
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1] as f64 / 1e6
}

/// Results per message and overall (pooled deliveries).
pub fn message_results(
    sc: &Scenario,
    out: &models::interop::InteropOutput,
) -> (Vec<MessageResult>, MessageResult) {
    let mut lat: Vec<Vec<u64>> = vec![Vec::new(); out.run.messages.len()];
    for &(seq, _, t) in out.run.deliveries.as_deref().unwrap_or(&[]) {
        if let Some(m) = out.run.messages.get(seq as usize) {
            lat[seq as usize].push(t.saturating_sub(m.published_ns));
        }
    }
    let nodes = f64::from(sc.nodes.max(1));
    let mut rows = Vec::new();
    let mut all: Vec<u64> = Vec::new();
    let (mut exp, mut del, mut dup) = (0u64, 0u64, 0u64);
    for (i, m) in out.run.messages.iter().enumerate() {
        let mut l = std::mem::take(&mut lat[i]);
        l.sort_unstable();
        all.extend_from_slice(&l);
        let d = u64::from(m.copies.saturating_sub(m.delivered));
        exp += u64::from(m.expected);
        del += u64::from(m.delivered);
        dup += d;
        rows.push(MessageResult {
            message_id: out.message_ids.get(i).copied().unwrap_or(i as u64),
            topic: sc.topics.get(m.topic as usize).cloned().unwrap_or_default(),
            publisher: m.publisher,
            published_s: m.published_ns as f64 / 1e9,
            expected: m.expected,
            delivered: m.delivered,
            reliability: if m.expected == 0 {
                1.0
            } else {
                f64::from(m.delivered) / f64::from(m.expected)
            },
            latency_ms: [pct(&l, 50.0), pct(&l, 90.0), pct(&l, 99.0), pct(&l, 100.0)],
            duplicates: d,
            avg_duplicates: d as f64 / nodes,
            spread_s: match (l.first(), l.last()) {
                (Some(a), Some(b)) => (b - a) as f64 / 1e9,
                _ => 0.0,
            },
            spread_p50_s: match l.first() {
                Some(a) => (l[l.len() / 2] - a) as f64 / 1e9,
                None => 0.0,
            },
            reached: (l.len() as f64 / (nodes - 1.0).max(1.0)).min(1.0),
        });
    }
    all.sort_unstable();
    let overall = MessageResult {
        message_id: 0,
        topic: String::new(),
        publisher: 0,
        published_s: 0.0,
        expected: exp as u32,
        delivered: del as u32,
        reliability: if exp == 0 {
            1.0
        } else {
            del as f64 / exp as f64
        },
        latency_ms: [
            pct(&all, 50.0),
            pct(&all, 90.0),
            pct(&all, 99.0),
            pct(&all, 100.0),
        ],
        duplicates: dup,
        spread_s: 0.0,
        spread_p50_s: 0.0,
        reached: 0.0,
        avg_duplicates: if rows.is_empty() {
            0.0
        } else {
            dup as f64 / nodes / rows.len() as f64
        },
    };
    (rows, overall)
}

/// `meshsim interop DIR [--out OUT] [--seed N] [--json] [--no-write]`.
pub fn cmd_interop(
    dir: &Path,
    out: Option<PathBuf>,
    seed: u64,
    json: bool,
    no_write: bool,
) -> anyhow::Result<ExitCode> {
    let sc = match load_dir(dir).and_then(|sc| check_configs(&sc).map(|_| sc)) {
        Ok(sc) => sc,
        Err(e) => {
            eprintln!("error: {}: {e}", dir.display());
            return Ok(ExitCode::from(2));
        }
    };
    let wall = std::time::Instant::now();
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
    if json {
        let v = serde_json::json!({
            "experiment": sc.name,
            "seed": seed,
            "nodes": sc.nodes,
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
            "messages": rows,
        });
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!("meshsim interop: {} (seed {seed})", dir.display());
        println!("  nodes                 {}", sc.nodes);
        println!(
            "  simulated / wall      {:.1} s / {:.2} s",
            sc.duration_s, wall_s
        );
        println!(
            "  reliability           {:.4}  ({} of {} deliveries, {} messages)",
            overall.reliability,
            overall.delivered,
            overall.expected,
            rows.len()
        );
        println!(
            "  latency ms            p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
            overall.latency_ms[0],
            overall.latency_ms[1],
            overall.latency_ms[2],
            overall.latency_ms[3]
        );
        println!(
            "  duplicates            {}  ({:.2} per node per message)",
            overall.duplicates, overall.avg_duplicates
        );
        let parts = models::interop::components(&sc);
        if parts > 1 {
            println!("  warning               the connect graph has {parts} components");
        }
        if summary.publish_errors > 0 {
            println!("  publish errors        {}", summary.publish_errors);
        }
        println!("  trace hash            {}", summary.trace_hash);
        println!("  message id  topic  publisher  reliability  p50 ms  p90 ms  p99 ms  max ms  duplicates");
        for r in &rows {
            println!(
                "  {:>10}  {}  {:>9}  {:>11.4}  {:>6.1}  {:>6.1}  {:>6.1}  {:>6.1}  {:>10}",
                r.message_id,
                r.topic,
                r.publisher,
                r.reliability,
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
        write_interop(&odir, &sc, seed, &summary, &output, &rows)
            .with_context(|| format!("writing {}", odir.display()))?;
        if !json {
            println!(
                "  results               {}/ (analysis.txt, interop.csv, runs.csv, messages.csv, deliveries.csv, timeseries.csv)",
                odir.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_interop(
    dir: &Path,
    sc: &Scenario,
    seed: u64,
    summary: &models::RunSummary,
    output: &models::interop::InteropOutput,
    rows: &[MessageResult],
) -> anyhow::Result<()> {
    let run_id = format!("{}-s{seed}", sc.name);
    crate::output::write_atomic(
        &dir.join("runs.csv"),
        &crate::output::runs_csv(&[(run_id.clone(), summary.clone())])?,
    )?;
    let mut detail = output.run.clone();
    detail.summary = summary.clone();
    for (name, bytes) in crate::output::detail_files(&run_id, &detail)? {
        crate::output::write_atomic(&dir.join(name), &bytes)?;
    }
    // The framework's analysis.txt, with its definitions (times from the first receipt).
    let mut a = String::from(
        "Message ID, Time to Disseminate, p50 to Disseminate, Avg Duplicate Count, Reached percent\n",
    );
    for r in rows {
        a.push_str(&format!(
            "{}, {}s, {}s, {}, {}\n",
            r.message_id, r.spread_s, r.spread_p50_s, r.avg_duplicates, r.reached
        ));
    }
    crate::output::write_atomic(&dir.join("analysis.txt"), a.as_bytes())?;
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
    ])?;
    for r in rows {
        w.write_record([
            r.message_id.to_string(),
            r.topic.clone(),
            r.publisher.to_string(),
            r.published_s.to_string(),
            r.expected.to_string(),
            r.delivered.to_string(),
            r.reliability.to_string(),
            r.latency_ms[0].to_string(),
            r.latency_ms[1].to_string(),
            r.latency_ms[2].to_string(),
            r.latency_ms[3].to_string(),
            r.duplicates.to_string(),
            r.avg_duplicates.to_string(),
            r.spread_s.to_string(),
            r.spread_p50_s.to_string(),
            r.reached.to_string(),
        ])?;
    }
    crate::output::write_atomic(&dir.join("interop.csv"), &w.into_inner()?)?;
    let meta = serde_json::json!({
        "meshsim_version": env!("CARGO_PKG_VERSION"),
        "git_commit": crate::output::git_commit(),
        "allocator": crate::alloc::allocator(),
        "interop_dir": sc.name,
        "seed": seed,
        "trace_hash": summary.trace_hash,
    });
    crate::output::write_atomic(
        &dir.join("meta.json"),
        serde_json::to_string_pretty(&meta)?.as_bytes(),
    )?;
    Ok(())
}
