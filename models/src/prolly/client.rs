//! The client side of the sync: a sans-IO, lockstep state machine.
//!
//! The client pulls the entries it lacks from one server:
//!
//! 1. `GetRoot`. The server's root `(h, None)` is compared with the local
//!    node at the same `(level, key)`; equal hashes mean the client already
//!    holds everything the server has, and the sync ends after one round
//!    trip.
//! 2. Every server node that differs from the local node at the same
//!    `(level, key)` is expanded with `GetChildren`, depth-first, left to
//!    right. Each child is compared in turn: equal subtrees are pruned,
//!    differing internal nodes are expanded later, and leaves (from differing
//!    level-1 nodes) whose key the client lacks are queued as *wanted*.
//! 3. Wanted keys are fetched with `GetValues`, in batches of up to
//!    [`SyncConfig::max_keys_per_request`]: a batch goes out as soon as it is
//!    full, the rest when the walk is over. Each `Values` reply is applied to
//!    the local tree as soon as it arrives, so an aborted sync keeps its
//!    progress.
//!
//! Exactly one request is in flight at a time: [`SyncClient::next_request`]
//! returns `None` until [`SyncClient::on_response`] has been called. Pending
//! nodes and keys are re-checked against the local tree just before they are
//! requested, so entries that arrived meanwhile (e.g. by GossipSub) are not
//! fetched twice.
//!
//! The server answers each request against its tree as it is then, so its
//! tree may change during a sync. A `Children` reply whose hashes do not
//! match the node hash seen earlier, an empty one, a wanted key the server no
//! longer has, or a value that does not match its leaf hash is counted in
//! [`SyncStats::stale`] and the data is still used (peers are honest here):
//! a sync with `stale > 0` may have missed entries added meanwhile, and the
//! caller may simply start another one.
//!
//! Only missing keys are fetched. The log is append-mostly; a key both sides
//! hold with different values is left alone and counted in
//! [`SyncStats::conflicts`] (so two replicas never flip-flop).

use std::collections::BTreeMap;
use std::fmt;

use super::wire::{Request, Response, MAX_KEYS_PER_REQUEST};
use super::{is_boundary, leaf_hash, parent_hash, Hash, Node, Tree};

/// Client settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncConfig {
    /// Keys per `GetValues` request, clamped to `1..=MAX_KEYS_PER_REQUEST`.
    pub max_keys_per_request: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            max_keys_per_request: MAX_KEYS_PER_REQUEST,
        }
    }
}

/// Counters of one sync.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Requests sent (each answered by one response): round trips.
    pub round_trips: u64,
    /// `GetChildren` requests among them.
    pub get_children: u64,
    /// `GetValues` requests among them.
    pub get_values: u64,
    /// Encoded size of the requests sent, in bytes.
    pub bytes_sent: u64,
    /// Encoded size of the responses received, in bytes.
    pub bytes_received: u64,
    /// Entries received and added to the local tree.
    pub entries_fetched: u64,
    /// Replies showing that the server's tree changed during the sync.
    pub stale: u64,
    /// Keys held on both sides with different values (left untouched).
    pub conflicts: u64,
}

/// Why a sync ended early. After an error the client is done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncError {
    /// `on_response` was called with no request in flight.
    NoRequestInFlight,
    /// The response does not answer the request in flight.
    UnexpectedResponse,
    /// The response is structurally invalid.
    InvalidResponse(&'static str),
    /// The server aborted the sync; retry after `cooldown_ms`.
    Aborted {
        /// Delay suggested by the server, in milliseconds.
        cooldown_ms: u64,
    },
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::NoRequestInFlight => write!(f, "no request in flight"),
            SyncError::UnexpectedResponse => write!(f, "response does not match the request"),
            SyncError::InvalidResponse(why) => write!(f, "invalid response: {why}"),
            SyncError::Aborted { cooldown_ms } => {
                write!(f, "aborted by server (cooldown {cooldown_ms} ms)")
            }
        }
    }
}

impl std::error::Error for SyncError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Start,
    Walking,
    Done,
    Failed,
}

/// A server node known to differ from the local one, to be expanded.
#[derive(Clone, Debug)]
struct Pending {
    level: u8,
    key: Option<Vec<u8>>,
    hash: Hash,
}

#[derive(Debug)]
enum InFlight {
    Root,
    Children(Pending),
    Values(Vec<(Vec<u8>, Hash)>),
}

/// Lockstep client state machine of one sync with one server.
#[derive(Debug)]
pub struct SyncClient {
    config: SyncConfig,
    state: State,
    stack: Vec<Pending>,
    wanted: BTreeMap<Vec<u8>, Hash>,
    in_flight: Option<InFlight>,
    stats: SyncStats,
}

impl Default for SyncClient {
    fn default() -> Self {
        Self::new()
    }
}

impl SyncClient {
    /// A client with the default [`SyncConfig`].
    pub fn new() -> Self {
        Self::with_config(SyncConfig::default())
    }

    /// A client with the given settings.
    pub fn with_config(mut config: SyncConfig) -> Self {
        config.max_keys_per_request = config.max_keys_per_request.clamp(1, MAX_KEYS_PER_REQUEST);
        SyncClient {
            config,
            state: State::Start,
            stack: Vec::new(),
            wanted: BTreeMap::new(),
            in_flight: None,
            stats: SyncStats::default(),
        }
    }

    /// Whether the sync is over (finished, aborted or failed).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done | State::Failed)
    }

    /// Whether the sync ended with an error.
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Whether a request awaits its response.
    pub fn is_waiting(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Counters so far.
    pub fn stats(&self) -> &SyncStats {
        &self.stats
    }

    /// The next request to send, or `None` if one is in flight or the sync
    /// is over (then [`is_done`](Self::is_done) is true).
    pub fn next_request(&mut self, local: &Tree) -> Option<Request> {
        if self.in_flight.is_some() || self.is_done() {
            return None;
        }
        let (req, in_flight) = match self.state {
            State::Start => (Request::GetRoot, InFlight::Root),
            _ => match self.pick(local) {
                Some(x) => x,
                None => {
                    self.state = State::Done;
                    return None;
                }
            },
        };
        self.stats.round_trips += 1;
        self.stats.bytes_sent += req.encoded_len() as u64;
        self.in_flight = Some(in_flight);
        Some(req)
    }

    /// Chooses the next walk or fetch request, if any is left.
    fn pick(&mut self, local: &Tree) -> Option<(Request, InFlight)> {
        loop {
            let batch = self.config.max_keys_per_request;
            if self.wanted.len() >= batch || (self.stack.is_empty() && !self.wanted.is_empty()) {
                match self.values_request(local) {
                    Some(x) => return Some(x),
                    None => continue, // every wanted key arrived meanwhile
                }
            }
            let p = self.stack.pop()?;
            if local.node_hash(p.level, &p.key) == Some(p.hash) {
                continue; // the local tree caught up meanwhile
            }
            self.stats.get_children += 1;
            let req = Request::GetChildren {
                level: p.level,
                key: p.key.clone(),
            };
            return Some((req, InFlight::Children(p)));
        }
    }

    /// A `GetValues` for the next batch of wanted keys the local tree still
    /// lacks; `None` if there is none left.
    fn values_request(&mut self, local: &Tree) -> Option<(Request, InFlight)> {
        let mut batch = Vec::new();
        while batch.len() < self.config.max_keys_per_request {
            let Some((k, h)) = self.wanted.pop_first() else {
                break;
            };
            if !local.contains_key(&k) {
                batch.push((k, h));
            }
        }
        if batch.is_empty() {
            return None;
        }
        self.stats.get_values += 1;
        let keys = batch.iter().map(|(k, _)| k.clone()).collect();
        Some((Request::GetValues { keys }, InFlight::Values(batch)))
    }

    /// Handles the response to the request in flight, updating `local` with
    /// fetched entries. On error the client is done.
    pub fn on_response(&mut self, local: &mut Tree, resp: Response) -> Result<(), SyncError> {
        let Some(in_flight) = self.in_flight.take() else {
            return Err(SyncError::NoRequestInFlight);
        };
        self.stats.bytes_received += resp.encoded_len() as u64;
        let result = match (in_flight, resp) {
            (_, Response::Abort { cooldown_ms }) => Err(SyncError::Aborted { cooldown_ms }),
            (InFlight::Root, Response::Root(n)) => self.on_root(local, n),
            (InFlight::Children(p), Response::Children(nodes)) => self.on_children(local, p, nodes),
            (InFlight::Values(req), Response::Values(entries)) => {
                self.on_values(local, req, entries)
            }
            _ => Err(SyncError::UnexpectedResponse),
        };
        match result {
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
            Ok(()) => {
                self.state = if self.stack.is_empty() && self.wanted.is_empty() {
                    State::Done
                } else {
                    State::Walking
                };
                Ok(())
            }
        }
    }

    fn on_root(&mut self, local: &Tree, root: Node) -> Result<(), SyncError> {
        if root.key.is_some() {
            return Err(SyncError::InvalidResponse("root is not an anchor"));
        }
        self.consider(local, root);
        Ok(())
    }

    /// Compares one server node with the local node at the same position
    /// and queues it if it differs.
    fn consider(&mut self, local: &Tree, n: Node) {
        if local.node_hash(n.level, &n.key) == Some(n.hash) {
            return;
        }
        match (n.level, n.key) {
            (0, None) => {} // the level-0 anchor is the same everywhere
            (0, Some(key)) => {
                if local.contains_key(&key) {
                    self.stats.conflicts += 1;
                } else {
                    self.wanted.insert(key, n.hash);
                }
            }
            (level, key) => self.stack.push(Pending {
                level,
                key,
                hash: n.hash,
            }),
        }
    }

    fn on_children(
        &mut self,
        local: &Tree,
        parent: Pending,
        nodes: Vec<Node>,
    ) -> Result<(), SyncError> {
        let Some(first) = nodes.first() else {
            self.stats.stale += 1; // the node vanished from the server
            return Ok(());
        };
        if first.key != parent.key {
            return Err(SyncError::InvalidResponse("first child key differs"));
        }
        for (i, n) in nodes.iter().enumerate() {
            if parent.level.checked_sub(1) != Some(n.level) {
                return Err(SyncError::InvalidResponse("child at wrong level"));
            }
            if i > 0 && (nodes[i - 1].key >= n.key || is_boundary(&n.hash)) {
                return Err(SyncError::InvalidResponse("children out of order"));
            }
        }
        if parent_hash(nodes.iter().map(|n| &n.hash)) != parent.hash {
            self.stats.stale += 1; // the subtree changed on the server
        }
        // Reverse, so that the stack is expanded left to right.
        for n in nodes.into_iter().rev() {
            self.consider(local, n);
        }
        Ok(())
    }

    fn on_values(
        &mut self,
        local: &mut Tree,
        requested: Vec<(Vec<u8>, Hash)>,
        entries: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(), SyncError> {
        // Entries must come in request order; keys skipped before the last
        // answered one are missing on the server, keys after it were cut by
        // the reply size limit and are asked again.
        let mut req = requested.into_iter();
        let got_any = !entries.is_empty();
        for (k, v) in entries {
            let hash = loop {
                match req.next() {
                    None => return Err(SyncError::InvalidResponse("unrequested value")),
                    Some((rk, h)) if rk == k => break h,
                    Some(_) => self.stats.stale += 1,
                }
            };
            if leaf_hash(&k, &v) != hash {
                self.stats.stale += 1;
            }
            match local.get(&k) {
                None => {
                    local.insert(k, v);
                    self.stats.entries_fetched += 1;
                }
                Some(old) if old != v.as_slice() => self.stats.conflicts += 1,
                Some(_) => {}
            }
        }
        for (k, h) in req {
            if got_any {
                self.wanted.insert(k, h);
            } else {
                self.stats.stale += 1;
            }
        }
        Ok(())
    }
}

/// Runs a whole sync of `local` against `remote` in memory, passing every
/// message through its encoding, and returns the counters.
pub fn sync_in_memory(
    local: &mut Tree,
    remote: &Tree,
    config: SyncConfig,
) -> Result<SyncStats, SyncError> {
    let mut client = SyncClient::with_config(config);
    while let Some(req) = client.next_request(local) {
        let req = Request::decode(&req.encode())
            .map_err(|_| SyncError::InvalidResponse("request does not decode"))?;
        let resp = super::answer(remote, &req);
        let resp = Response::decode(&resp.encode())
            .map_err(|_| SyncError::InvalidResponse("response does not decode"))?;
        client.on_response(local, resp)?;
    }
    Ok(client.stats().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(keys: impl IntoIterator<Item = u32>) -> Tree {
        Tree::from_entries(keys.into_iter().map(|i| (i.to_be_bytes(), i.to_le_bytes())))
    }

    #[test]
    fn equal_trees_take_one_round_trip() {
        for n in [0, 3, 5000] {
            let server = tree(0..n);
            let mut client = server.clone();
            let stats = sync_in_memory(&mut client, &server, SyncConfig::default()).unwrap();
            assert_eq!(stats.round_trips, 1);
            assert_eq!(client, server);
        }
    }

    #[test]
    fn client_catches_up() {
        let server = tree(0..5000);
        let mut local = tree((0..5000).filter(|i| i % 97 != 0));
        let stats = sync_in_memory(&mut local, &server, SyncConfig::default()).unwrap();
        assert_eq!(local.root(), server.root());
        assert_eq!(stats.entries_fetched, 52);
        assert_eq!(stats.get_values, 1);
        assert_eq!(stats.stale, 0);
        // The client's extra entries stay; the server's are all fetched.
        let mut local = tree(3000..9000);
        sync_in_memory(&mut local, &server, SyncConfig::default()).unwrap();
        assert_eq!(local, tree(0..9000));
    }

    #[test]
    fn lockstep_and_errors() {
        let server = tree(0..100);
        let mut local = Tree::new();
        let mut c = SyncClient::new();
        assert_eq!(
            c.on_response(&mut local, Response::Node(None)),
            Err(SyncError::NoRequestInFlight)
        );
        assert_eq!(c.next_request(&local), Some(Request::GetRoot));
        assert_eq!(c.next_request(&local), None, "one request in flight");
        assert!(c.is_waiting());
        c.on_response(&mut local, answer_for(&server, &Request::GetRoot))
            .unwrap();
        let req = c.next_request(&local).unwrap();
        assert!(matches!(req, Request::GetChildren { .. }));
        assert_eq!(
            c.on_response(&mut local, Response::Node(None)),
            Err(SyncError::UnexpectedResponse)
        );
        assert!(c.is_done() && c.is_failed());
        assert_eq!(c.next_request(&local), None);

        let mut c = SyncClient::new();
        c.next_request(&local);
        assert_eq!(
            c.on_response(&mut local, Response::Abort { cooldown_ms: 5 }),
            Err(SyncError::Aborted { cooldown_ms: 5 })
        );
        assert!(c.is_done());
    }

    fn answer_for(t: &Tree, r: &Request) -> Response {
        super::super::answer(t, r)
    }

    #[test]
    fn server_changing_mid_sync() {
        let mut server = tree(0..3000);
        let mut local = tree(0..2000);
        let mut c = SyncClient::new();
        let mut i = 3000u32;
        while let Some(req) = c.next_request(&local) {
            let resp = answer_for(&server, &req);
            c.on_response(&mut local, resp).unwrap();
            server.insert(i.to_be_bytes(), i.to_le_bytes());
            i += 1;
        }
        assert!(c.stats().stale > 0);
        // A second sync against a quiet server completes the job.
        let stats = sync_in_memory(&mut local, &server, SyncConfig::default()).unwrap();
        assert_eq!(local.root(), server.root(), "{stats:?}");
    }

    #[test]
    fn invalid_children_are_rejected() {
        let server = tree(0..2000);
        let bad = |nodes: Vec<Node>| {
            let mut local = Tree::new();
            let mut c = SyncClient::new();
            c.next_request(&local);
            c.on_response(&mut local, Response::Root(server.root()))
                .unwrap();
            c.next_request(&local);
            c.on_response(&mut local, Response::Children(nodes))
        };
        let mut good = server.children(server.height(), None).unwrap();
        let mut wrong_level = good.clone();
        wrong_level[1].level = 255;
        assert!(matches!(
            bad(wrong_level),
            Err(SyncError::InvalidResponse(_))
        ));
        good.swap(1, 2);
        assert!(matches!(bad(good), Err(SyncError::InvalidResponse(_))));
        let mut stale = server.children(server.height(), None).unwrap();
        stale.pop();
        assert_eq!(bad(stale), Ok(()));
    }

    #[test]
    fn big_values_take_several_replies() {
        let big = |i: u8| vec![i; super::super::wire::MAX_VALUE_LEN];
        let server = Tree::from_entries((0u8..20).map(|i| (vec![i], big(i))));
        let mut local = Tree::new();
        let stats = sync_in_memory(&mut local, &server, SyncConfig::default()).unwrap();
        assert_eq!(local.root(), server.root());
        assert_eq!(stats.get_values, 3);
        assert_eq!(stats.stale, 0);
    }

    #[test]
    fn entries_arriving_mid_sync_are_not_fetched() {
        let server = tree(0..3000);
        let mut local = tree(0..2000);
        let mut c = SyncClient::new();
        while let Some(req) = c.next_request(&local) {
            if matches!(req, Request::GetValues { .. }) {
                panic!("everything arrived by gossip: {req:?}");
            }
            let resp = answer_for(&server, &req);
            c.on_response(&mut local, resp).unwrap();
            // "Gossip" delivers the rest after the first reply.
            for i in 2000u32..3000 {
                local.insert(i.to_be_bytes(), i.to_le_bytes());
            }
        }
        assert!(c.is_done() && !c.is_failed());
        assert_eq!(local.root(), server.root());
    }

    #[test]
    fn conflicts_are_left_alone() {
        let server = Tree::from_entries([("a", "1"), ("b", "2")]);
        let mut local = Tree::from_entries([("a", "other")]);
        let stats = sync_in_memory(&mut local, &server, SyncConfig::default()).unwrap();
        assert_eq!(stats.conflicts, 1);
        assert_eq!(local.get(b"a"), Some(&b"other"[..]));
        assert_eq!(local.get(b"b"), Some(&b"2"[..]));
    }
}
