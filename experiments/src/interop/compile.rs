//! Compiling a folder's three files into a [`Scenario`]: each node's timed
//! operations, its GossipSub settings, and a link per connecting pair.

use super::gml::{parse_graph, Graph};
use super::params::{parse_params, Instr};
use super::shadow::{parse_shadow, Shadow};
use super::{bad, InteropError};
use models::interop::{Op, OpKind, PairLink, Scenario};
use models::spec::GossipsubSpec;
use std::collections::BTreeMap;
use std::path::Path;

/// Reads `DIR/params.json`, `DIR/shadow.yaml` and the graph it names (default `DIR/graph.gml`).
pub fn load_dir(dir: &Path) -> Result<Scenario, InteropError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| {
            bad(format!(
                "cannot read {}: {e} (a sample folder: experiments/interop-sample/ in the meshsim repository)",
                p.display()
            ))
        })
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
    let layout = models::partial::Layout::TEST_PLANS;
    for (i, ins) in script.iter().enumerate() {
        let mut ins = ins;
        while let Instr::IfNodeIdEquals(id, inner) = ins {
            if *id >= n {
                return Err(bad(format!(
                    "params.json: script[{i}]: ifNodeIDEquals nodeID {id}: no such node (shadow.yaml has {n} hosts, node ids 0 to {})",
                    n - 1
                )));
            }
            ins = inner;
        }
    }
    for node in 0..n as u32 {
        let mut t = 0u64;
        let mut order = 0usize;
        // Topics subscribed without and with partial messages; groups held.
        let mut plain: Vec<String> = Vec::new();
        let mut held: Vec<(String, u64)> = Vec::new();
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
                Instr::Subscribe(s) => {
                    plain.push(s.clone());
                    OpKind::Subscribe(topic(s))
                }
                Instr::SubscribePartial(s) => OpKind::SubscribePartial {
                    topic: topic(s),
                    requests: true,
                },
                Instr::AddPartial {
                    parts,
                    topic: s,
                    group,
                } => {
                    held.push((s.clone(), *group));
                    OpKind::AddParts {
                        topic: topic(s),
                        group: *group,
                        bits: vec![*parts; layout.bitmap_bytes()],
                    }
                }
                Instr::PublishPartial { topic: s, group } => {
                    if plain.contains(s) {
                        return Err(bad(format!(
                            "params.json: node {node} publishes a partial message on topic `{s}`, which it subscribed to without partial messages: subscribe with `\"partial\": true` (GossipSub enables partial messages on a topic only before subscribing to it)"
                        )));
                    }
                    if !held.contains(&(s.clone(), *group)) {
                        return Err(bad(format!(
                            "params.json: node {node} publishes group {group} of topic `{s}` before any addPartialMessage of that group: it holds nothing to publish (the framework's node stops with an error)"
                        )));
                    }
                    OpKind::PublishParts {
                        topic: topic(s),
                        group: *group,
                    }
                }
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
    let mut paths: BTreeMap<usize, Vec<Option<(u64, f64)>>> = BTreeMap::new();
    let mut path = |x: usize, y: usize| paths.entry(x).or_insert_with(|| graph.paths_from(x))[y];
    for (_, a, _, k) in &ops {
        let OpKind::Connect(b) = k else { continue };
        let (a, b) = (*a.min(b), *a.max(b));
        if links.contains_key(&(a, b)) {
            continue;
        }
        let (ga, gb) = (gnode[a as usize], gnode[b as usize]);
        let (ab, ba) = (path(ga, gb), path(gb, ga));
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
                latency_ns: ((u128::from(lab) + u128::from(lba)) / 2) as u64,
                loss: 1.0 - (pab + pba) / 2.0,
            },
        );
    }
    // At one instant, a node's partial publish and what follows it in its
    // script come after every other node's operations before theirs: each
    // node has added its parts by then, as in the framework, where every
    // node runs its own script (what a receiver lacks at the publish is
    // then what it lacks), and each node's own order is kept.
    let mut late = vec![false; ops.len()];
    let mut publishing: Option<(u32, u64)> = None;
    for (i, (t, node, _, k)) in ops.iter().enumerate() {
        if publishing == Some((*node, *t)) {
            late[i] = true;
        } else if matches!(k, OpKind::PublishParts { .. }) {
            publishing = Some((*node, *t));
            late[i] = true;
        }
    }
    let mut ops: Vec<_> = ops.into_iter().zip(late).collect();
    ops.sort_by_key(|((t, node, order, _), late)| (*t, *late, *node, *order));
    let ops: Vec<(u64, u32, usize, OpKind)> = ops.into_iter().map(|(o, _)| o).collect();
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
        transport: models::interop::shadow_transport(),
        layout: models::partial::Layout::TEST_PLANS,
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
        let d = GossipsubSpec::default()
            .to_config(false)
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
        if let Err(e) = merged.validate() {
            return Err(bad(format!(
                "params.json: initGossipSub of node {i}: {e} (as meshsim's experiment key)"
            )));
        }
        if let Err(e) = merged.to_config(false) {
            return Err(bad(format!(
                "params.json: initGossipSub of node {i}: libp2p-gossipsub refuses the parameters: {e}"
            )));
        }
    }
    Ok(())
}
