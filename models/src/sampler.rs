//! Periodic measurements during a run: every `measure.sample_interval_ms`
//! the mesh of every live subscriber is sampled, giving the time series of
//! `timeseries.csv` and the mesh convergence time.
//!
//! A subscriber's mesh counts as *converged* when it has at least one
//! subscribed neighbour and holds at least `min(D_lo, subscribed
//! neighbours)` peers: a peer with fewer subscribed neighbours than D_lo
//! cannot do better. `convergence_s` is the time of the
//! first sample from which every later sample is converged: the initial
//! mesh formation time, or the recovery time after the last disruption.

use crate::peer::Peer;
use crate::scores::{ScoreObservations, ScoredPeer};
use crate::series::Sample;
use crate::spec::PeerBehaviourKind;
use libp2p_gossipsub::TopicHash;

/// Takes one sample; adds `interval_s` to `isolated_s[p]` for every live
/// subscriber `p` of topic 0 without mesh peers.
pub fn sample(
    nodes: &[Peer],
    topics: &[TopicHash],
    subscribers: &[Vec<u32>],
    d_lo: usize,
    t_s: f64,
    isolated_s: &mut [f64],
    interval_s: f64,
) -> Sample {
    let mut s = Sample {
        t_s,
        ..Sample::default()
    };
    let mut degree_sum = 0usize;
    let mut degree_n = 0usize;
    for (t, topic) in topics.iter().enumerate() {
        for &p in &subscribers[t] {
            let Some(swarm) = nodes[p as usize].swarm.as_ref() else {
                continue;
            };
            let g = &swarm.behaviour().gossipsub;
            let mesh = g.mesh_peers(topic).count();
            // `all_peers` yields each connected peer once: a count is enough.
            let subscribed_neighbours = g.all_peers().filter(|(_, ts)| ts.contains(&topic)).count();
            degree_sum += mesh;
            degree_n += 1;
            // No subscribed neighbour at all (not yet connected, or cut off) is not converged either.
            if subscribed_neighbours == 0 || mesh < d_lo.min(subscribed_neighbours) {
                s.below_d_lo += 1;
            }
            if mesh == 0 {
                s.isolated_peers += 1;
                // Time isolated: each isolated sample counts for one interval (topic 0 only).
                if t == 0 {
                    if let Some(x) = isolated_s.get_mut(p as usize) {
                        *x += interval_s;
                    }
                }
            }
            if swarm.connected_peers().next().is_none() {
                s.disconnected_peers += 1;
            }
        }
    }
    s.live_peers = nodes.iter().filter(|n| n.swarm.is_some()).count() as u32;
    s.connections = sim::world::with(|w| w.open_connections() as u64);
    s.meshes_sampled = degree_n as u32;
    s.mesh_degree_mean = if degree_n == 0 {
        0.0
    } else {
        degree_sum as f64 / degree_n as f64
    };
    s
}

/// Observes every neighbour of every peer with a swarm here.
pub fn observe_scores(
    nodes: &[Peer],
    index_of: impl Fn(&libp2p_identity::PeerId) -> Option<u32>,
) -> ScoreObservations {
    let n = nodes.len();
    let mut o = ScoreObservations {
        sum: vec![0.0f64; n],
        cnt: vec![0u32; n],
        min: vec![f64::INFINITY; n],
        up: nodes.iter().map(|p| p.is_up()).collect(),
    };
    for node in nodes {
        let Some(swarm) = node.swarm.as_ref() else {
            continue;
        };
        let g = &swarm.behaviour().gossipsub;
        let mut remotes: Vec<u32> = swarm.connected_peers().filter_map(&index_of).collect();
        remotes.sort_unstable();
        remotes.dedup();
        for r in remotes {
            if let Some(sc) = g.peer_score(&nodes[r as usize].peer_id()) {
                o.sum[r as usize] += sc;
                o.cnt[r as usize] += 1;
                o.min[r as usize] = o.min[r as usize].min(sc);
            }
        }
    }
    o
}

/// A peer's behaviour and class, as score metrics group them.
pub fn scored_peer(node: &Peer) -> ScoredPeer {
    let t = node.template();
    ScoredPeer {
        honest: t.behaviour == PeerBehaviourKind::Honest,
        class: t.class,
    }
}

/// Score observability: every live peer's view of its neighbours through
/// GossipSub's `peer_score`, summarised per sample. A peer's score is the
/// mean of the scores its connected neighbours give it. Returns
/// (metric, value) pairs: `score_mean_honest`, `score_min_honest` (lowest
/// score any neighbour gives any honest peer), `score_mean_attacker` (peers
/// with a non-honest behaviour; absent without any), `graylisted_honest`
/// (honest peers some neighbour scores below the graylist threshold) and
/// `score_mean.<class>` per class.
pub fn score_metrics(
    nodes: &[Peer],
    class_names: &[String],
    graylist: f64,
    index_of: impl Fn(&libp2p_identity::PeerId) -> Option<u32>,
) -> Vec<(String, f64)> {
    let obs = observe_scores(nodes, index_of);
    let peers: Vec<ScoredPeer> = nodes.iter().map(scored_peer).collect();
    obs.metrics(&peers, class_names, graylist)
}
