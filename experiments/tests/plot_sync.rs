//! History-sync plots: round trips vs entries fetched (from syncs.csv) and
//! sync metrics vs a swept parameter.

use std::fmt::Write as _;

#[test]
fn sync_plots_render_from_small_csvs() {
    let dir = std::env::temp_dir().join(format!("meshsim-plot-sync-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut runs = String::from(
        "run_id,point_id,workload.rate_per_s,experiment,seed,peers,delivery_ratio,latency_ms_p99,duplicates_per_delivery,bytes_sent_per_peer,syncs,sync_convergence_s,sync_round_trips_p50,sync_bytes_received,messages_recovered_by_sync\n",
    );
    let mut syncs = String::from("run_id,client,server,trigger,outcome,started_s,duration_ms,round_trips,bytes_sent,bytes_received,entries_fetched\n");
    for (p, rate) in [(0, 1.0), (1, 4.0)] {
        for k in 0..2 {
            let id = format!("p{p:04}-s{k:03}");
            writeln!(
                runs,
                "{id},{p},{rate},h,{k},20,1,150,3,1000,3,{},5,4000,{}",
                0.5 + rate * 0.1 + f64::from(k) * 0.05,
                10 * (p + 1)
            )
            .unwrap();
            for e in [10, 20, 40] {
                writeln!(
                    syncs,
                    "{id},1,2,rejoin,complete,10,300,{},100,2000,{}",
                    3 + e / 10 + p,
                    e * (p + 1)
                )
                .unwrap();
            }
        }
    }
    std::fs::write(dir.join("runs.csv"), runs).unwrap();
    std::fs::write(dir.join("syncs.csv"), syncs).unwrap();
    let infos = meshsim::plot::plot_dir(&dir).unwrap();
    let names: Vec<&str> = infos.iter().map(|i| i.name.as_str()).collect();
    assert!(names.contains(&"sync_rpcs_vs_entries"), "{names:?}");
    assert!(names.contains(&"sync_vs_rate_per_s"), "{names:?}");
    let svg = std::fs::read_to_string(dir.join("plots/sync_rpcs_vs_entries.svg")).unwrap();
    roxmltree::Document::parse(&svg).expect("well-formed SVG");
    assert!(svg.contains("round trips") && svg.contains("entries fetched"));
    assert!(
        svg.contains("rate_per_s=1") && svg.contains("rate_per_s=4"),
        "one series per point"
    );
    let svg = std::fs::read_to_string(dir.join("plots/sync_vs_rate_per_s.svg")).unwrap();
    assert!(svg.contains("sync convergence"), "panel titled by metric");
    let png = std::fs::read(dir.join("plots/sync_rpcs_vs_entries.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}
