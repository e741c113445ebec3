//! The core verifier's native Poseidon (`otr_core::zk::poseidon`, what a client recomputes a
//! proof's input and output commitments with) is the circuits' Poseidon: the same round
//! constants and MDS matrix as arkworks' Grain LFSR derivation, and the same hashes.

use ark_bn254::Fr;
use ark_ff::UniformRand;
use otr_core::zk::poseidon::Poseidon;
use rand_chacha::rand_core::SeedableRng;

#[test]
fn constants_are_arkworks_grain_constants() {
    let ours = Poseidon::new();
    let theirs = otr_zk::poseidon::config();
    assert_eq!(ours.ark.len(), theirs.ark.len());
    for (a, b) in ours.ark.iter().zip(&theirs.ark) {
        assert_eq!(&a[..], &b[..]);
    }
    for (a, b) in ours.mds.iter().zip(&theirs.mds) {
        assert_eq!(&a[..], &b[..]);
    }
}

#[test]
fn hashes_and_commitments_match_the_circuits() {
    let ours = Poseidon::new();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    for n in [0usize, 1, 3, 4, 5, 8, 9, 17] {
        let v: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
        assert_eq!(ours.hash(&v), otr_zk::poseidon::hash(&v), "{n} elements");
    }
    for len in [0usize, 1, 30, 31, 32, 62, 100, 4100] {
        let b: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let t = otr_zk::poseidon::tag("OTR/zk/wide/v1");
        assert_eq!(
            ours.hash_bytes(t, &b),
            otr_zk::pack::hash_bytes(t, &b),
            "{len} bytes"
        );
    }
    let x = otr_zk::testdata::input(64, 3, 2);
    assert_eq!(
        ours.input_commitment(&x.bytes()),
        otr_zk::commit::input_commitment(&x)
    );
    let y: Vec<i64> = (0..4).map(|i| i * 1_000_003 - 7).collect();
    assert_eq!(
        ours.output_commitment(&otr_zk::commit::wide_bytes(&y)),
        otr_zk::commit::output_commitment(&y)
    );
}
