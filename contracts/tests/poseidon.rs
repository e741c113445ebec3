//! The Solidity Poseidon library (`contracts/src/lib/Poseidon.sol`) against the spot-check
//! circuit's own hash and commitments (`otr_zk::poseidon`, `otr_zk::pack`, `otr_zk::commit`), on
//! revm through `contracts/src/test/PoseidonHarness.sol`: the constants, the permutation and
//! sponge on every absorb length around the rate, the 31-byte packing at every chunk boundary,
//! input commitments of Gemma 3 270M-sized activation vectors (640 and 2048 values) and output
//! slices (R = 4), random and extreme values. Also renders the library's constants block from
//! the Rust parameters (`OTR_WRITE_POSEIDON=1` rewrites it) and prints the gas table rows
//! (`cargo test -p otr-contracts --test poseidon -- --nocapture`).

use alloy_sol_types::SolError;
use ark_bn254::Fr;
use ark_ff::{BigInteger, Field, PrimeField, Zero};
use otr_contracts::deploy::deploy_code;
use otr_contracts::{host, Address, Chain, U256};
use otr_engine::fixed::Act16;
use otr_zk::{commit, pack, poseidon};

alloy_sol_types::sol!(
    #[sol(all_derives)]
    PoseidonHarness,
    "artifacts/PoseidonHarness.json"
);
alloy_sol_types::sol!(
    #[sol(all_derives)]
    PoseidonRounds,
    "artifacts/PoseidonRounds.json"
);

const SOL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib/Poseidon.sol");
const BEGIN: &str =
    "    // BEGIN GENERATED POSEIDON CONSTANTS (contracts/tests/poseidon.rs; do not edit)\n";
const END: &str = "    // END GENERATED POSEIDON CONSTANTS\n";

fn hex32(x: &Fr) -> String {
    let mut be = x.into_bigint().to_bytes_be();
    be.reverse();
    be.resize(32, 0);
    be.reverse();
    hex::encode(be)
}

type Mat = Vec<Vec<Fr>>;

fn mat_mul(a: &Mat, b: &Mat) -> Mat {
    let n = a.len();
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| (0..n).map(|k| a[i][k] * b[k][j]).sum())
                .collect()
        })
        .collect()
}

fn mat_vec(a: &Mat, v: &[Fr]) -> Vec<Fr> {
    a.iter()
        .map(|row| row.iter().zip(v).map(|(m, x)| *m * x).sum())
        .collect()
}

/// Inverse by Gauss-Jordan elimination (the matrices here are submatrices of MDS products,
/// all invertible).
fn mat_inv(a: &Mat) -> Mat {
    let n = a.len();
    let mut m: Mat = a
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut r = row.clone();
            r.extend((0..n).map(|j| Fr::from((i == j) as u64)));
            r
        })
        .collect();
    for col in 0..n {
        let piv = (col..n)
            .find(|&r| !m[r][col].is_zero())
            .expect("invertible");
        m.swap(col, piv);
        let inv = m[col][col].inverse().unwrap();
        for x in m[col].iter_mut() {
            *x *= inv;
        }
        for r in 0..n {
            if r != col && !m[r][col].is_zero() {
                let f = m[r][col];
                let pivot_row = m[col].clone();
                for (x, p) in m[r].iter_mut().zip(pivot_row) {
                    *x -= f * p;
                }
            }
        }
    }
    m.into_iter().map(|r| r[n..].to_vec()).collect()
}

/// One round of the optimized schedule `Poseidon.sol` runs (the Poseidon paper's appendix B):
/// the same permutation as arkworks', with the partial rounds' constants moved to lane 0 and
/// their MDS products split into sparse factors.
enum Round {
    /// Full round: add `c`, S-box on every lane, multiply by `m`.
    Full { c: Vec<Fr>, m: Mat },
    /// Partial round: add `k` to lane 0, S-box on lane 0, then `x0' = n00 x0 + v . x[1..]`,
    /// `x[j]' = w[j] x0 + x[j]`.
    Partial {
        k: Fr,
        n00: Fr,
        v: Vec<Fr>,
        w: Vec<Fr>,
    },
}

/// The optimized schedule of the pinned parameters. Constants: a partial round's constants on
/// lanes 1..4 pass its S-box unchanged, so `M (0, c[1..])` joins the next round's constants,
/// forward to the first of the last full rounds. Matrices, from the last partial round back:
/// `N = M`; `N = A B` with `B = diag(1, N[1..][1..])` and the sparse
/// `A = [[N00, N[0][1..] B^-1], [N[1..][0], I]]`; `B` commutes with lane 0's S-box and constant,
/// so it joins the previous round's matrix, `N = B M`; the last full round before the partial
/// ones multiplies by the final `N`.
fn schedule() -> Vec<Round> {
    let cfg = poseidon::config();
    let (half, rp) = (cfg.full_rounds / 2, cfg.partial_rounds);
    let m: Mat = cfg.mds.clone();
    let mut ark: Vec<Vec<Fr>> = cfg.ark.clone();
    let mut ks = vec![Fr::from(0u64); rp];
    let mut carry = vec![Fr::from(0u64); 5];
    for r in half..half + rp {
        let c: Vec<Fr> = ark[r].iter().zip(&carry).map(|(a, b)| *a + b).collect();
        ks[r - half] = c[0];
        let mut hat = c.clone();
        hat[0] = Fr::from(0u64);
        carry = mat_vec(&m, &hat);
    }
    for (x, c) in ark[half + rp].iter_mut().zip(&carry) {
        *x += c;
    }
    let mut sparse = Vec::with_capacity(rp);
    let mut n = m.clone();
    for _ in 0..rp {
        let hat: Mat = n[1..].iter().map(|row| row[1..].to_vec()).collect();
        let hat_inv = mat_inv(&hat);
        let n0 = &n[0][1..];
        let v: Vec<Fr> = (0..4)
            .map(|j| (0..4).map(|i| n0[i] * hat_inv[i][j]).sum())
            .collect();
        let w: Vec<Fr> = n[1..].iter().map(|row| row[0]).collect();
        sparse.push((n[0][0], v, w));
        let mut b: Mat = vec![vec![Fr::from(0u64); 5]; 5];
        b[0][0] = Fr::from(1u64);
        for i in 0..4 {
            for j in 0..4 {
                b[i + 1][j + 1] = hat[i][j];
            }
        }
        n = mat_mul(&b, &m);
    }
    sparse.reverse();
    let mut rounds = Vec::new();
    for (r, c) in ark.iter().enumerate().take(half) {
        let mm = if r + 1 == half { n.clone() } else { m.clone() };
        rounds.push(Round::Full {
            c: c.clone(),
            m: mm,
        });
    }
    for (i, (n00, v, w)) in sparse.into_iter().enumerate() {
        rounds.push(Round::Partial {
            k: ks[i],
            n00,
            v,
            w,
        });
    }
    for c in &ark[half + rp..] {
        rounds.push(Round::Full {
            c: c.clone(),
            m: m.clone(),
        });
    }
    rounds
}

fn pow5(x: Fr) -> Fr {
    x.square().square() * x
}

/// The permutation by the optimized schedule (what the Solidity code computes).
fn permute_scheduled(rounds: &[Round], s: &mut [Fr]) {
    for r in rounds {
        match r {
            Round::Full { c, m } => {
                let y: Vec<Fr> = s.iter().zip(c).map(|(x, c)| pow5(*x + c)).collect();
                s.copy_from_slice(&mat_vec(m, &y));
            }
            Round::Partial { k, n00, v, w } => {
                let y0 = pow5(s[0] + k);
                let x0 = *n00 * y0 + (0..4).map(|j| v[j] * s[j + 1]).sum::<Fr>();
                for j in 0..4 {
                    s[j + 1] += w[j] * y0;
                }
                s[0] = x0;
            }
        }
    }
}

/// The arkworks sponge (absorb all, squeeze one) over [`permute_scheduled`].
fn hash_scheduled(rounds: &[Round], elems: &[Fr]) -> Fr {
    let mut s = vec![Fr::from(0u64); 5];
    let groups = elems.len().div_ceil(4).max(1);
    for g in 0..groups {
        for (i, e) in elems.iter().skip(4 * g).take(4).enumerate() {
            s[1 + i] += e;
        }
        permute_scheduled(rounds, &mut s);
    }
    s[1]
}

#[test]
fn optimized_schedule_is_the_same_permutation() {
    let rounds = schedule();
    let mut rng = Rng(9);
    for n in [0usize, 1, 3, 4, 5, 8, 9, 23] {
        let elems: Vec<Fr> = (0..n).map(|_| rng.fr()).collect();
        assert_eq!(
            hash_scheduled(&rounds, &elems),
            poseidon::hash(&elems),
            "n = {n}"
        );
    }
}

/// The records of [`schedule`], a word list per round (the end mark not included).
fn round_records() -> Vec<Vec<Fr>> {
    let mds = &poseidon::config().mds;
    let one = Fr::from(1u64);
    schedule()
        .into_iter()
        .map(|r| match r {
            Round::Full { c: k, m } if &m == mds => [one].into_iter().chain(k).collect(),
            Round::Full { c: k, m } => [Fr::from(2u64)]
                .into_iter()
                .chain(k)
                .chain((0..5).flat_map(|j| m.iter().map(move |row| row[j]).collect::<Vec<_>>()))
                .collect(),
            Round::Partial { k, n00, v, w } => [Fr::from(0u64), k, n00]
                .into_iter()
                .chain(v)
                .chain(w)
                .collect(),
        })
        .collect()
}

/// `ROUNDS` as bytes: every record's words, then the end mark 3.
fn rounds_blob() -> Vec<u8> {
    round_records()
        .into_iter()
        .flatten()
        .chain([Fr::from(3u64)])
        .flat_map(|x| hex::decode(hex32(&x)).unwrap())
        .collect()
}

/// The constants block of `Poseidon.sol`: the optimized schedule ([`schedule`]) as one
/// `bytes` literal of 32-byte big-endian words, a line per round, each round a record starting
/// with its kind; and the MDS matrix as `Mij` (the full rounds but the fourth multiply by it).
fn render_constants() -> String {
    let c = poseidon::config();
    assert_eq!((c.rate, c.capacity, c.alpha), (4, 1, 5));
    assert_eq!((c.full_rounds, c.partial_rounds), (8, 60));
    let mut s = String::from(BEGIN);
    s.push_str(
        "    /// The rounds, a line each, 32-byte big-endian words: a full round multiplying by M is\n    \
         /// `1, c[0..5]`; a full round multiplying by another matrix `2, c[0..5]`, then the\n    \
         /// matrix column by column; a partial round `0, k, n00, v[0..4], w[0..4]`; then `3`.\n",
    );
    s.push_str("    bytes internal constant ROUNDS =\n");
    for words in round_records() {
        let line: String = words.iter().map(hex32).collect();
        s.push_str(&format!("        hex\"{line}\"\n"));
    }
    s.push_str(&format!("        hex\"{}\";\n", hex32(&Fr::from(3u64))));
    let blob = rounds_blob();
    s.push_str(&format!(
        "    /// Length and keccak256 of `ROUNDS` (the code of a deployed `PoseidonRounds`).\n    \
         uint256 internal constant ROUNDS_LENGTH = {};\n    \
         bytes32 internal constant ROUNDS_HASH = 0x{};\n",
        blob.len(),
        hex::encode(alloy_primitives::keccak256(&blob))
    ));
    s.push_str("    /// MDS matrix: `new_state[i] = sum_j Mij state[j]`.\n");
    for (i, row) in c.mds.iter().enumerate() {
        for (j, m) in row.iter().enumerate() {
            s.push_str(&format!(
                "    uint256 internal constant M{i}{j} = 0x{};\n",
                hex32(m)
            ));
        }
    }
    s.push_str(END);
    s
}

#[test]
fn solidity_constants_are_the_rust_ones() {
    let text = std::fs::read_to_string(SOL).unwrap();
    let (a, rest) = text.split_once(BEGIN).expect("begin marker");
    let (_, b) = rest.split_once(END).expect("end marker");
    let want = format!("{a}{}{b}", render_constants());
    if text != want && std::env::var_os("OTR_WRITE_POSEIDON").is_some() {
        std::fs::write(SOL, &want).unwrap();
        eprintln!("rewrote {SOL}: now run scripts/build-contracts.sh");
        return;
    }
    assert!(
        text == want,
        "Poseidon.sol's constants differ from otr_zk::poseidon::config(): \
         OTR_WRITE_POSEIDON=1 cargo test -p otr-contracts --test poseidon solidity_constants, \
         then scripts/build-contracts.sh"
    );
}

struct H {
    chain: Chain,
    at: Address,
    rounds: Address,
}

fn from(b: u8) -> Address {
    Address::repeat_byte(b)
}

impl H {
    /// A chain with a `PoseidonRounds` and a harness using it.
    fn new() -> H {
        let mut chain = Chain::new(31337, 1_764_140_000);
        let (rounds, _) =
            deploy_code(&mut chain, from(1), &PoseidonRounds::BYTECODE, vec![]).unwrap();
        let (at, _) = deploy_code(
            &mut chain,
            from(1),
            &PoseidonHarness::BYTECODE,
            rounds.into_word().to_vec(),
        )
        .unwrap();
        H { chain, at, rounds }
    }

    fn view<C: alloy_sol_types::SolCall>(&mut self, c: &C) -> C::Return {
        host::view(&mut self.chain, self.at, c).unwrap()
    }
}

fn fr_u256(x: Fr) -> U256 {
    U256::from_be_slice(&x.into_bigint().to_bytes_be())
}

/// A small deterministic generator (splitmix64) for the random cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn fr(&mut self) -> Fr {
        Fr::from_le_bytes_mod_order(&self.bytes(40))
    }
}

fn modulus() -> U256 {
    U256::from_be_slice(&Fr::MODULUS.to_bytes_be())
}

#[test]
fn rounds_contract_code_is_the_schedule_and_another_address_is_refused() {
    let mut h = H::new();
    let code = h.chain.code(h.rounds);
    assert_eq!(code.as_ref(), rounds_blob().as_slice());
    assert!(code.len() <= 24_576, "{} bytes", code.len());
    // The harness itself and an account without code are not the rounds contract.
    for other in [h.at, from(9)] {
        let err = host::view(
            &mut h.chain,
            h.at,
            &PoseidonHarness::hashWithCall {
                r: other,
                elems: vec![U256::from(1u64)],
            },
        )
        .expect_err("not the rounds contract");
        let otr_contracts::CallError::Revert { data, .. } = err else {
            panic!("expected a revert, got {err:?}")
        };
        let e = PoseidonHarness::NotPoseidonRounds::abi_decode(&data).expect("NotPoseidonRounds");
        assert_eq!(e.rounds, other);
    }
}

#[test]
fn tags_and_modulus_are_the_circuit_ones() {
    let mut h = H::new();
    let t = h.view(&PoseidonHarness::tagsCall {});
    assert_eq!(t.act16, fr_u256(poseidon::tag(commit::TAG_ACT16)));
    assert_eq!(t.wide, fr_u256(poseidon::tag(commit::TAG_WIDE)));
    assert_eq!(t.modulus, modulus());
}

#[test]
fn hash_equals_rust_for_every_length_around_the_rate() {
    let mut h = H::new();
    let mut rng = Rng(1);
    let p_minus_1 = -Fr::from(1u64);
    for n in 0..=13usize {
        let cases: [Vec<Fr>; 3] = [
            (0..n).map(|_| rng.fr()).collect(),
            vec![Fr::from(0u64); n],
            vec![p_minus_1; n],
        ];
        for elems in cases {
            let got = h.view(&PoseidonHarness::hashCall {
                elems: elems.iter().map(|x| fr_u256(*x)).collect(),
            });
            assert_eq!(got, fr_u256(poseidon::hash(&elems)), "n = {n}");
        }
    }
}

#[test]
fn hash_refuses_elements_outside_the_field() {
    let mut h = H::new();
    for bad in [modulus(), U256::MAX] {
        let elems = vec![U256::from(7u64), bad];
        let err = host::view(&mut h.chain, h.at, &PoseidonHarness::hashCall { elems })
            .expect_err("an element >= P is refused");
        let otr_contracts::CallError::Revert { data, .. } = err else {
            panic!("expected a revert, got {err:?}")
        };
        let e = PoseidonHarness::ElementNotInField::abi_decode(&data).expect("ElementNotInField");
        assert_eq!(e.index, U256::from(1u64));
    }
}

#[test]
fn packing_and_hash_bytes_equal_rust_at_every_chunk_boundary() {
    let mut h = H::new();
    let mut rng = Rng(2);
    let tag = poseidon::tag("OTR/test/v1");
    for len in (0..=130).chain([247, 248, 249, 1000]) {
        for b in [rng.bytes(len), vec![0xff; len], vec![0; len]] {
            let packed = h.view(&PoseidonHarness::packCall {
                b: b.clone().into(),
            });
            let want: Vec<U256> = pack::pack(&b).into_iter().map(fr_u256).collect();
            assert_eq!(packed, want, "pack of {len} bytes");
            let got = h.view(&PoseidonHarness::hashBytesCall {
                tag: fr_u256(tag),
                b: b.clone().into(),
            });
            assert_eq!(got, fr_u256(pack::hash_bytes(tag, &b)), "{len} bytes");
        }
    }
}

fn act16(rng: &mut Rng, n: usize, extreme: bool) -> Act16 {
    Act16 {
        q: (0..n)
            .map(|i| match (extreme, i % 3) {
                (true, 0) => i16::MIN,
                (true, 1) => i16::MAX,
                _ => rng.next() as i16,
            })
            .collect(),
        exp: if extreme { i32::MIN } else { rng.next() as i32 },
    }
}

#[test]
fn input_commitment_equals_rust_at_gemma_sizes() {
    let mut h = H::new();
    let mut rng = Rng(3);
    for n in [32, 640, 2048] {
        for extreme in [false, true] {
            let x = act16(&mut rng, n, extreme);
            let got = h.view(&PoseidonHarness::inputCommitmentCall {
                act16: x.bytes().into(),
            });
            assert_eq!(got, fr_u256(commit::input_commitment(&x)), "{n} values");
        }
    }
    // One changed value changes the commitment.
    let mut x = act16(&mut rng, 640, false);
    let before = h.view(&PoseidonHarness::inputCommitmentCall {
        act16: x.bytes().into(),
    });
    x.q[639] ^= 1;
    let after = h.view(&PoseidonHarness::inputCommitmentCall {
        act16: x.bytes().into(),
    });
    assert_ne!(before, after);
}

#[test]
fn output_commitment_equals_rust_for_slices() {
    let mut h = H::new();
    let mut rng = Rng(4);
    let slices: Vec<Vec<i64>> = vec![
        vec![],
        vec![0; 4],
        vec![i64::MIN, i64::MAX, -1, 1],
        (0..4).map(|_| rng.next() as i64).collect(),
        (0..8).map(|_| rng.next() as i64).collect(),
        (0..64).map(|_| rng.next() as i64).collect(),
    ];
    for y in slices {
        let want = fr_u256(commit::output_commitment(&y));
        let got = h.view(&PoseidonHarness::outputCommitmentCall { y: y.clone() });
        assert_eq!(got, want, "{y:?}");
        let got = h.view(&PoseidonHarness::outputCommitmentBytesCall {
            wide: commit::wide_bytes(&y).into(),
        });
        assert_eq!(got, want, "bytes of {y:?}");
    }
}

/// Bounds for the regression checks below: gas per permutation, and per call (the constants
/// written to memory, the packing).
const PERM_GAS: u64 = 50_000;
const CALL_GAS: u64 = 20_000;

/// Gas of the library calls alone (`gasleft()` around them in the harness), printed as the
/// rows of docs/BENCHMARKS.md's gas table, with bounds that fail on a regression.
#[test]

fn gas_of_commitments_at_gemma_sizes() {
    let mut h = H::new();
    let mut rng = Rng(5);
    let mut chain = Chain::new(31337, 1_764_140_000);
    let (_, out) = deploy_code(&mut chain, from(1), &PoseidonRounds::BYTECODE, vec![]).unwrap();
    println!(
        "| PoseidonRounds deployment (once per chain; 23,488 bytes of code), whole transaction | {} |",
        out.gas_used
    );
    let one = h.view(&PoseidonHarness::hashGasCall {
        elems: vec![U256::from(1u64); 4],
    });
    println!(
        "| Poseidon (t = 5, 68 rounds), one permutation: hash of 4 elements | {} |",
        one.gas
    );
    let mut rows = vec![("one permutation", one.gas, PERM_GAS + CALL_GAS)];
    for n in [640usize, 1024, 2048] {
        let x = act16(&mut rng, n, false);
        let r = h.view(&PoseidonHarness::inputCommitmentGasCall {
            act16: x.bytes().into(),
        });
        assert_eq!(r.c, fr_u256(commit::input_commitment(&x)));
        let perms = (2 + pack::packed_len(4 + 2 * n)).div_ceil(4);
        println!(
            "| Poseidon input commitment, {n} values ({} bytes, {perms} permutations) | {} |",
            4 + 2 * n,
            r.gas
        );
        rows.push((
            "input commitment",
            r.gas,
            PERM_GAS * perms as u64 + CALL_GAS,
        ));
    }
    let y: Vec<i64> = (0..4).map(|_| rng.next() as i64).collect();
    let r = h.view(&PoseidonHarness::outputCommitmentGasCall { y: y.clone() });
    assert_eq!(r.c, fr_u256(commit::output_commitment(&y)));
    println!(
        "| Poseidon output commitment, R = 4 slice (32 bytes, 1 permutation) | {} |",
        r.gas
    );
    rows.push(("output commitment", r.gas, PERM_GAS + CALL_GAS));
    for (what, gas, bound) in rows {
        let gas: u64 = gas.try_into().unwrap();
        assert!(gas < bound, "{what}: {gas} gas, bound {bound}");
    }
}
