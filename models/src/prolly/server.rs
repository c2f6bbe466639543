//! The server side of the sync: a pure function from the local tree and a
//! request to the response.
//!
//! The server keeps no per-sync state, so it answers each request against
//! its tree as it is *now*; the client copes with a tree that changes between
//! two requests (see [`SyncClient`](super::SyncClient)). Stream-level
//! policies, such as aborting a sync after 10 s with
//! [`Response::Abort`], belong to the caller.

use super::wire::{
    entry_len, Request, Response, MAX_KEYS_PER_REQUEST, MAX_KEY_LEN, MAX_MESSAGE_LEN,
    MAX_NODES_PER_RESPONSE, MAX_VALUE_LEN,
};
use super::Tree;

/// Room reserved in a `Values` reply for its tag and count.
const VALUES_HEADER: usize = 1 + 10;

/// Answers one request against `tree`.
///
/// * `GetRoot` -> `Root`, `GetNode` -> `Node` (`None` if absent).
/// * `GetChildren` -> `Children`, empty if the node is absent or a leaf.
/// * `GetValues` -> `Values` in request order, skipping keys the tree lacks
///   and stopping before the reply would exceed
///   [`MAX_MESSAGE_LEN`]; at most [`MAX_KEYS_PER_REQUEST`] entries.
///
/// Entries whose key or value exceeds [`MAX_KEY_LEN`] / [`MAX_VALUE_LEN`]
/// cannot be sent and are treated as absent. Any other reply that cannot
/// respect the wire limits (a run of more than [`MAX_NODES_PER_RESPONSE`]
/// nodes, or a node key longer than [`MAX_KEY_LEN`]; practically impossible
/// for sane keys) is replaced by `Abort { cooldown_ms: 0 }`.
pub fn answer(tree: &Tree, req: &Request) -> Response {
    let resp = match req {
        Request::GetRoot => Response::Root(tree.root()),
        Request::GetNode { level, key } => Response::Node(tree.node(*level, key.as_deref())),
        Request::GetChildren { level, key } => {
            Response::Children(tree.children(*level, key.as_deref()).unwrap_or_default())
        }
        Request::GetValues { keys } => {
            let mut size = VALUES_HEADER;
            let mut entries = Vec::new();
            for k in keys.iter().take(MAX_KEYS_PER_REQUEST) {
                let Some(v) = tree.get(k) else { continue };
                if k.len() > MAX_KEY_LEN || v.len() > MAX_VALUE_LEN {
                    continue; // cannot be sent: treated as absent
                }
                size += entry_len(k, v);
                if size > MAX_MESSAGE_LEN {
                    break;
                }
                entries.push((k.clone(), v.to_vec()));
            }
            Response::Values(entries)
        }
    };
    if within_limits(&resp) {
        resp
    } else {
        Response::Abort { cooldown_ms: 0 }
    }
}

/// Whether the decoder would accept `resp`.
fn within_limits(resp: &Response) -> bool {
    let key_ok = |k: &Option<Vec<u8>>| k.as_ref().is_none_or(|k| k.len() <= MAX_KEY_LEN);
    match resp {
        Response::Root(n) | Response::Node(Some(n)) => key_ok(&n.key),
        Response::Node(None) | Response::Abort { .. } => true,
        Response::Children(nodes) => {
            nodes.len() <= MAX_NODES_PER_RESPONSE
                && nodes.iter().all(|n| key_ok(&n.key))
                && resp.encoded_len() <= MAX_MESSAGE_LEN
        }
        Response::Values(_) => true, // filtered while building
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let t = Tree::from_entries([("a", "foo"), ("b", "bar"), ("c", "baz")]);
        assert_eq!(answer(&t, &Request::GetRoot), Response::Root(t.root()));
        assert_eq!(
            answer(
                &t,
                &Request::GetNode {
                    level: 0,
                    key: Some(b"b".to_vec())
                }
            ),
            Response::Node(t.node(0, Some(b"b")))
        );
        match answer(
            &t,
            &Request::GetChildren {
                level: 1,
                key: None,
            },
        ) {
            Response::Children(c) => assert_eq!(c.len(), 4),
            r => panic!("unexpected {r:?}"),
        }
        assert_eq!(
            answer(
                &t,
                &Request::GetChildren {
                    level: 0,
                    key: None
                }
            ),
            Response::Children(vec![])
        );
        assert_eq!(
            answer(
                &t,
                &Request::GetValues {
                    keys: vec![b"c".to_vec(), b"x".to_vec(), b"a".to_vec()]
                }
            ),
            Response::Values(vec![
                (b"c".to_vec(), b"baz".to_vec()),
                (b"a".to_vec(), b"foo".to_vec())
            ])
        );
    }

    #[test]
    fn values_reply_is_capped() {
        let big = vec![1u8; super::super::wire::MAX_VALUE_LEN];
        let t = Tree::from_entries((0u8..20).map(|i| (vec![i], big.clone())));
        let keys: Vec<Vec<u8>> = (0u8..20).map(|i| vec![i]).collect();
        let Response::Values(v) = answer(&t, &Request::GetValues { keys }) else {
            panic!("expected values")
        };
        assert_eq!(v.len(), 7);
        let resp = Response::Values(v);
        assert!(resp.encoded_len() <= MAX_MESSAGE_LEN);
        assert_eq!(Response::decode(&resp.encode()), Ok(resp));
    }
}
