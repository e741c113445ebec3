// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IGroth16Verifier} from "../IGroth16Verifier.sol";

/// @title Groth16/BN254 verifier of one matrix-vector unit shape, its key fixed at deployment.
/// @notice One bytecode for every shape `(rows, cols, R)` of the spot-check unit circuit
///         (docs/PROTOCOL.md §7.5): the verifying key is constructor data, kept in immutables,
///         so a new shape (a new ceremony) is a new deployment of the same audited code instead
///         of a newly generated contract. The check is the generated verifiers' one
///         (`contracts/src/groth16_sol.rs`, PROTOCOL §7.3): `vk_x = IC[0] + sum(x_i IC[i+1])` by
///         `ecMul` / `ecAdd`, then `e(-A, B) e(alpha, beta) e(vk_x, gamma) e(C, delta) = 1` by
///         `ecPairing`. Exactly 4 public inputs (`C_W, row, C_x, C_y`).
///         Key words, in order (G2 coordinates imaginary part first, as EIP-197):
///         `alpha.x, alpha.y, beta.x1, beta.x0, beta.y1, beta.y0, gamma (4), delta (4),
///         IC[0].x, IC[0].y, .., IC[4].x, IC[4].y` (24 words; `otr_contracts::groth16_sol::vk_words`).
///         Returns false (never reverts) for a wrong input count, a coordinate not below the base
///         field modulus, an input not below the scalar field order, a point off the curve or
///         outside its subgroup (the precompiles refuse it), or a failed pairing.
contract MatVecGroth16Verifier is IGroth16Verifier {
    uint256 public constant INPUT_COUNT = 4;
    /// BN254 scalar field order and base field modulus.
    uint256 internal constant R = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583;

    uint256 internal immutable k0;
    uint256 internal immutable k1;
    uint256 internal immutable k2;
    uint256 internal immutable k3;
    uint256 internal immutable k4;
    uint256 internal immutable k5;
    uint256 internal immutable k6;
    uint256 internal immutable k7;
    uint256 internal immutable k8;
    uint256 internal immutable k9;
    uint256 internal immutable k10;
    uint256 internal immutable k11;
    uint256 internal immutable k12;
    uint256 internal immutable k13;
    uint256 internal immutable k14;
    uint256 internal immutable k15;
    uint256 internal immutable k16;
    uint256 internal immutable k17;
    uint256 internal immutable k18;
    uint256 internal immutable k19;
    uint256 internal immutable k20;
    uint256 internal immutable k21;
    uint256 internal immutable k22;
    uint256 internal immutable k23;

    /// A key word is not below the base field modulus.
    error KeyWordNotInField(uint256 index);

    constructor(uint256[24] memory vk) {
        for (uint256 i = 0; i < 24; ++i) {
            if (vk[i] >= Q) revert KeyWordNotInField(i);
        }
        k0 = vk[0];
        k1 = vk[1];
        k2 = vk[2];
        k3 = vk[3];
        k4 = vk[4];
        k5 = vk[5];
        k6 = vk[6];
        k7 = vk[7];
        k8 = vk[8];
        k9 = vk[9];
        k10 = vk[10];
        k11 = vk[11];
        k12 = vk[12];
        k13 = vk[13];
        k14 = vk[14];
        k15 = vk[15];
        k16 = vk[16];
        k17 = vk[17];
        k18 = vk[18];
        k19 = vk[19];
        k20 = vk[20];
        k21 = vk[21];
        k22 = vk[22];
        k23 = vk[23];
    }

    /// @notice The verifying key words, in the constructor's order.
    function verifyingKey() public view returns (uint256[24] memory k) {
        k = [
            k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11,
            k12, k13, k14, k15, k16, k17, k18, k19, k20, k21, k22, k23
        ];
    }

    /// @inheritdoc IGroth16Verifier
    function verifyProof(uint256[8] calldata proof, uint256[] calldata input) external view returns (bool ok) {
        if (input.length != INPUT_COUNT) return false;
        for (uint256 i = 0; i < 8; ++i) {
            if (proof[i] >= Q) return false;
        }
        uint256[24] memory k = verifyingKey();
        assembly ("memory-safe") {
            let f := mload(0x40)
            // IC points start at word 14 of the key.
            let icp := add(k, mul(14, 0x20))
            // vk_x = IC[0] + sum(input[i] * IC[i + 1]), accumulated at f.
            mstore(f, mload(icp))
            mstore(add(f, 0x20), mload(add(icp, 0x20)))
            ok := 1
            for { let i := 0 } lt(i, 4) { i := add(i, 1) } {
                let s := calldataload(add(input.offset, mul(i, 0x20)))
                if iszero(lt(s, R)) {
                    ok := 0
                    break
                }
                let p := add(icp, mul(add(i, 1), 0x40))
                mstore(add(f, 0x40), mload(p))
                mstore(add(f, 0x60), mload(add(p, 0x20)))
                mstore(add(f, 0x80), s)
                if iszero(staticcall(gas(), 0x07, add(f, 0x40), 0x60, add(f, 0x40), 0x40)) {
                    ok := 0
                    break
                }
                if iszero(staticcall(gas(), 0x06, f, 0x80, f, 0x40)) {
                    ok := 0
                    break
                }
            }
            if ok {
                // e(-A, B) * e(alpha, beta) * e(vk_x, gamma) * e(C, delta) == 1
                let p := add(f, 0x40)
                mstore(p, calldataload(proof))
                mstore(add(p, 0x20), mod(sub(Q, calldataload(add(proof, 0x20))), Q))
                calldatacopy(add(p, 0x40), add(proof, 0x40), 0x80)
                // alpha (words 0, 1) and beta (2..5)
                mstore(add(p, 0xc0), mload(k))
                mstore(add(p, 0xe0), mload(add(k, 0x20)))
                mstore(add(p, 0x100), mload(add(k, 0x40)))
                mstore(add(p, 0x120), mload(add(k, 0x60)))
                mstore(add(p, 0x140), mload(add(k, 0x80)))
                mstore(add(p, 0x160), mload(add(k, 0xa0)))
                mstore(add(p, 0x180), mload(f))
                mstore(add(p, 0x1a0), mload(add(f, 0x20)))
                // gamma (6..9)
                mstore(add(p, 0x1c0), mload(add(k, 0xc0)))
                mstore(add(p, 0x1e0), mload(add(k, 0xe0)))
                mstore(add(p, 0x200), mload(add(k, 0x100)))
                mstore(add(p, 0x220), mload(add(k, 0x120)))
                calldatacopy(add(p, 0x240), add(proof, 0xc0), 0x40)
                // delta (10..13)
                mstore(add(p, 0x280), mload(add(k, 0x140)))
                mstore(add(p, 0x2a0), mload(add(k, 0x160)))
                mstore(add(p, 0x2c0), mload(add(k, 0x180)))
                mstore(add(p, 0x2e0), mload(add(k, 0x1a0)))
                // Yul evaluates arguments right to left: call first, then read its output.
                let success := staticcall(gas(), 0x08, p, 0x300, 0x00, 0x20)
                ok := and(success, eq(mload(0x00), 1))
            }
        }
    }
}
