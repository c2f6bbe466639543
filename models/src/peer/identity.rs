//! Peer keys: drawn from the run's seed, or as the test-plans nodes derive them.

use crate::spec::GossipsubSpec;
use libp2p_identity::Keypair;

/// The deterministic ed25519 key of peer `index` under `seeds`.
pub fn keypair(seeds: &sim::Seeds, index: u32) -> Keypair {
    let bytes = seeds.bytes("identity", u64::from(index));
    Keypair::ed25519_from_bytes(bytes).expect("32 bytes make an ed25519 key")
}

/// The key of node `node` in the libp2p test-plans `gossipsub-interop`
/// framework: ed25519 from a 32-byte seed that holds the node id
/// little-endian in its first 4 bytes (the rest zero).
pub fn test_plans_keypair(node: u32) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&node.to_le_bytes());
    Keypair::ed25519_from_bytes(seed).expect("32 bytes make an ed25519 key")
}

/// The key of peer `index`: from the seed, or as in test-plans (`gossipsub.identity`).
pub fn keypair_for(s: &GossipsubSpec, seeds: &sim::Seeds, index: u32) -> Keypair {
    match s.identity {
        Some(crate::spec::IdentitySpec::TestPlans) => test_plans_keypair(index),
        _ => keypair(seeds, index),
    }
}
