//! `shadow.yaml`: the few fields meshsim needs (stop time, graph file,
//! host to graph node), refusing the options it cannot honour.

use super::units::parse_duration;
use super::{bad, InteropError};
use std::collections::BTreeMap;

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
