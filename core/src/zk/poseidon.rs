//! Poseidon over the BN254 scalar field, natively: the hash the spot-check circuits open their
//! public inputs with (`docs/PROTOCOL.md` §7.6, `zk/src/poseidon.rs`), so that a client can
//! recompute a proof's input and output commitments from the trace bytes of its step.
//!
//! Parameters: width 5 (rate 4, capacity 1, capacity lane first), x^5 S-box, 8 full and 60
//! partial rounds; round constants and MDS matrix from the Poseidon paper's Grain LFSR (field
//! bits 254, S-box flag 0, no skipped matrices), exactly as arkworks'
//! `find_poseidon_ark_and_mds(254, 4, 8, 60, 0)` derives them. A hash is the duplex sponge:
//! absorb every element (permuting when the four rate lanes are full and more follow), then
//! permute and squeeze rate lane 0. `zk/tests` checks constants and hashes against arkworks.

use alloc::vec::Vec;

use ark_ff::{BigInteger, Field, PrimeField};

use super::Fr;

/// Sponge rate (field elements absorbed per permutation).
pub const RATE: usize = 4;
/// State width.
pub const WIDTH: usize = RATE + 1;
/// Full rounds.
pub const FULL_ROUNDS: usize = 8;
/// Partial rounds.
pub const PARTIAL_ROUNDS: usize = 60;

/// Bytes per packed field element (`pack`).
pub const PACK_BYTES: usize = 31;
/// Tag of an activation vector commitment (`Act16` bytes).
pub const TAG_ACT16: &str = "OTR/zk/act16/v1";
/// Tag of an output slice commitment (`i64le` values).
pub const TAG_WIDE: &str = "OTR/zk/wide/v1";

/// The Grain LFSR of the Poseidon paper (80 bits of state).
struct Grain {
    state: [bool; 80],
    head: usize,
}

impl Grain {
    fn new(field_bits: u64, width: u64, full: u64, partial: u64) -> Self {
        let mut state = [false; 80];
        state[1] = true; // b0 b1 = 01: a prime field
                         // b2..b5 = 0000: the x^alpha S-box
        let mut put = |from: usize, to: usize, mut v: u64| {
            for i in (from..=to).rev() {
                state[i] = v & 1 == 1;
                v >>= 1;
            }
        };
        put(6, 17, field_bits);
        put(18, 29, width);
        put(30, 39, full);
        put(40, 49, partial);
        for b in state.iter_mut().skip(50) {
            *b = true;
        }
        let mut g = Grain { state, head: 0 };
        for _ in 0..160 {
            g.update();
        }
        g
    }

    fn update(&mut self) -> bool {
        let s = &self.state;
        let h = self.head;
        let bit = s[(h + 62) % 80]
            ^ s[(h + 51) % 80]
            ^ s[(h + 38) % 80]
            ^ s[(h + 23) % 80]
            ^ s[(h + 13) % 80]
            ^ s[h];
        self.state[h] = bit;
        self.head = (h + 1) % 80;
        bit
    }

    /// `n` output bits (the self-shrinking rule: a pair (1, b) gives b, (0, _) gives nothing),
    /// least significant first (the LFSR produces them most significant first).
    fn bits(&mut self, n: usize) -> Vec<bool> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            if self.update() {
                out.push(self.update());
            } else {
                self.update();
            }
        }
        out.reverse();
        out
    }

    /// A field element by rejection sampling (round constants).
    fn rejection_sampled(&mut self) -> Fr {
        loop {
            let bits = self.bits(Fr::MODULUS_BIT_SIZE as usize);
            let big = <Fr as PrimeField>::BigInt::from_bits_le(&bits);
            if let Some(f) = Fr::from_bigint(big) {
                return f;
            }
        }
    }

    /// A field element reduced modulo p (MDS matrix points).
    fn mod_p(&mut self) -> Fr {
        let bits = self.bits(Fr::MODULUS_BIT_SIZE as usize);
        let bytes: Vec<u8> = bits
            .chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |a, (i, &b)| a | (u8::from(b) << i))
            })
            .collect();
        Fr::from_le_bytes_mod_order(&bytes)
    }
}

/// The Poseidon permutation's constants.
#[derive(Clone, Debug)]
pub struct Poseidon {
    /// Round constants, one row of [`WIDTH`] per round.
    pub ark: Vec<[Fr; WIDTH]>,
    /// The MDS matrix (a Cauchy matrix `1 / (x_i + y_j)`).
    pub mds: [[Fr; WIDTH]; WIDTH],
}

impl Default for Poseidon {
    fn default() -> Self {
        Self::new()
    }
}

impl Poseidon {
    /// Derives the constants (about a millisecond).
    pub fn new() -> Self {
        let mut g = Grain::new(
            Fr::MODULUS_BIT_SIZE as u64,
            WIDTH as u64,
            FULL_ROUNDS as u64,
            PARTIAL_ROUNDS as u64,
        );
        let ark = (0..FULL_ROUNDS + PARTIAL_ROUNDS)
            .map(|_| core::array::from_fn(|_| g.rejection_sampled()))
            .collect();
        let xs: [Fr; WIDTH] = core::array::from_fn(|_| g.mod_p());
        let ys: [Fr; WIDTH] = core::array::from_fn(|_| g.mod_p());
        let mds = core::array::from_fn(|i| {
            core::array::from_fn(|j| (xs[i] + ys[j]).inverse().unwrap_or_default())
        });
        Poseidon { ark, mds }
    }

    fn permute(&self, s: &mut [Fr; WIDTH]) {
        let half = FULL_ROUNDS / 2;
        for (r, c) in self.ark.iter().enumerate() {
            for (x, k) in s.iter_mut().zip(c) {
                *x += k;
            }
            let full = r < half || r >= half + PARTIAL_ROUNDS;
            for x in s.iter_mut().take(if full { WIDTH } else { 1 }) {
                let x2 = x.square();
                *x *= x2.square();
            }
            let old = *s;
            for (i, row) in self.mds.iter().enumerate() {
                s[i] = row.iter().zip(&old).map(|(m, v)| *m * v).sum();
            }
        }
    }

    /// `Poseidon(elems)`: absorb every element, squeeze one.
    pub fn hash(&self, elems: &[Fr]) -> Fr {
        let mut s = [Fr::from(0u64); WIDTH];
        let mut lane = 0;
        for e in elems {
            if lane == RATE {
                self.permute(&mut s);
                lane = 0;
            }
            s[1 + lane] += e;
            lane += 1;
        }
        self.permute(&mut s);
        s[1]
    }

    /// `Poseidon(tag, len(bytes), pack(bytes)...)`: bytes 31 per element, little-endian.
    pub fn hash_bytes(&self, tag: Fr, bytes: &[u8]) -> Fr {
        let mut elems = Vec::with_capacity(2 + bytes.len().div_ceil(PACK_BYTES));
        elems.push(tag);
        elems.push(Fr::from(bytes.len() as u64));
        elems.extend(bytes.chunks(PACK_BYTES).map(Fr::from_le_bytes_mod_order));
        self.hash(&elems)
    }

    /// The commitment `C_x` of an input vector (`Act16` bytes: `i32le exp || i16le q[..]`).
    pub fn input_commitment(&self, act16: &[u8]) -> Fr {
        self.hash_bytes(tag(TAG_ACT16), act16)
    }

    /// The commitment `C_y` of an output slice (`i64le` values).
    pub fn output_commitment(&self, wide: &[u8]) -> Fr {
        self.hash_bytes(tag(TAG_WIDE), wide)
    }
}

/// A domain tag: the ASCII bytes of `name` (at most 31) read as a little-endian integer.
pub fn tag(name: &str) -> Fr {
    Fr::from_le_bytes_mod_order(&name.as_bytes()[..name.len().min(PACK_BYTES)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_constant_and_hash() {
        // Values of arkworks `find_poseidon_ark_and_mds(254, 4, 8, 60, 0)` and its sponge
        // (zk/tests/core_poseidon.rs compares every constant and many hashes).
        let p = Poseidon::new();
        assert_eq!(p.ark.len(), FULL_ROUNDS + PARTIAL_ROUNDS);
        let be = |f: Fr| hex::encode(f.into_bigint().to_bytes_be());
        assert_eq!(
            be(p.ark[0][0]),
            "0eb544fee2815dda7f53e29ccac98ed7d889bb4ebd47c3864f3c2bd81a6da891"
        );
        assert_eq!(
            be(p.hash(&[Fr::from(1u64), Fr::from(2u64)])),
            "2dddd542213b9228162ff1b438c3709c057a9550103c9173c6204fb29b802c37"
        );
    }

    #[test]
    fn hashes_differ_by_length_and_tag() {
        let p = Poseidon::new();
        // The plain sponge adds elements into the state: a trailing zero changes nothing, which
        // is why every byte hash carries the length (and every hash a tag).
        assert_eq!(p.hash(&[]), p.hash(&[Fr::from(0u64)]));
        assert_ne!(p.hash_bytes(tag("t"), b""), p.hash_bytes(tag("t"), b"\0"));
        assert_ne!(p.input_commitment(b"ab"), p.output_commitment(b"ab"));
        assert_ne!(p.hash_bytes(tag("t"), b"a"), p.hash_bytes(tag("t"), b"a\0"));
        // Five elements cross the rate boundary: the state is permuted in between.
        let five: Vec<Fr> = (1..=5u64).map(Fr::from).collect();
        assert_ne!(p.hash(&five), p.hash(&five[..4]));
    }
}
