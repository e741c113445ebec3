//! The commitment formats: packing, row bytes, tree paths, and pinned values (a change of
//! Poseidon constants or of any format must show up here).

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};
use otr_zk::commit::{self, MatrixTree};
use otr_zk::pack::{hash_bytes, pack};
use otr_zk::poseidon::{self, tag};
use otr_zk::testdata;

#[test]
fn packing_is_31_bytes_little_endian() {
    let b: Vec<u8> = (0..70u8).collect();
    let p = pack(&b);
    assert_eq!(p.len(), 3);
    for (i, e) in p.iter().enumerate() {
        let bytes = e.into_bigint().to_bytes_le();
        let chunk = &b[31 * i..(31 * i + 31).min(70)];
        assert_eq!(&bytes[..chunk.len()], chunk);
        assert!(bytes[chunk.len()..].iter().all(|&x| x == 0));
    }
    // The length separates trailing zeros.
    assert_ne!(hash_bytes(tag("t"), &[1]), hash_bytes(tag("t"), &[1, 0]));
}

#[test]
fn row_bytes_layout() {
    let w = testdata::matrix(4, 64, 3, &[-5]);
    let b = commit::row_bytes(&w, 2);
    assert_eq!(b.len(), commit::row_bytes_len(64));
    assert_eq!(&b[..4], &w.rm[2].to_le_bytes());
    assert_eq!(&b[4..8], &w.re[2].to_le_bytes());
    assert_eq!(&b[8..10], &w.bscale[4..6]);
    assert_eq!(b[10] as i8, w.q[128]);
}

#[test]
fn paths_lead_to_the_root() {
    let w = testdata::matrix(12, 32, 4, &[-5, 3]);
    let tree = MatrixTree::new(&w);
    assert_eq!(tree.depth(), 4);
    for r in 0..12 {
        let mut cur = commit::row_leaf(&commit::row_bytes(&w, r));
        for (l, s) in tree.path(0, r).iter().enumerate() {
            cur = if (r >> l) & 1 == 1 {
                commit::node(*s, cur)
            } else {
                commit::node(cur, *s)
            };
        }
        assert_eq!(cur, tree.root());
    }
    assert_eq!(
        tree.commitment(),
        commit::matrix_commitment(12, 32, tree.root())
    );
}

#[test]
fn pinned_values() {
    assert_eq!(
        hex::encode(poseidon::params_digest()),
        "a4c50aa3f1be9146e2b33e194060a9eb1f572e633a90508651fb522b9a5c9cfc"
    );
    let h = poseidon::hash(&[Fr::from(1u64), Fr::from(2u64)]);
    assert_eq!(
        h.to_string(),
        "20746023242391168517531882753680267284708126183451431774419525065636109626423"
    );
    let x = testdata::input(64, 1, 0);
    assert_eq!(
        commit::input_commitment(&x).to_string(),
        "14533394032743757614755730142639528244517550675407214165575385352819777853958"
    );
}
