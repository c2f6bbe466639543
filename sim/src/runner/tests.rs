//! Tests of `runner`.

use super::*;

/// A partition that fails stops the others at their next meeting
/// instead of leaving them waiting forever.
#[test]
fn a_failing_partition_stops_the_others() {
    let results = run_partitions(3, NetConfig::default(), 2, EntropyMode::Seeded, |k, ex| {
        if k == 0 {
            panic!("partition 0 fails");
        }
        let mut steps = 0u32;
        loop {
            match ex.step(k) {
                Ok(_) => steps += 1,
                Err(e) => return (steps, e),
            }
        }
    });
    assert!(results[0]
        .as_ref()
        .is_err_and(|m| m.contains("partition 0 fails")));
    let (steps, e) = &results[1].as_ref().expect("partition 1 returns").0;
    assert_eq!(*steps, 0, "no meeting can complete without partition 0");
    assert_eq!(*e, RunError::PartitionStopped);
}

/// A meeting tells every partition the earliest event still to come in
/// any of them (the next window starts from there).
#[test]
fn a_meeting_returns_the_earliest_event_of_every_partition() {
    let results = run_partitions(3, NetConfig::default(), 2, EntropyMode::Seeded, |k, ex| {
        let quiet = ex.step(k).expect("meets");
        if k == 1 {
            world::with(|w| w.queue.push(5_000_000_000, Event::App { node: 1, tag: 0 }));
        }
        (quiet, ex.step(k).expect("meets"))
    });
    for r in results {
        let (quiet, next) = r.expect("no panic").0;
        assert_eq!(quiet, u64::MAX, "nothing pending anywhere");
        assert_eq!(next, 5_000_000_000, "partition 1's event, seen by both");
    }
}

/// Three partitions meet in lock-step: every meeting completes.
#[test]
fn partitions_meet_once_per_window() {
    let results = run_partitions(3, NetConfig::default(), 3, EntropyMode::Seeded, |k, ex| {
        let mut ok = 0;
        for _ in 0..50 {
            if ex.step(k).is_ok() {
                ok += 1;
            }
        }
        ok
    });
    for r in results {
        assert_eq!(r.expect("no panic").0, 50);
    }
}
