//! Property tests: incremental tree vs bottom-up rebuild, sync convergence,
//! and decoder robustness.

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

use super::wire::{Request, Response};
use super::{sync_in_memory, Hash, Node, SyncClient, SyncConfig, Tree};

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Distinct random entries (short keys, so some share prefixes).
fn entries(max: usize) -> impl Strategy<Value = Entries> {
    btree_map(vec(any::<u8>(), 0..5), vec(any::<u8>(), 0..4), 0..max)
        .prop_map(|m| m.into_iter().collect())
}

fn insert_all(entries: &Entries) -> Tree {
    let mut t = Tree::new();
    for (k, v) in entries {
        t.insert(k.clone(), v.clone());
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Two random insertion orders give the bottom-up tree, every level.
    #[test]
    fn incremental_matches_rebuild(
        (a, b) in entries(2500).prop_flat_map(|v| (Just(v.clone()).prop_shuffle(), Just(v).prop_shuffle()))
    ) {
        let ta = insert_all(&a);
        let tb = insert_all(&b);
        let built = Tree::from_entries(a.clone());
        prop_assert_eq!(ta.root(), built.root());
        prop_assert_eq!(&ta, &built);
        prop_assert_eq!(&tb, &built);
        for level in 0..=built.height() {
            prop_assert_eq!(ta.level_nodes(level), built.level_nodes(level));
        }
    }

    /// Replacements (and no-op re-inserts) keep the tree canonical, also
    /// when they shrink it.
    #[test]
    fn replacements_match_rebuild(ops in vec((0u16..300, 0u8..3), 0..1500)) {
        let mut t = Tree::new();
        for (i, (k, v)) in ops.iter().enumerate() {
            t.insert(k.to_be_bytes(), [*v]);
            if i % 101 == 0 {
                prop_assert_eq!(&t, &t.rebuild());
            }
        }
        let built = Tree::from_entries(ops.iter().map(|(k, v)| (k.to_be_bytes(), [*v])));
        prop_assert_eq!(&t, &built);
    }

    /// After a sync the client holds the union; if it had a subset of the
    /// server's entries, both roots are equal; equal trees cost one round
    /// trip.
    #[test]
    fn sync_converges(
        keys in vec((any::<u32>(), 0u8..10), 0..3000),
        batch in 1usize..300,
    ) {
        let value = |k: u32| k.wrapping_mul(0x9e37_79b9).to_le_bytes();
        let mk = |f: &dyn Fn(u8) -> bool| {
            Tree::from_entries(keys.iter().filter(|(_, m)| f(*m)).map(|(k, _)| (k.to_be_bytes(), value(*k))))
        };
        let server = mk(&|m| m != 9);
        let mut client = mk(&|m| m < 8 || m == 9);
        let union = mk(&|_| true);
        let config = SyncConfig { max_keys_per_request: batch };
        let stats = sync_in_memory(&mut client, &server, config.clone()).unwrap();
        prop_assert_eq!(stats.stale, 0);
        prop_assert_eq!(&client, &union);
        let mut subset = mk(&|m| m < 8);
        sync_in_memory(&mut subset, &server, config.clone()).unwrap();
        prop_assert_eq!(subset.root(), server.root());
        let mut same = server.clone();
        let stats = sync_in_memory(&mut same, &server, config).unwrap();
        prop_assert_eq!(stats.round_trips, 1);
    }

    /// The client never panics on arbitrary replies, and stays lockstep.
    #[test]
    fn client_survives_garbage(replies in vec(response(), 1..30)) {
        let mut local = Tree::from_entries((0u32..500).map(|i| (i.to_be_bytes(), [1])));
        let mut client = SyncClient::new();
        for resp in replies {
            if client.next_request(&local).is_none() {
                prop_assert!(client.is_done());
                break;
            }
            prop_assert!(client.next_request(&local).is_none());
            let _ = client.on_response(&mut local, resp);
        }
    }

    /// The decoders never panic, and accept only canonical encodings.
    #[test]
    fn decoders_never_panic(bytes in vec(any::<u8>(), 0..400)) {
        if let Ok(r) = Request::decode(&bytes) {
            prop_assert_eq!(r.encode(), bytes.clone());
        }
        if let Ok(r) = Response::decode(&bytes) {
            prop_assert_eq!(r.encode(), bytes);
        }
    }

    /// Valid messages round-trip; damaged ones never panic.
    #[test]
    fn messages_roundtrip_and_survive_damage(
        req in request(),
        resp in response(),
        pos in any::<usize>(),
        byte in any::<u8>(),
    ) {
        for buf in [req.encode(), resp.encode()] {
            let mut flipped = buf.clone();
            if !flipped.is_empty() {
                let i = pos % flipped.len();
                flipped[i] ^= byte | 1;
                let _ = Request::decode(&flipped);
                let _ = Response::decode(&flipped);
                let cut = &buf[..pos % buf.len()];
                let _ = Request::decode(cut);
                let _ = Response::decode(cut);
            }
        }
        prop_assert_eq!(Request::decode(&req.encode()), Ok(req.clone()));
        prop_assert_eq!(req.encode().len(), req.encoded_len());
        prop_assert_eq!(Response::decode(&resp.encode()), Ok(resp.clone()));
        prop_assert_eq!(resp.encode().len(), resp.encoded_len());
    }
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..200)
}

fn node() -> impl Strategy<Value = Node> {
    (any::<u8>(), option::of(key()), any::<Hash>()).prop_map(|(level, key, hash)| Node {
        level,
        key,
        hash,
    })
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(Request::GetRoot),
        (any::<u8>(), option::of(key())).prop_map(|(level, key)| Request::GetNode { level, key }),
        (any::<u8>(), option::of(key()))
            .prop_map(|(level, key)| Request::GetChildren { level, key }),
        vec(key(), 0..20).prop_map(|keys| Request::GetValues { keys }),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        node().prop_map(Response::Root),
        option::of(node()).prop_map(Response::Node),
        vec(node(), 0..20).prop_map(Response::Children),
        vec((key(), vec(any::<u8>(), 0..300)), 0..10).prop_map(Response::Values),
        any::<u64>().prop_map(|cooldown_ms| Response::Abort { cooldown_ms }),
    ]
}
