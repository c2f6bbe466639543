//! Links: latency, conditions (degradations), bandwidth, reachability and network partitions.

use super::{pair, LinkCondition, World};

impl World {
    /// Sets the latency of the link between `a` and `b` (overrides the model).
    pub fn set_link_latency_ns(&mut self, a: u32, b: u32, ns: u64) {
        self.link_overrides.insert(pair(a, b), ns);
    }

    /// The one-way latency between `a` and `b`, drawing it on first use.
    pub fn latency_ns(&mut self, a: u32, b: u32) -> u64 {
        let p = pair(a, b);
        if let Some(&ns) = self.link_overrides.get(&p) {
            return ns;
        }
        if let Some(&ns) = self.links.get(&p) {
            return ns;
        }
        let (na, nb) = (&self.nodes[p.0 as usize], &self.nodes[p.1 as usize]);
        let region_ms = match (na.region, nb.region) {
            (Some(ra), Some(rb)) => self
                .cfg
                .region_latency_ms
                .get(ra as usize)
                .and_then(|row| row.get(rb as usize))
                .copied(),
            _ => None,
        };
        let ns = match region_ms {
            Some(ms) => crate::latency::ms_to_ns(ms),
            None => {
                let classes = (na.class.min(nb.class), na.class.max(nb.class));
                let model = self
                    .cfg
                    .class_latency
                    .get(&classes)
                    .unwrap_or(&self.cfg.latency);
                let mut rng = self
                    .seeds
                    .stream_at("links", (u64::from(p.0) << 32) | u64::from(p.1));
                model.sample_ns(&mut rng)
            }
        };
        self.links.insert(p, ns);
        ns
    }

    /// Sets (or with `None` clears) a condition on the link between `a` and `b`.
    pub fn set_link_condition(&mut self, a: u32, b: u32, c: Option<LinkCondition>) {
        match c {
            Some(c) => self.link_conditions.insert(pair(a, b), c),
            None => self.link_conditions.remove(&pair(a, b)),
        };
    }

    /// Sets (or clears) a condition on every link of `node`.
    pub fn set_node_condition(&mut self, node: u32, c: Option<LinkCondition>) {
        match c {
            Some(c) => self.node_conditions.insert(node, c),
            None => self.node_conditions.remove(&node),
        };
        if self.cfg.tcp.is_some() {
            self.tcp_rate_changed(node);
        }
    }

    /// Sets `node`'s bandwidth in bits per second (`None`: unlimited).
    pub fn set_bandwidth(&mut self, node: u32, up_bps: Option<u64>, down_bps: Option<u64>) {
        let n = &mut self.nodes[node as usize];
        n.up_bps = up_bps.map(|b| b.max(1));
        n.down_bps = down_bps.map(|b| b.max(1));
    }

    /// Makes `node`'s address reachable or not (an unreachable address swallows dials).
    pub fn set_reachable(&mut self, node: u32, reachable: bool) {
        self.nodes[node as usize].reachable = reachable;
    }

    /// Splits the network into groups (one group id per node): every open
    /// connection between groups is lost, and dials between groups get no
    /// answer until [`World::heal_partition`].
    pub fn partition(&mut self, groups: &[u16]) {
        for (n, &g) in self.nodes.iter_mut().zip(groups) {
            n.group = g;
        }
        self.partitioned = true;
        let lost: Vec<u32> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                self.nodes[c.nodes[0] as usize].group != self.nodes[c.nodes[1] as usize].group
                    && c.closed_at.iter().any(Option::is_none)
            })
            .map(|(k, _)| k as u32)
            .collect();
        for c in lost {
            self.lose_conn(c);
        }
    }

    /// Ends a partition.
    pub fn heal_partition(&mut self) {
        self.partitioned = false;
        for n in &mut self.nodes {
            n.group = 0;
        }
    }

    pub(super) fn separated(&self, a: u32, b: u32) -> bool {
        self.partitioned && self.nodes[a as usize].group != self.nodes[b as usize].group
    }

    pub(super) fn condition(&self, a: u32, b: u32) -> LinkCondition {
        let mut c = LinkCondition {
            extra_latency_ns: 0,
            loss: self.cfg.loss,
            bandwidth_factor: 1.0,
        };
        if self.link_conditions.is_empty() && self.node_conditions.is_empty() {
            return c;
        }
        for x in [
            self.link_conditions.get(&pair(a, b)),
            self.node_conditions.get(&a),
            self.node_conditions.get(&b),
        ]
        .into_iter()
        .flatten()
        {
            c.extra_latency_ns += x.extra_latency_ns;
            c.loss = 1.0 - (1.0 - c.loss) * (1.0 - x.loss.clamp(0.0, 1.0));
        }
        c
    }

    pub(super) fn bandwidth_factor(&self, node: u32) -> f64 {
        self.node_conditions.get(&node).map_or(1.0, |c| {
            if c.bandwidth_factor > 0.0 {
                c.bandwidth_factor
            } else {
                1.0
            }
        })
    }
}
