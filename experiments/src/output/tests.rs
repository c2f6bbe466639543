use super::*;
use models::RunSummary;

fn summary() -> RunSummary {
    RunSummary {
        experiment: "t".into(),
        peers: 50,
        sim_seconds: 10.0,
        wall_seconds: 1.0,
        messages_published: 20,
        deliveries: 980,
        deliveries_expected: 980,
        delivery_ratio: 1.0,
        probe_full_delivery_ratio: -1.0,
        ..RunSummary::default()
    }
}

fn msg(
    published_s: f64,
    expected: u32,
    delivered: u32,
    probe: bool,
) -> models::collector::MsgRecord {
    models::collector::MsgRecord {
        publisher: 0,
        topic: 0,
        published_ns: (published_s * 1e9) as u64,
        expected,
        delivered,
        copies: 0,
        latency_max_ns: (published_s * 1e6) as u64,
        probe,
    }
}

/// The (t_s, metric, value) rows of `timeseries.csv`.
fn timeseries(out: &models::RunOutput) -> Vec<(String, String, String)> {
    let files = detail_files("r", out).unwrap();
    let (_, bytes) = files.iter().find(|(n, _)| *n == "timeseries.csv").unwrap();
    let mut r = csv::Reader::from_reader(bytes.as_slice());
    r.records()
        .map(|x| {
            let x = x.unwrap();
            (x[1].to_string(), x[2].to_string(), x[3].to_string())
        })
        .collect()
}

#[test]
fn timeseries_has_one_row_per_time_and_metric() {
    let out = models::RunOutput {
        summary: summary(),
        samples: vec![models::series::Sample {
            t_s: 2.0,
            ..Default::default()
        }],
        // Two probe rounds of three probes each, and workload messages.
        messages: vec![
            msg(2.0, 2, 2, true),
            msg(2.0, 2, 1, true),
            msg(2.0, 2, 2, true),
            msg(2.5, 10, 10, false),
            msg(4.0, 2, 2, true),
            msg(4.0, 0, 0, true),
            msg(4.0, 2, 2, true),
        ],
        ..Default::default()
    };
    let rows = timeseries(&out);
    let mut keys: Vec<(&str, &str)> = rows
        .iter()
        .map(|(t, m, _)| (t.as_str(), m.as_str()))
        .collect();
    let n = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), n, "(t_s, metric) repeats: {rows:?}");
    let get = |t: &str, m: &str| {
        rows.iter()
            .find(|r| r.0 == t && r.1 == m)
            .map(|r| r.2.clone())
    };
    // A round: delivered over expected of all its probe messages, the slowest delivery.
    assert_eq!(
        get("2", "probe_delivery_ratio").as_deref(),
        Some("0.8333333333333334")
    );
    assert_eq!(get("2", "probe_latency_ms_max").as_deref(), Some("2"));
    assert_eq!(get("4", "probe_delivery_ratio").as_deref(), Some("1"));
    assert_eq!(get("2", "delivery_ratio").as_deref(), Some("1"));
}

#[test]
fn probes_line_shows_whenever_there_were_probes() {
    let t = summary_text(&summary(), 1, "tcp, linux preset");
    assert!(
        t.contains("  transport             tcp, linux preset\n"),
        "{t}"
    );
    assert!(!t.contains("probes "), "no probes: {t}");
    let s = RunSummary {
        probe_full_delivery_ratio: 0.0,
        ..summary()
    };
    let t = summary_text(&s, 1, "tcp, linux preset");
    assert!(
        t.contains("  probes                0.000 of probe messages"),
        "{t}"
    );
}

#[test]
fn text_summary_shows_publish_errors_only_when_there_are_some() {
    let ok = summary_text(&summary(), 1, "tcp, linux preset");
    assert!(!ok.contains("publish errors"), "{ok}");
    let s = RunSummary {
        messages_published: 4,
        publish_errors: 4,
        deliveries: 0,
        deliveries_expected: 196,
        delivery_ratio: 0.0,
        ..summary()
    };
    let t = summary_text(&s, 1, "tcp, linux preset");
    assert!(
        t.contains("  publish errors        4 publishes refused by GossipSub"),
        "{t}"
    );
    assert!(
        t.contains("  delivery              0.0000  (0 of 196"),
        "{t}"
    );
    assert!(
        t.contains("  latency ms            n/a (no deliveries)"),
        "{t}"
    );
}

#[test]
fn text_summary_warns_when_nothing_was_published() {
    let s = RunSummary {
        messages_published: 0,
        deliveries: 0,
        deliveries_expected: 0,
        delivery_ratio: 1.0,
        ..summary()
    };
    let t = summary_text(&s, 1, "tcp, linux preset");
    assert!(!t.contains("1.0000"), "no ratio of 1 for nothing: {t}");
    assert!(
        t.contains("  delivery              n/a  (0 of 0 deliveries, 0 messages)"),
        "{t}"
    );
    assert!(
        t.contains("WARNING               no message was published"),
        "{t}"
    );
    // A normal run: the ratio, no warning.
    let t = summary_text(&summary(), 2, "tcp, linux preset");
    assert!(t.contains("  delivery              1.0000  (980 of 980 deliveries, 20 messages)"));
    assert!(t.contains("(2 partitions, one thread each)"));
    assert!(!t.contains("WARNING"), "{t}");
}

#[test]
fn text_summary_tells_no_sync_convergence_event_from_no_convergence() {
    use models::history::metrics::ConvergenceRecord;
    let on = RunSummary {
        history_enabled: true,
        ..summary()
    };
    let t = summary_text(&on, 1, "tcp, linux preset");
    assert!(
        t.contains("sync convergence      n/a (no peer returned"),
        "{t}"
    );
    let stuck = RunSummary {
        convergence: vec![ConvergenceRecord {
            kind: "heal".into(),
            peer: None,
            at_s: 5.0,
            converged_after_s: None,
        }],
        ..on
    };
    let t = summary_text(&stuck, 1, "tcp, linux preset");
    assert!(
        t.contains("sync convergence      NOT CONVERGED after"),
        "{t}"
    );
}

#[test]
fn sync_convergence_cells_are_empty_when_not_applicable() {
    // Sync off (and likewise no return/heal, or not converged): empty cells,
    // which pandas reads as NaN and the sync plots skip, while the counts read 0.
    let cols = run_columns("r", &summary());
    let cell = |k: &str| cols.iter().find(|(c, _)| *c == k).map(|(_, v)| v.as_str());
    assert_eq!(cell("sync_convergence_s"), Some(""));
    assert_eq!(cell("sync_convergence_max_s"), Some(""));
    assert_eq!(cell("syncs"), Some("0"));
    assert_eq!(cell("final_distinct_roots"), Some("0"));
    let on = RunSummary {
        history_enabled: true,
        sync_convergence_s: Some(1.5),
        sync_convergence_max_s: Some(2.5),
        ..summary()
    };
    let cols = run_columns("r", &on);
    let cell = |k: &str| cols.iter().find(|(c, _)| *c == k).map(|(_, v)| v.clone());
    assert_eq!(cell("sync_convergence_s").as_deref(), Some("1.5"));
    assert_eq!(cell("sync_convergence_max_s").as_deref(), Some("2.5"));
}

#[test]
fn sync_event_counts_tell_no_event_from_no_convergence() {
    let rec = |after: Option<f64>| models::history::metrics::ConvergenceRecord {
        kind: "return".into(),
        peer: Some(1),
        at_s: 10.0,
        converged_after_s: after,
    };
    let counts = |s: &RunSummary| {
        let cols = run_columns("r", s);
        let cell = |k: &str| {
            cols.iter()
                .find(|(c, _)| *c == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        (cell("sync_events"), cell("sync_unconverged"))
    };
    // No return or heal: 0 events; one that converged and one that did not.
    assert_eq!(counts(&summary()), ("0".into(), "0".into()));
    let s = RunSummary {
        history_enabled: true,
        convergence: vec![rec(Some(1.0)), rec(None)],
        sync_events: 2,
        sync_unconverged: 1,
        ..summary()
    };
    assert_eq!(counts(&s), ("2".into(), "1".into()));
    // The same two numbers are in the JSON summary.
    let j = serde_json::to_value(&s).unwrap();
    assert_eq!(
        (j["sync_events"].as_u64(), j["sync_unconverged"].as_u64()),
        (Some(2), Some(1))
    );
}
