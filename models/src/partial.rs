//! Partial messages (GossipSub's `partial-messages` extension, in the
//! published `libp2p-gossipsub` behind its feature of that name): the
//! application's side. A message is cut into `parts` parts of `part_bytes`
//! bytes; the metadata peers exchange is a bitmap of the parts a peer holds
//! (bit `i` of byte `i / 8`, least significant bit first: part 0 is `0x01`
//! of the first byte).
//!
//! The format is the libp2p test-plans interop node's, generalised from its
//! 8 parts of 1,024 bytes (a 1-byte bitmap) to any count up to
//! [`MAX_PARTS`]: a body is `[bitmap of the parts included][those parts,
//! in ascending order][the 8-byte group id]`, and the group id is a `u64`
//! big-endian. Part contents are zeros: no node verifies them (the
//! test-plans nodes do not either), and zero runs cost no memory in flight.
//!
//! Which parts go to a peer: those we hold that its metadata says it lacks.
//! When we have not heard its metadata yet, an `eager` sender (the
//! test-plans rust node) sends every part it holds; a lazy one (the
//! test-plans Go node) sends only its metadata and waits for the peer's.

use libp2p_gossipsub::partial_messages::{Metadata, Partial, PartialAction, PartialError};
use libp2p_identity::PeerId;

/// Most parts in a message (a 32-byte bitmap).
pub const MAX_PARTS: u32 = 256;

/// How a message is cut: part count, part size and how parts are offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Parts per message, 1 to [`MAX_PARTS`].
    pub parts: u32,
    /// Bytes per part.
    pub part_bytes: u32,
    /// Send parts to a peer whose metadata is not known yet.
    pub eager: bool,
}

impl Layout {
    /// The test-plans interop node's: 8 parts of 1,024 bytes, eager.
    pub const TEST_PLANS: Layout = Layout {
        parts: 8,
        part_bytes: 1024,
        eager: true,
    };

    /// Bytes of the bitmap.
    pub fn bitmap_bytes(&self) -> usize {
        self.parts.div_ceil(8) as usize
    }

    /// Bytes of an encoded body holding `k` parts.
    pub fn body_bytes(&self, k: u32) -> usize {
        self.bitmap_bytes() + k as usize * self.part_bytes as usize + 8
    }
}

/// The metadata: the bitmap of parts a peer holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bits(pub Vec<u8>);

impl Metadata for Bits {
    fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// Adds the parts of `data` (a bitmap of the same length).
    fn update(&mut self, data: &[u8]) -> Result<bool, PartialError> {
        if data.len() != self.0.len() {
            return Err(PartialError::InvalidFormat);
        }
        let mut changed = false;
        for (a, b) in self.0.iter_mut().zip(data) {
            changed |= *b & !*a != 0;
            *a |= b;
        }
        Ok(changed)
    }
}

/// What [`Parts::extend`] took from a body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extended {
    /// Parts we did not hold.
    pub new: u32,
    /// Parts we already held (duplicates).
    pub duplicate: u32,
}

/// One message's parts held by one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parts {
    layout: Layout,
    group: [u8; 8],
    have: Vec<u8>,
}

impl Parts {
    /// No part yet of group `group`.
    pub fn new(layout: Layout, group: u64) -> Parts {
        Parts {
            layout,
            group: group.to_be_bytes(),
            have: vec![0; layout.bitmap_bytes()],
        }
    }

    /// Every part of group `group`.
    pub fn full(layout: Layout, group: u64) -> Parts {
        let mut p = Parts::new(layout, group);
        for i in 0..layout.parts {
            p.set(i);
        }
        p
    }

    /// The layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The group id as a number.
    pub fn group(&self) -> u64 {
        u64::from_be_bytes(self.group)
    }

    /// The bitmap of parts held.
    pub fn bits(&self) -> &[u8] {
        &self.have
    }

    /// Whether part `i` is held.
    pub fn has(&self, i: u32) -> bool {
        bit(&self.have, i)
    }

    /// Marks part `i` held (`i` below the part count).
    pub fn set(&mut self, i: u32) {
        debug_assert!(i < self.layout.parts);
        self.have[(i / 8) as usize] |= 1 << (i % 8);
    }

    /// Adds the parts of bitmap `bits` (the parts beyond the count must be
    /// clear): `Err` if it has the wrong length or names a part out of range.
    pub fn add_bits(&mut self, bits: &[u8]) -> Result<(), PartialError> {
        self.check_bitmap(bits)?;
        for (a, b) in self.have.iter_mut().zip(bits) {
            *a |= b;
        }
        Ok(())
    }

    /// Parts held.
    pub fn count(&self) -> u32 {
        self.have.iter().map(|b| b.count_ones()).sum()
    }

    /// Whether every part is held.
    pub fn is_full(&self) -> bool {
        self.count() == self.layout.parts
    }

    fn check_bitmap(&self, bits: &[u8]) -> Result<(), PartialError> {
        if bits.len() != self.have.len() {
            return Err(PartialError::InvalidFormat);
        }
        if (self.layout.parts..self.have.len() as u32 * 8).any(|i| bit(bits, i)) {
            return Err(PartialError::OutOfRange);
        }
        Ok(())
    }

    /// The body holding the parts of bitmap `which` (all held).
    pub fn encode(&self, which: &[u8]) -> Vec<u8> {
        let k: u32 = which.iter().map(|b| b.count_ones()).sum();
        let mut body = Vec::with_capacity(self.layout.body_bytes(k));
        body.extend_from_slice(which);
        body.resize(body.len() + k as usize * self.layout.part_bytes as usize, 0);
        body.extend_from_slice(&self.group);
        body
    }

    /// Takes the parts of a received body: `Err` for a body of another
    /// group, of the wrong length, or naming a part out of range.
    pub fn extend(&mut self, body: &[u8]) -> Result<Extended, PartialError> {
        let b = self.have.len();
        if body.len() < b + 8 {
            return Err(PartialError::InsufficientData {
                expected: b + 8,
                received: body.len(),
            });
        }
        let (head, group) = body.split_at(body.len() - 8);
        if group != self.group {
            return Err(PartialError::WrongGroup {
                received: group.to_vec(),
            });
        }
        let which = &head[..b];
        self.check_bitmap(which)?;
        let k: u32 = which.iter().map(|x| x.count_ones()).sum();
        let data = head.len() - b;
        if data != k as usize * self.layout.part_bytes as usize {
            return Err(PartialError::InsufficientData {
                expected: k as usize * self.layout.part_bytes as usize,
                received: data,
            });
        }
        let mut got = Extended::default();
        for i in 0..self.layout.parts {
            if bit(which, i) {
                if self.has(i) {
                    got.duplicate += 1;
                } else {
                    got.new += 1;
                    self.set(i);
                }
            }
        }
        Ok(got)
    }
}

fn bit(bits: &[u8], i: u32) -> bool {
    bits.get((i / 8) as usize)
        .is_some_and(|b| b & (1 << (i % 8)) != 0)
}

impl Partial for Parts {
    fn group_id(&self) -> Vec<u8> {
        self.group.to_vec()
    }

    fn metadata(&self) -> Box<dyn Metadata> {
        Box::new(Bits(self.have.clone()))
    }

    fn partial_action_from_metadata(
        &self,
        _peer_id: PeerId,
        metadata: Option<&[u8]>,
    ) -> Result<PartialAction, PartialError> {
        let zeros = vec![0u8; self.have.len()];
        let theirs = match metadata {
            Some(m) => m,
            None if self.layout.eager => &zeros,
            // Lazy: nothing is sent before the peer's metadata is known.
            None => {
                return Ok(PartialAction {
                    need: false,
                    send: None,
                })
            }
        };
        self.check_bitmap(theirs)?;
        let need = theirs.iter().zip(&self.have).any(|(t, h)| t & !h != 0);
        let give: Vec<u8> = self.have.iter().zip(theirs).map(|(h, t)| h & !t).collect();
        let send = give.iter().any(|b| *b != 0).then(|| {
            let after: Vec<u8> = theirs.iter().zip(&give).map(|(t, g)| t | g).collect();
            (
                self.encode(&give),
                Box::new(Bits(after)) as Box<dyn Metadata>,
            )
        });
        Ok(PartialAction { need, send })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Layout = Layout::TEST_PLANS;

    #[test]
    fn the_test_plans_body_format() {
        // Parts 1 and 3 of group 219: bitmap 0b1010, two parts, the group id.
        let mut p = Parts::new(L, 219);
        p.set(1);
        p.set(3);
        let body = p.encode(&[0b1010]);
        assert_eq!(body.len(), 1 + 2 * 1024 + 8);
        assert_eq!(body[0], 0b1010);
        assert_eq!(&body[body.len() - 8..], &219u64.to_be_bytes());
        assert_eq!(L.body_bytes(8), 8201);
        let mut q = Parts::new(L, 219);
        assert_eq!(
            q.extend(&body).unwrap(),
            Extended {
                new: 2,
                duplicate: 0
            }
        );
        assert_eq!(q.bits(), &[0b1010]);
        assert_eq!(
            q.extend(&body).unwrap(),
            Extended {
                new: 0,
                duplicate: 2
            }
        );
    }

    #[test]
    fn bad_bodies_are_errors() {
        let mut p = Parts::new(L, 7);
        let good = Parts::full(L, 7).encode(&[0b1]);
        let mut wrong_group = good.clone();
        *wrong_group.last_mut().unwrap() = 8;
        assert!(matches!(
            p.extend(&wrong_group),
            Err(PartialError::WrongGroup { .. })
        ));
        assert!(p.extend(&good[..good.len() - 9]).is_err(), "cut short");
        assert!(p.extend(&[0; 5]).is_err(), "shorter than bitmap and group");
        // 3 parts of 8 bits: bits 3..8 are out of range.
        let three = Layout {
            parts: 3,
            part_bytes: 4,
            eager: true,
        };
        let mut t = Parts::new(three, 1);
        let body = [0b1000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert!(matches!(t.extend(&body), Err(PartialError::OutOfRange)));
        assert!(t.add_bits(&[0b1000]).is_err());
        assert!(t.add_bits(&[0b111, 0]).is_err(), "wrong length");
    }

    #[test]
    fn a_sender_offers_what_the_peer_lacks() {
        let mut p = Parts::new(L, 1);
        for i in [0, 1, 2] {
            p.set(i);
        }
        let key = libp2p_identity::Keypair::ed25519_from_bytes([1; 32]).expect("a key");
        let peer = PeerId::from(key.public());
        // The peer holds parts 1 and 4: we send 0 and 2, and need its 4.
        let a = p
            .partial_action_from_metadata(peer, Some(&[0b1_0010]))
            .unwrap();
        assert!(a.need);
        let (body, after) = a.send.expect("parts to send");
        assert_eq!(body[0], 0b101);
        assert_eq!(body.len(), L.body_bytes(2));
        assert_eq!(after.as_slice(), &[0b1_0111]);
        // Unknown metadata: eager sends all, lazy nothing.
        let all = p.partial_action_from_metadata(peer, None).unwrap();
        assert_eq!(all.send.unwrap().0[0], 0b111);
        let lazy = Parts::full(Layout { eager: false, ..L }, 1);
        let a = lazy.partial_action_from_metadata(peer, None).unwrap();
        assert!(!a.need && a.send.is_none());
        assert!(p.partial_action_from_metadata(peer, Some(&[0, 0])).is_err());
    }

    #[test]
    fn metadata_merges_and_says_when_it_changed() {
        let mut m = Bits(vec![0b01]);
        assert!(m.update(&[0b10]).unwrap());
        assert!(!m.update(&[0b11]).unwrap());
        assert_eq!(m.as_slice(), &[0b11]);
        assert!(m.update(&[1, 2]).is_err());
    }

    #[test]
    fn many_parts_use_a_longer_bitmap() {
        let l = Layout {
            parts: 20,
            part_bytes: 10,
            eager: true,
        };
        let p = Parts::full(l, 3);
        assert_eq!(p.bits(), &[0xff, 0xff, 0x0f]);
        assert!(p.is_full());
        let mut q = Parts::new(l, 3);
        q.extend(&p.encode(p.bits())).unwrap();
        assert!(q.is_full());
    }
}
