//! Shared test fixtures: one tiny shape, its ceremony (two contributors) and a unit.
#![allow(dead_code)]

use std::sync::OnceLock;

use ark_bn254::Bn254;
use ark_groth16::ProvingKey;
use otr_engine::fixed::Act16;
use otr_engine::weights::QMatrix;
use otr_zk::ceremony::Ceremony;
use otr_zk::commit::MatrixTree;
use otr_zk::testdata;
use otr_zk::UnitShape;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

pub const ROWS: usize = 8;
pub const COLS: usize = 64;
pub const R: usize = 2;

pub fn shape() -> UnitShape {
    UnitShape::new(ROWS, COLS, R).unwrap()
}

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// The initial key (computed once).
pub fn init_key() -> &'static ProvingKey<Bn254> {
    static K: OnceLock<ProvingKey<Bn254>> = OnceLock::new();
    K.get_or_init(|| otr_zk::ceremony::initial_key(shape()).unwrap())
}

/// Two contributions ("alice", "bob"), fixed test randomness.
pub fn ceremony() -> &'static Ceremony {
    static C: OnceLock<Ceremony> = OnceLock::new();
    C.get_or_init(|| {
        let mut c = Ceremony {
            shape: shape().into(),
            phase1: otr_zk::ceremony::Phase1Source::InsecurePublic,
            contributions: Vec::new(),
            pk: init_key().clone(),
        };
        c.contribute("alice", &mut rng(1)).unwrap();
        c.contribute("bob", &mut rng(2)).unwrap();
        c
    })
}

pub fn pk() -> &'static ProvingKey<Bn254> {
    &ceremony().pk
}

pub struct Data {
    pub w: QMatrix,
    pub x: Act16,
    pub tree: MatrixTree,
}

pub fn data() -> &'static Data {
    static D: OnceLock<Data> = OnceLock::new();
    D.get_or_init(|| {
        let w = testdata::matrix(ROWS, COLS, 7, &[-8, -3, 2, -20]);
        let x = testdata::input(COLS, 7, 6);
        let tree = MatrixTree::new(&w);
        Data { w, x, tree }
    })
}
