// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepVerifier} from "../IStepVerifier.sol";
import {Codec} from "../lib/Codec.sol";
import {WideDigest} from "../lib/WideDigest.sol";

/// @title On-chain recomputation of the residual adds of the Llama-style models (no post norms):
///        `h1 = h + o` (engine `layer_op::RESID_ATTN`) and `h2 = h1 + d` (`RESID_FFN`).
/// @notice RESID_ATTN at `(pos, stage)`: leaf 0 = the residual stream `h` (stage 1:
///         `(pos, 0, EMBED)`; later stages: `(pos, stage - 1, RESID_FFN)`), leaf 1 =
///         `(pos, stage, O)`. RESID_FFN: leaf 0 = `(pos, stage, RESID_ATTN)`, leaf 1 =
///         `(pos, stage, DOWN)`. Witness = `abi.encode(bytes a, bytes b)`, the two input tensors
///         (wide: i64 little-endian). The output is the element-wise saturating i64 sum (engine
///         `ops::add`); the step holds when the three SHA-256 digests match the leaves.
contract WideAddStepVerifier is IStepVerifier {
    uint8 internal constant EMBED = 1;
    uint8 internal constant O = 8;
    uint8 internal constant RESID_ATTN = 9;
    uint8 internal constant DOWN = 14;
    uint8 internal constant RESID_FFN = 15;

    function verifyStep(bytes32, bytes32, bytes calldata outLeaf, bytes[] calldata inLeaves, bytes calldata witness)
        external
        view
        returns (bool)
    {
        if (inLeaves.length != 2) return false;
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        Codec.TraceKey memory h = Codec.traceKey(inLeaves[0]);
        Codec.TraceKey memory o = Codec.traceKey(inLeaves[1]);
        if (out.stage == 0 || h.pos != out.pos || o.pos != out.pos || o.stage != out.stage) return false;
        if (out.op == RESID_ATTN) {
            bool hOk = out.stage == 1
                ? (h.stage == 0 && h.op == EMBED)
                : (h.stage == out.stage - 1 && h.op == RESID_FFN);
            if (!hOk || o.op != O) return false;
        } else if (out.op == RESID_FFN) {
            if (h.stage != out.stage || h.op != RESID_ATTN || o.op != DOWN) return false;
        } else {
            return false;
        }
        (bytes memory a, bytes memory b) = abi.decode(witness, (bytes, bytes));
        if (a.length != b.length || a.length % 8 != 0) return false;
        if (WideDigest.digestMemory(a) != h.digest || WideDigest.digestMemory(b) != o.digest) return false;
        return WideDigest.digestMemory(addWide(a, b)) == out.digest;
    }

    /// @notice Element-wise saturating sum of two i64 little-endian vectors.
    function addWide(bytes memory a, bytes memory b) public pure returns (bytes memory c) {
        uint256 n = a.length / 8;
        c = new bytes(a.length + 24); // slack: each 8-byte store writes a whole word
        assembly ("memory-safe") {
            function bswap64(x) -> y {
                y := or(shr(8, and(x, 0xFF00FF00FF00FF00)), shl(8, and(x, 0x00FF00FF00FF00FF)))
                y := or(shr(16, and(y, 0xFFFF0000FFFF0000)), shl(16, and(y, 0x0000FFFF0000FFFF)))
                y := or(shr(32, y), and(shl(32, y), 0xFFFFFFFF00000000))
            }
            let pa := add(a, 0x20)
            let pb := add(b, 0x20)
            let pout := add(c, 0x20)
            let maxv := 0x7fffffffffffffff
            let minv := not(0x7fffffffffffffff) // -2^63 as a two's-complement word
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let off := mul(i, 8)
                let x := signextend(7, bswap64(shr(192, mload(add(pa, off)))))
                let y := signextend(7, bswap64(shr(192, mload(add(pb, off)))))
                let s := add(x, y)
                if sgt(s, maxv) { s := maxv }
                if slt(s, minv) { s := minv }
                mstore(add(pout, off), shl(192, bswap64(and(s, 0xffffffffffffffff))))
            }
            mstore(c, mul(n, 8))
        }
    }
}
