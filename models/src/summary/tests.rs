//! Tests of the run summary's derived figures.

use super::*;
use crate::series::Sample;

fn s(below_d_lo: u32, isolated_peers: u32) -> Sample {
    Sample {
        below_d_lo,
        isolated_peers,
        ..Sample::default()
    }
}

#[test]
fn isolated_peers_max_skips_formation_and_keeps_the_end() {
    // Formation (everyone isolated), converged, then a disruption.
    assert_eq!(
        isolated_peers_max(&[s(20, 20), s(0, 0), s(3, 2), s(0, 0)]),
        2
    );
    // Disrupted at the end.
    assert_eq!(isolated_peers_max(&[s(20, 20), s(0, 0), s(5, 5)]), 5);
    // Never converged: the formation samples are skipped, the end is not.
    assert_eq!(isolated_peers_max(&[s(20, 20), s(10, 10), s(10, 7)]), 7);
    assert_eq!(isolated_peers_max(&[]), 0);
}
