//! The Solidity Groth16 verifier generator: one contract per verifying key, checking proofs with
//! the BN254 precompiles `ecAdd` (0x06), `ecMul` (0x07) and `ecPairing` (0x08) (EIP-196/197).
//!
//! The generated contract implements `IGroth16Verifier.verifyProof(uint256[8], uint256[])`:
//! proof `[A.x, A.y, B.x.c1, B.x.c0, B.y.c1, B.y.c0, C.x, C.y]` (EIP-197 puts the imaginary
//! part of a G2 coordinate first), public inputs as canonical scalars. It computes
//! `vk_x = IC[0] + sum(x_i * IC[i+1])` and checks
//! `e(-A, B) * e(alpha, beta) * e(vk_x, gamma) * e(C, delta) = 1` — the same equation as
//! `otr_core::zk::PreparedVk::verify` (PROTOCOL §7.3). It returns `false` (never reverts) for a
//! wrong input count, a coordinate not below the base field modulus, a public input not below
//! the scalar field order, a point off the curve or outside the subgroup, or a failed pairing.

use alloy_primitives::U256;
use ark_bn254::{Bn254, Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ff::{BigInteger, PrimeField};
use ark_groth16::{Proof, VerifyingKey};
use otr_core::zk::PreparedVk;
use std::fmt::Write;

fn fq_word(x: &Fq) -> [u8; 32] {
    let be = x.into_bigint().to_bytes_be();
    let mut out = [0u8; 32];
    out[32 - be.len()..].copy_from_slice(&be);
    out
}

fn fq_hex(x: &Fq) -> String {
    format!("0x{}", hex::encode(fq_word(x)))
}

fn fq_u256(x: &Fq) -> U256 {
    U256::from_be_bytes(fq_word(x))
}

/// G2 coordinates in the EIP-197 order: x.c1, x.c0, y.c1, y.c0.
fn g2_words(p: &G2Affine) -> [Fq; 4] {
    let (x, y): (Fq2, Fq2) = (p.x, p.y);
    [x.c1, x.c0, y.c1, y.c0]
}

/// The proof as the `uint256[8]` argument of `verifyProof`.
pub fn proof_calldata(proof: &Proof<Bn254>) -> [U256; 8] {
    let b = g2_words(&proof.b);
    [
        fq_u256(&proof.a.x),
        fq_u256(&proof.a.y),
        fq_u256(&b[0]),
        fq_u256(&b[1]),
        fq_u256(&b[2]),
        fq_u256(&b[3]),
        fq_u256(&proof.c.x),
        fq_u256(&proof.c.y),
    ]
}

/// Public inputs as the `uint256[]` argument of `verifyProof`.
pub fn inputs_calldata(inputs: &[Fr]) -> Vec<U256> {
    inputs
        .iter()
        .map(|x| U256::from_be_bytes(otr_core::zk::groth16::scalar_to_be_bytes(x)))
        .collect()
}

/// The 24 constructor words of `verifiers/MatVecGroth16Verifier.sol` for a key with 4 public
/// inputs: `alpha (x, y)`, `beta`, `gamma`, `delta` (each `x.c1, x.c0, y.c1, y.c0`), then
/// `IC[0..=4]` as `x, y`. `None` when the key does not have exactly 4 public inputs.
pub fn vk_words(vk: &VerifyingKey<Bn254>) -> Option<[U256; 24]> {
    if vk.gamma_abc_g1.len() != 5 {
        return None;
    }
    let mut w: Vec<U256> = vec![fq_u256(&vk.alpha_g1.x), fq_u256(&vk.alpha_g1.y)];
    for p in [&vk.beta_g2, &vk.gamma_g2, &vk.delta_g2] {
        w.extend(g2_words(p).iter().map(fq_u256));
    }
    for p in &vk.gamma_abc_g1 {
        w.extend([fq_u256(&p.x), fq_u256(&p.y)]);
    }
    w.try_into().ok()
}

/// The most public inputs a generated verifier supports: its IC table must keep the contract
/// under the 24 KiB code size limit (EIP-170).
pub const MAX_GENERATED_INPUTS: usize = 300;

/// Why no verifier could be generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerateError {
    /// The contract name is not a Solidity identifier.
    BadName(String),
    /// More public inputs than [`MAX_GENERATED_INPUTS`].
    TooManyInputs(usize),
}

impl std::fmt::Display for GenerateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GenerateError::BadName(n) => write!(f, "{n:?} is not a Solidity identifier"),
            GenerateError::TooManyInputs(n) => write!(
                f,
                "{n} public inputs: a generated verifier supports at most {MAX_GENERATED_INPUTS}"
            ),
        }
    }
}

impl std::error::Error for GenerateError {}

fn g1_line(out: &mut String, name: &str, p: &G1Affine) {
    let _ = writeln!(
        out,
        "    uint256 internal constant {name}_X = {};",
        fq_hex(&p.x)
    );
    let _ = writeln!(
        out,
        "    uint256 internal constant {name}_Y = {};",
        fq_hex(&p.y)
    );
}

fn g2_line(out: &mut String, name: &str, p: &G2Affine) {
    let w = g2_words(p);
    for (suffix, v) in ["X1", "X0", "Y1", "Y0"].iter().zip(w.iter()) {
        let _ = writeln!(
            out,
            "    uint256 internal constant {name}_{suffix} = {};",
            fq_hex(v)
        );
    }
}

/// Renders the Solidity source of a verifier contract named `name` for `vk`.
pub fn render_verifier(vk: &PreparedVk, name: &str) -> Result<String, GenerateError> {
    let ok_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok_name {
        return Err(GenerateError::BadName(name.to_string()));
    }
    let key: &VerifyingKey<Bn254> = vk.vk();
    let n = key.gamma_abc_g1.len() - 1;
    if n > MAX_GENERATED_INPUTS {
        return Err(GenerateError::TooManyInputs(n));
    }
    let mut ic = String::new();
    for p in &key.gamma_abc_g1 {
        ic.push_str(&hex::encode(fq_word(&p.x)));
        ic.push_str(&hex::encode(fq_word(&p.y)));
    }
    let mut consts = String::new();
    g1_line(&mut consts, "ALPHA", &key.alpha_g1);
    g2_line(&mut consts, "BETA", &key.beta_g2);
    g2_line(&mut consts, "GAMMA", &key.gamma_g2);
    g2_line(&mut consts, "DELTA", &key.delta_g2);
    let key_id = hex::encode(vk.key_id());
    Ok(format!(
        r#"// SPDX-License-Identifier: Apache-2.0
// Generated by otr-contracts (`otr-contracts gen-verifier`) from a Groth16/BN254 verifying key.
// Do not edit: regenerate. Key id (PROTOCOL §7.3): 0x{key_id}
pragma solidity 0.8.37;

import {{IGroth16Verifier}} from "../IGroth16Verifier.sol";

/// @title Groth16 verifier for key 0x{key_id} ({n} public inputs).
contract {name} is IGroth16Verifier {{
    /// SHA-256("OTR/groth16-vk/v1\0" || compressed key).
    bytes32 public constant KEY_ID = 0x{key_id};
    uint256 public constant INPUT_COUNT = {n};
    /// BN254 scalar field order and base field modulus.
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
{consts}    /// IC[0..={n}] as x || y, 64 bytes each.
    bytes internal constant IC = hex"{ic}";

    /// @inheritdoc IGroth16Verifier
    function verifyProof(uint256[8] calldata proof, uint256[] calldata input) external view returns (bool ok) {{
        if (input.length != INPUT_COUNT) return false;
        for (uint256 i = 0; i < 8; ++i) {{
            if (proof[i] >= Q) return false;
        }}
        bytes memory ic = IC;
        assembly ("memory-safe") {{
            let f := mload(0x40)
            let icp := add(ic, 0x20)
            // vk_x = IC[0] + sum(input[i] * IC[i + 1]), accumulated at f.
            mstore(f, mload(icp))
            mstore(add(f, 0x20), mload(add(icp, 0x20)))
            ok := 1
            for {{ let i := 0 }} lt(i, input.length) {{ i := add(i, 1) }} {{
                let s := calldataload(add(input.offset, mul(i, 0x20)))
                if iszero(lt(s, R)) {{
                    ok := 0
                    break
                }}
                let p := add(icp, mul(add(i, 1), 0x40))
                mstore(add(f, 0x40), mload(p))
                mstore(add(f, 0x60), mload(add(p, 0x20)))
                mstore(add(f, 0x80), s)
                if iszero(staticcall(gas(), 0x07, add(f, 0x40), 0x60, add(f, 0x40), 0x40)) {{
                    ok := 0
                    break
                }}
                if iszero(staticcall(gas(), 0x06, f, 0x80, f, 0x40)) {{
                    ok := 0
                    break
                }}
            }}
            if ok {{
                // e(-A, B) * e(alpha, beta) * e(vk_x, gamma) * e(C, delta) == 1
                let p := add(f, 0x40)
                mstore(p, calldataload(proof))
                mstore(add(p, 0x20), mod(sub(Q, calldataload(add(proof, 0x20))), Q))
                calldatacopy(add(p, 0x40), add(proof, 0x40), 0x80)
                mstore(add(p, 0xc0), ALPHA_X)
                mstore(add(p, 0xe0), ALPHA_Y)
                mstore(add(p, 0x100), BETA_X1)
                mstore(add(p, 0x120), BETA_X0)
                mstore(add(p, 0x140), BETA_Y1)
                mstore(add(p, 0x160), BETA_Y0)
                mstore(add(p, 0x180), mload(f))
                mstore(add(p, 0x1a0), mload(add(f, 0x20)))
                mstore(add(p, 0x1c0), GAMMA_X1)
                mstore(add(p, 0x1e0), GAMMA_X0)
                mstore(add(p, 0x200), GAMMA_Y1)
                mstore(add(p, 0x220), GAMMA_Y0)
                calldatacopy(add(p, 0x240), add(proof, 0xc0), 0x40)
                mstore(add(p, 0x280), DELTA_X1)
                mstore(add(p, 0x2a0), DELTA_X0)
                mstore(add(p, 0x2c0), DELTA_Y1)
                mstore(add(p, 0x2e0), DELTA_Y0)
                // Yul evaluates arguments right to left: call first, then read its output.
                let success := staticcall(gas(), 0x08, p, 0x300, 0x00, 0x20)
                ok := and(success, eq(mload(0x00), 1))
            }}
        }}
    }}
}}
"#
    ))
}
