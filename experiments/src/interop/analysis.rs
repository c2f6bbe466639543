//! The results of a run, as the framework's analysis reports them:
//! reliability, latency and duplicates per message and overall, and the
//! warnings that make them misleading.

use models::interop::Scenario;
use models::summary::percentile;

/// `warning` of a message published less than one largest link latency before the end.
pub const LATE: &str = "late";
/// `warning` of a message no other node was subscribed to when it was published.
pub const NO_RECEIVER: &str = "no_receiver";

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
    /// delivered / expected; `None` (n/a) when nobody was expected.
    pub reliability: Option<f64>,
    /// Latency percentiles from the publish, ms (nearest rank): p50, p90, p99, max.
    pub latency_ms: [f64; 4],
    /// Copies received by the end beyond the first, by every node (the
    /// publisher included: every copy it receives is one).
    pub duplicates: u64,
    /// duplicates / nodes (the framework's "Avg Duplicate Count").
    pub avg_duplicates: f64,
    /// The framework's "Time to Disseminate": last receipt minus first receipt, s.
    pub spread_s: f64,
    /// The framework's "p50 to Disseminate": receipt number len/2 minus the first, s.
    pub spread_p50_s: f64,
    /// The framework's "Reached percent": receipts / (nodes - 1), at most 1.
    pub reached: f64,
    /// Empty, [`NO_RECEIVER`] or [`LATE`] (see [`published_late`]).
    pub warning: &'static str,
}

/// p50, p90, p99 and max of sorted latencies (ns), ms: nearest rank, as
/// `meshsim run`'s latencies.
fn latency_ms(sorted: &[u64]) -> [f64; 4] {
    [50.0, 90.0, 99.0, 100.0].map(|p| percentile(sorted, p) as f64 / 1e6)
}

/// Whether a message published at `published_ns` had less than one largest
/// link latency (between nodes that connect) before the end: too little time
/// to reach every node, so its reliability says more about the script's end
/// than about GossipSub. Such messages are flagged, not left out.
pub fn published_late(sc: &Scenario, published_ns: u64) -> bool {
    sc.end_ns().saturating_sub(published_ns) < sc.max_link_latency_ns().max(1)
}

/// Results per message and overall (pooled deliveries; the overall
/// reliability over the messages somebody expected).
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
    let ratio = |d: u64, e: u64| (e > 0).then(|| d as f64 / e as f64);
    let mut rows = Vec::new();
    let mut all: Vec<u64> = Vec::new();
    let (mut exp, mut del, mut dup) = (0u64, 0u64, 0u64);
    for (i, m) in out.run.messages.iter().enumerate() {
        let mut l = std::mem::take(&mut lat[i]);
        l.sort_unstable();
        all.extend_from_slice(&l);
        // Copies are those received by the end (the run's wire tap leaves out
        // later arrivals), so a message nobody received has none.
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
            reliability: ratio(u64::from(m.delivered), u64::from(m.expected)),
            latency_ms: latency_ms(&l),
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
            warning: if m.expected == 0 {
                NO_RECEIVER
            } else if published_late(sc, m.published_ns) {
                LATE
            } else {
                ""
            },
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
        reliability: ratio(del, exp),
        latency_ms: latency_ms(&all),
        duplicates: dup,
        spread_s: 0.0,
        spread_p50_s: 0.0,
        reached: 0.0,
        avg_duplicates: if rows.is_empty() {
            0.0
        } else {
            dup as f64 / nodes / rows.len() as f64
        },
        warning: "",
    };
    (rows, overall)
}

/// "7, 300" (the first ten, then how many more).
fn id_list(rows: &[&MessageResult]) -> String {
    const SHOWN: usize = 10;
    let mut s = rows
        .iter()
        .take(SHOWN)
        .map(|r| r.message_id.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if rows.len() > SHOWN {
        s.push_str(&format!(" and {} more", rows.len() - SHOWN));
    }
    s
}

/// What makes the numbers of a run misleading, one sentence each: printed
/// as `WARNING` lines in the summary, as `# WARNING:` lines at the end of
/// `analysis.txt`, and as `warnings` in `--json`.
pub fn warnings(sc: &Scenario, rows: &[MessageResult], overall: &MessageResult) -> Vec<String> {
    let mut w = Vec::new();
    let after = sc.publishes_after_end();
    let nothing = "reliability and latency measure nothing";
    if rows.is_empty() {
        w.push(if after > 0 {
            format!(
                "no message was published: the script's {after} publish(es) come after the end (general.stop_time, {} s); {nothing}",
                sc.duration_s
            )
        } else {
            format!("no message was published (the script publishes nothing); {nothing}")
        });
    } else {
        if after > 0 {
            w.push(format!(
                "{after} publish(es) of the script come after the end (general.stop_time, {} s) and were not run",
                sc.duration_s
            ));
        }
        if overall.expected == 0 {
            w.push(format!("no delivery was expected (no node other than the publisher was subscribed to the topic when the messages were published); {nothing}"));
        } else {
            let none: Vec<&MessageResult> =
                rows.iter().filter(|r| r.warning == NO_RECEIVER).collect();
            if !none.is_empty() {
                w.push(format!(
                    "{} message(s) had no subscriber other than the publisher: reliability n/a (left out of the overall figure), Reached percent 0 in analysis.txt; message id(s) {}",
                    none.len(),
                    id_list(&none)
                ));
            }
        }
        let late: Vec<&MessageResult> = rows.iter().filter(|r| r.warning == LATE).collect();
        if !late.is_empty() {
            w.push(format!(
                "{} message(s) published less than {:.1} ms (the largest link latency between connected nodes) before the end had no time to reach every node; their misses count against reliability: message id(s) {}",
                late.len(),
                sc.max_link_latency_ns() as f64 / 1e6,
                id_list(&late)
            ));
        }
    }
    let parts = models::interop::components(sc);
    if parts > 1 {
        w.push(format!(
            "the connect graph has {parts} components (not connected)"
        ));
    }
    w
}

/// The framework's partial-message check (`checks/partial_messages.py`):
/// every node's log must say "All parts received" at least `--count` times,
/// once per group it came to hold whole (from `addPartialMessage` with every
/// part, or from received parts). The framework runs it with the number of
/// groups the scenario publishes (1 for `partial-messages` and
/// `partial-messages-fanout`, 16 for `partial-messages-chain`); meshsim
/// takes that number from the script.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PartialCheck {
    /// Groups published (`publishPartial`): the count each node must reach.
    pub count: u32,
    /// Nodes checked (every node, as the framework checks every host).
    pub nodes: u32,
    /// Nodes with fewer completions than `count`, with theirs.
    pub failing: Vec<(u32, u32)>,
    /// No node is failing.
    pub pass: bool,
}

impl PartialCheck {
    /// One line: PASS or FAIL, and what was checked.
    pub fn line(&self) -> String {
        if self.pass {
            format!(
                "PASS: each of the {} nodes held every part of {} group(s) (the framework's checks/partial_messages.py, --count {})",
                self.nodes, self.count, self.count
            )
        } else {
            let shown: Vec<String> = self
                .failing
                .iter()
                .take(10)
                .map(|(n, c)| format!("node{n} {c}"))
                .collect();
            format!(
                "FAIL: {} of {} nodes held every part of fewer than {} group(s): {}{} (the framework's checks/partial_messages.py, --count {})",
                self.failing.len(),
                self.nodes,
                self.count,
                shown.join(", "),
                if self.failing.len() > 10 { ", ..." } else { "" },
                self.count
            )
        }
    }
}

/// The partial-message check of a run that uses partial messages.
pub fn partial_check(sc: &Scenario, out: &models::interop::InteropOutput) -> Option<PartialCheck> {
    if !sc.uses_partial() {
        return None;
    }
    let count = out.partial_groups;
    let failing: Vec<(u32, u32)> = (0..sc.nodes)
        .map(|n| {
            (
                n,
                out.partial_complete.get(n as usize).copied().unwrap_or(0),
            )
        })
        .filter(|&(_, c)| c < count)
        .collect();
    Some(PartialCheck {
        count,
        nodes: sc.nodes,
        pass: failing.is_empty(),
        failing,
    })
}
