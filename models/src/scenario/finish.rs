//! The end of a run: final meshes, per-peer rows and the summary.

use super::Sim;
use crate::summary::RunSummary;
use crate::trace::Rec;
use std::collections::BTreeSet;

/// One peer at the end of a run (`peers.csv`).
#[derive(Clone, Debug, Default)]
pub struct PeerRow {
    /// Class name (empty without classes).
    pub class: String,
    /// Region name (empty without regions).
    pub region: String,
    /// Up at the end?
    pub up: bool,
    /// Mesh size on topic 0 at the end.
    pub mesh_degree: u32,
    /// Connections at the end.
    pub connections: u32,
    /// Seconds it spent without mesh peers on topic 0 while up (sampled).
    pub isolated_s: f64,
    /// Wire counters.
    pub wire: crate::collector::PeerCounters,
    /// Bytes written on all substreams (GossipSub, negotiation, history).
    pub bytes_sent: u64,
    /// Bytes delivered to it on all substreams.
    pub bytes_received: u64,
}

impl Sim {
    /// One row per peer for `peers.csv`.
    pub fn peer_rows(&mut self) -> Vec<PeerRow> {
        let spec = self.driver.spec.clone();
        let region_names = spec
            .network
            .regions
            .as_ref()
            .map(|r| r.table().0)
            .unwrap_or_default();
        let counters = self.driver.collector.borrow().peers.clone();
        let isolated = self.driver.collector.borrow().isolated_s.clone();
        let nodes: Vec<(u16, Option<u16>, u64, u64)> = sim::world::with(|w| {
            w.nodes
                .iter()
                .map(|n| (n.class, n.region, n.bytes_sent, n.bytes_received))
                .collect()
        });
        let mut rows = Vec::with_capacity(spec.peers as usize);
        for p in 0..spec.peers {
            let (class, region, sent, received) = nodes[p as usize];
            let mesh_degree = self.mesh(p, 0).len() as u32;
            let swarm = self.engine.nodes[p as usize].swarm.as_ref();
            rows.push(PeerRow {
                class: spec
                    .classes
                    .get(class as usize)
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                region: region
                    .and_then(|r| region_names.get(r as usize).cloned())
                    .unwrap_or_default(),
                up: swarm.is_some(),
                mesh_degree,
                connections: swarm.map_or(0, |s| s.connected_peers().count() as u32),
                wire: counters.get(p as usize).copied().unwrap_or_default(),
                isolated_s: isolated.get(p as usize).copied().unwrap_or(0.0),
                bytes_sent: sent,
                bytes_received: received,
            });
        }
        rows
    }

    /// GossipSub's Prometheus metrics of every peer (all incarnations), summed.
    pub fn prometheus_text(&self) -> String {
        let texts = self.prometheus_texts();
        crate::prom::aggregate(texts.iter().map(String::as_str), self.engine.nodes.len())
    }

    /// Every peer's Prometheus metrics (all incarnations), one text each.
    pub(super) fn prometheus_texts(&self) -> Vec<String> {
        let mut texts: Vec<String> = Vec::new();
        for p in &self.engine.nodes {
            texts.extend(p.metrics_history.iter().cloned());
            if let Some(r) = &p.registry {
                texts.push(crate::prom::encode(r));
            }
        }
        texts
    }

    /// Ends the run: records final meshes into the trace and summarises.
    pub fn finish(self) -> RunSummary {
        self.finish_with(true)
    }

    /// Like [`Sim::finish`]; with `teardown = false` the network (every
    /// swarm, connection and stream) is not freed but left to the process's
    /// exit. Freeing 10,000 swarms' small allocations costs about 2 s: worth
    /// skipping in a process that exits after one run, never in a sweep.
    pub fn finish_with(mut self, teardown: bool) -> RunSummary {
        let summary = self.summarise();
        if !teardown {
            std::mem::forget(self);
        }
        summary
    }

    /// Records every final mesh into the trace (peers simulated here) and
    /// returns the mesh sizes of their live subscribed peers.
    pub(super) fn record_final_meshes(&mut self) -> Vec<u32> {
        let mut degrees = Vec::new();
        for t in 0..self.driver.spec.workload.topics as usize {
            let subs: BTreeSet<u32> = self.driver.subscribers[t].iter().copied().collect();
            for p in 0..self.driver.spec.peers {
                if self.engine.nodes[p as usize].is_remote() {
                    continue;
                }
                let mesh = self.mesh(p, t);
                if subs.contains(&p) && self.engine.nodes[p as usize].is_up() {
                    degrees.push(mesh.len() as u32);
                }
                let mut c = self.driver.collector.borrow_mut();
                for m in mesh {
                    c.record(Rec::Mesh, (u64::from(p) << 32) | t as u64, u64::from(m));
                }
            }
        }
        degrees
    }

    /// The dialers' counters (dials, failures, given up, learned by PX) of
    /// the peers' current incarnations.
    pub(super) fn dialer_counts(&self) -> [u64; 4] {
        let mut dialer = [0u64; 4];
        for node in &self.engine.nodes {
            if let Some(d) = node
                .swarm
                .as_ref()
                .and_then(|s| s.behaviour().dialer.as_ref())
            {
                dialer[0] += d.stats.dials;
                dialer[1] += d.stats.failures;
                dialer[2] += d.stats.given_up;
                dialer[3] += d.stats.px_learned;
            }
        }
        dialer
    }

    pub(super) fn summarise(&mut self) -> RunSummary {
        let degrees = self.record_final_meshes();
        let bytes_sent: Vec<u64> =
            sim::world::with(|w| w.nodes.iter().map(|n| n.bytes_sent).collect());
        let c = self.driver.collector.borrow();
        let mut summary = RunSummary::build(
            &self.driver.spec,
            self.seed,
            &c,
            &degrees,
            &bytes_sent,
            self.engine.stats,
            self.initial_components,
            self.engine.now_ns(),
        );
        set_dialer_counts(&mut summary, self.dialer_counts());
        let forged = self.forged.get();
        summary.forged_ihave_ids = forged.fake_ihave_ids;
        summary.forged_grafts = forged.backoff_grafts;
        summary
    }
}

/// Puts the dialers' counters (see `Sim::dialer_counts`) into `summary`.
pub(super) fn set_dialer_counts(summary: &mut RunSummary, d: [u64; 4]) {
    summary.dialer_dials = d[0];
    summary.dialer_failures = d[1];
    summary.dialer_given_up = d[2];
    summary.dialer_px_learned = d[3];
}
