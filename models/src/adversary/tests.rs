//! Tests of `adversary`.

use super::*;
use crate::wire::{summarize_rpc, WireDecoder};
use sim::world::WireFilter;

fn framed(msg: &[u8], out: &mut Vec<u8>) {
    uvarint(msg.len() as u64, out);
    out.extend_from_slice(msg);
}

fn subscribe_rpc() -> Vec<u8> {
    let mut sub = Vec::new();
    field(2, b"t", &mut sub);
    let mut rpc = Vec::new();
    field(1, &sub, &mut rpc);
    rpc
}

fn stream_with(rpcs: &[Vec<u8>]) -> Vec<u8> {
    let mut wire = Vec::new();
    framed(b"/multistream/1.0.0\n", &mut wire);
    framed(b"/meshsub/1.2.0\n", &mut wire);
    for r in rpcs {
        framed(r, &mut wire);
    }
    wire
}

fn filter(
    attack: Attack,
    rate: f64,
) -> (WireAdversary, std::rc::Rc<std::cell::Cell<ForgedCounts>>) {
    let counts = std::rc::Rc::new(std::cell::Cell::new(ForgedCounts::default()));
    let f = WireAdversary::new(
        vec![Some(attack), None],
        &[rate, 0.0],
        vec!["t".into()],
        counts.clone(),
    );
    (f, counts)
}

/// Peer 1 echoes the protocol on `stream` (the listener's side).
fn echo(f: &mut WireAdversary, stream: u64) {
    let mut unused = Vec::new();
    assert!(!f.rewrite(1, 0, stream, 0, &stream_with(&[]), &mut unused));
}

#[test]
fn promise_breaker_appends_one_fake_ihave_per_interval_after_real_frames() {
    let (mut f, counts) = filter(Attack::BrokenPromises, 1.0);
    assert!(f.wants(0, 1) && f.wants(1, 0) && !f.wants(1, 1));
    let wire = stream_with(&[subscribe_rpc()]);
    // Before the listener agreed to GossipSub: nothing forged.
    let mut out = Vec::new();
    f.rewrite(0, 1, 6, 0, &wire, &mut out);
    assert_eq!(out, wire);
    // Split anywhere: the forged frame follows the real one, whole.
    for split in 1..wire.len() {
        let (mut f, _) = filter(Attack::BrokenPromises, 1.0);
        echo(&mut f, 7);
        let mut out = Vec::new();
        assert!(f.rewrite(0, 1, 7, 0, &wire[..split], &mut out));
        assert!(f.rewrite(0, 1, 7, 0, &wire[split..], &mut out));
        let mut got = Vec::new();
        WireDecoder::default().feed(7, 0, &out, |s| got.push(s));
        assert_eq!(got.len(), 2, "split at {split}");
        assert_eq!((got[0].subscriptions, got[1].ihave), (1, 1));
    }
    echo(&mut f, 7);
    let mut out = Vec::new();
    f.rewrite(0, 1, 7, 0, &wire, &mut out);
    let mut again = Vec::new();
    framed(&subscribe_rpc(), &mut again);
    // Within the interval: passed through unchanged.
    let mut out2 = Vec::new();
    f.rewrite(0, 1, 7, 500_000_000, &again, &mut out2);
    assert_eq!(out2, again);
    // After it: one more.
    let mut out3 = Vec::new();
    f.rewrite(0, 1, 7, 1_000_000_000, &again, &mut out3);
    assert!(out3.len() > again.len());
    assert_eq!(counts.get().fake_ihave_ids, 2);
    // Negotiation alone forges nothing.
    let mut neg = Vec::new();
    framed(b"/multistream/1.0.0\n", &mut neg);
    let mut out4 = Vec::new();
    f.rewrite(0, 1, 8, 5_000_000_000, &neg, &mut out4);
    assert_eq!(out4, neg);
}

#[test]
fn rate_zero_forges_nothing() {
    let (mut f, counts) = filter(Attack::BrokenPromises, 0.0);
    echo(&mut f, 7);
    let wire = stream_with(&[subscribe_rpc()]);
    let mut out = Vec::new();
    f.rewrite(0, 1, 7, 0, &wire, &mut out);
    assert_eq!(out, wire);
    assert_eq!(counts.get(), ForgedCounts::default());
}

#[test]
fn graft_spammer_grafts_only_where_pruned_and_only_inside_the_backoff() {
    let (mut f, counts) = filter(Attack::GraftDuringBackoff, 1.0);
    echo(&mut f, 1);
    let out_wire = stream_with(&[subscribe_rpc()]);
    let mut out = Vec::new();
    f.rewrite(0, 1, 1, 0, &out_wire, &mut out);
    assert_eq!(out, out_wire, "not pruned yet: nothing forged");
    // Peer 1 writes a PRUNE on "t" with a 10 s backoff at 0; it arrives at 0.1 s.
    let mut prune = Vec::new();
    field(1, b"t", &mut prune);
    prune.extend_from_slice(&[3 << 3, 10]);
    let mut control = Vec::new();
    field(4, &prune, &mut control);
    let mut rpc = Vec::new();
    field(3, &control, &mut rpc);
    let mut unused = Vec::new();
    assert!(!f.rewrite(1, 0, 2, 0, &stream_with(&[rpc]), &mut unused));
    f.delivered(1, 0, 2, 0, 100_000_000);
    assert_eq!(counts.get().prunes_seen, 1);
    let mut again = Vec::new();
    framed(&subscribe_rpc(), &mut again);
    // Not before the PRUNE arrived.
    let mut early = Vec::new();
    f.rewrite(0, 1, 1, 50_000_000, &again, &mut early);
    assert_eq!(early, again);
    let mut out = Vec::new();
    f.rewrite(0, 1, 1, 2_000_000_000, &again, &mut out);
    let s = summarize_rpc(&out[again.len() + 1..]).expect("forged frame decodes");
    assert_eq!(s.graft, 1);
    // Not within a second of the backoff's end (it would arrive after it).
    let mut late = Vec::new();
    f.rewrite(0, 1, 1, 9_500_000_000, &again, &mut late);
    assert_eq!(late, again, "too close to the end of the backoff");
    assert_eq!(counts.get().backoff_grafts, 1);
}
