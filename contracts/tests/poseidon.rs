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
use ark_ff::{BigInteger, PrimeField};
use otr_contracts::deploy::deploy_code;
use otr_contracts::{host, Address, Chain, U256};
use otr_engine::fixed::Act16;
use otr_zk::{commit, pack, poseidon};

alloy_sol_types::sol!(
    #[sol(all_derives)]
    PoseidonHarness,
    "artifacts/PoseidonHarness.json"
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

/// The constants block of `Poseidon.sol`: the round constants as one `bytes` literal (a line
/// per round, 5 big-endian words each, in `ark[round][i]` order), the MDS matrix as `Mij`.
fn render_constants() -> String {
    let c = poseidon::config();
    assert_eq!((c.rate, c.capacity, c.alpha), (4, 1, 5));
    assert_eq!((c.full_rounds, c.partial_rounds), (8, 60));
    let mut s = String::from(BEGIN);
    s.push_str(
        "    /// Per round, a line of 6 32-byte big-endian words: the round constants `ark[round][0..5]`,\n    \
         /// then 1 for a full round (the first and last 4), 0 for a partial one.\n",
    );
    s.push_str("    bytes internal constant ARK =\n");
    for (r, row) in c.ark.iter().enumerate() {
        let full = r < c.full_rounds / 2 || r >= c.full_rounds / 2 + c.partial_rounds;
        let words: String = row
            .iter()
            .copied()
            .chain([Fr::from(full as u64)])
            .map(|x| hex32(&x))
            .collect();
        let end = if r + 1 == c.ark.len() { ";" } else { "" };
        s.push_str(&format!("        hex\"{words}\"{end}\n"));
    }
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
}

fn from(b: u8) -> Address {
    Address::repeat_byte(b)
}

impl H {
    fn new() -> H {
        let mut chain = Chain::new(31337, 1_764_140_000);
        let (at, _) = deploy_code(&mut chain, from(1), &PoseidonHarness::BYTECODE, vec![]).unwrap();
        H { chain, at }
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
const PERM_GAS: u64 = 65_000;
const CALL_GAS: u64 = 25_000;

/// Gas of the library calls alone (`gasleft()` around them in the harness), printed as the
/// rows of docs/BENCHMARKS.md's gas table, with bounds that fail on a regression.
#[test]

fn gas_of_commitments_at_gemma_sizes() {
    let mut h = H::new();
    let mut rng = Rng(5);
    let one = h.view(&PoseidonHarness::hashGasCall {
        elems: vec![U256::from(1u64); 4],
    });
    println!(
        "| Poseidon (t = 5, 68 rounds), one permutation: hash of 4 elements | {} |",
        one.gas
    );
    let mut rows = vec![("one permutation", one.gas, PERM_GAS + CALL_GAS)];
    for n in [640usize, 2048] {
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
