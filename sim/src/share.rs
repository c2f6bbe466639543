//! A link shared fairly by the flows that use it (processor sharing): with
//! `n` flows active, each is served at `capacity / n`. Each flow has a
//! current unit of work (bytes until its next boundary: the end of a
//! write, or of its round's allowance); the link reports when the next
//! unit completes, and which units have completed.
//!
//! Exact in integers: the link keeps the service every active flow has
//! received so far (in bits x 10^9, so that `dt_ns x bits/s / n` needs no
//! rounding but one floor per step), and a unit completes when that service
//! reaches the unit's target. Completion times are rounded up to the
//! nanosecond, so a unit alone on an idle link of `C` bits/s takes exactly
//! `ceil(bytes x 8 x 10^9 / C)` ns, as an unshared link does.

/// A flow's identity (the world's encoding of a connection and direction).
pub type FlowKey = u64;

/// One link (a host's uplink or downlink).
#[derive(Clone, Debug)]
pub struct Share {
    bps: u64,
    /// Service each active flow has received, bits x 10^9.
    served: u128,
    /// When `served` was last brought up to date, ns.
    at_ns: u64,
    /// Active flows in the order they became active, with the service at
    /// which their current unit completes.
    flows: Vec<(FlowKey, u128)>,
}

const SCALE: u128 = 1_000_000_000;

impl Share {
    /// An idle link of `bps` bits per second.
    pub fn new(bps: u64) -> Share {
        Share {
            bps: bps.max(1),
            served: 0,
            at_ns: 0,
            flows: Vec::new(),
        }
    }

    /// Whether no flow is active.
    pub fn is_idle(&self) -> bool {
        self.flows.is_empty()
    }

    /// Active flows.
    pub fn active(&self) -> usize {
        self.flows.len()
    }

    /// Whether `key` is active.
    pub fn contains(&self, key: FlowKey) -> bool {
        self.flows.iter().any(|&(k, _)| k == key)
    }

    /// Brings the service up to `now`.
    pub fn advance(&mut self, now: u64) {
        let dt = now.saturating_sub(self.at_ns);
        if dt > 0 && !self.flows.is_empty() {
            self.served += u128::from(dt) * u128::from(self.bps) / self.flows.len() as u128;
        }
        self.at_ns = self.at_ns.max(now);
    }

    /// Changes the capacity from `now` on.
    pub fn set_bps(&mut self, now: u64, bps: u64) {
        self.advance(now);
        self.bps = bps.max(1);
    }

    /// Flow `key` starts a unit of `bytes` at `now` (it must not be active).
    pub fn add(&mut self, now: u64, key: FlowKey, bytes: u64) {
        self.advance(now);
        debug_assert!(!self.contains(key), "flow {key} is already active");
        let target = self.served + u128::from(bytes) * 8 * SCALE;
        self.flows.push((key, target));
    }

    /// Flow `key` leaves at `now`, its unit unfinished (a closed connection).
    pub fn remove(&mut self, now: u64, key: FlowKey) {
        self.advance(now);
        self.flows.retain(|&(k, _)| k != key);
    }

    /// When the next unit completes, ns (`None`: idle).
    pub fn next_done_ns(&self) -> Option<u64> {
        let target = self.flows.iter().map(|&(_, t)| t).min()?;
        let left = target.saturating_sub(self.served);
        let n = self.flows.len() as u128;
        let dt = (left * n).div_ceil(u128::from(self.bps));
        Some(
            self.at_ns
                .saturating_add(u64::try_from(dt).unwrap_or(u64::MAX)),
        )
    }

    /// The flows whose unit has completed by `now`, in the order they
    /// became active; they are no longer active.
    pub fn take_done(&mut self, now: u64) -> Vec<FlowKey> {
        self.advance(now);
        let served = self.served;
        let mut done = Vec::new();
        self.flows.retain(|&(k, t)| {
            if t <= served {
                done.push(k);
                false
            } else {
                true
            }
        });
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the link until idle; returns each unit's completion time.
    fn drain(s: &mut Share) -> Vec<(FlowKey, u64)> {
        let mut out = Vec::new();
        while let Some(t) = s.next_done_ns() {
            for k in s.take_done(t) {
                out.push((k, t));
            }
        }
        out
    }

    #[test]
    fn one_flow_alone_takes_bytes_over_capacity() {
        let mut s = Share::new(100_000_000);
        s.add(0, 1, 1_000_000);
        // 8e6 bits at 1e8 bit/s: 80 ms.
        assert_eq!(drain(&mut s), vec![(1, 80_000_000)]);
    }

    #[test]
    fn two_equal_flows_each_take_twice_as_long() {
        let mut s = Share::new(50_000_000);
        s.add(0, 1, 1_000_000);
        s.add(0, 2, 1_000_000);
        // 8e6 bits each at 25e6 bit/s: 320 ms, twice 160 ms.
        assert_eq!(drain(&mut s), vec![(1, 320_000_000), (2, 320_000_000)]);
    }

    #[test]
    fn a_flow_that_ends_frees_its_share() {
        let mut s = Share::new(8_000_000_000); // 1 byte/ns
        s.add(0, 1, 100);
        s.add(0, 2, 300);
        // Both at 1/2 byte/ns until 1's 100 bytes are done at 200 ns; then
        // 2 alone for its last 200 bytes: 400 ns.
        assert_eq!(drain(&mut s), vec![(1, 200), (2, 400)]);
        // A flow joining later slows the first down from then on.
        let mut s = Share::new(8_000_000_000);
        s.add(0, 1, 300);
        let t = s.next_done_ns().unwrap();
        assert_eq!(t, 300);
        s.add(100, 2, 100);
        // From 100 ns: 200 bytes left for 1, 100 for 2, each at 1/2:
        // 2 done at 300, then 1 alone: 100 left at 300, done at 400.
        assert_eq!(drain(&mut s), vec![(2, 300), (1, 400)]);
    }

    #[test]
    fn capacity_changes_apply_from_then_on() {
        let mut s = Share::new(8_000_000_000);
        s.add(0, 1, 200);
        s.set_bps(100, 4_000_000_000);
        // 100 bytes by 100 ns, the other 100 at 1/2 byte/ns: 300 ns.
        assert_eq!(drain(&mut s), vec![(1, 300)]);
        let mut s = Share::new(8_000_000_000);
        s.add(0, 1, 200);
        s.remove(50, 1);
        assert!(s.is_idle());
        assert_eq!(s.next_done_ns(), None);
    }
}
