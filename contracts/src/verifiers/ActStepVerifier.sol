// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ModelRegistry} from "../ModelRegistry.sol";
import {Codec} from "../lib/Codec.sol";
import {WideDigest} from "../lib/WideDigest.sol";
import {NormStepVerifier} from "./NormStepVerifier.sol";

/// @title On-chain recomputation of the gated activation (engine `ops::gated`, then
///        `Act16::from_wide`): the step `ACT` (layer op 13), bit for bit.
/// @notice Step `(pos, stage, ACT)`, `1 <= stage <= numLayers`: leaf 0 must be
///         `(pos, stage, GATE)`, leaf 1 `(pos, stage, UP)`, both wide vectors of the same length
///         `n >= 1`. Output: `Act16::from_wide(y)`, `y_i = sat64(round(f(g_i) u_i / 2^32))` (half
///         to even), `f` the model's activation table (GELU-tanh for Gemma 3, SiLU for Llama;
///         engine `tables::InterpTable::eval`): `0` for `g <= lo`, `g` for `g >= hi =
///         lo + (count - 1) 2^(32 - stepBits)`, else with `off = g - lo`, `k = off >> (32 -
///         stepBits)`, `r = off mod 2^(32 - stepBits)`: `v_k + round((v_{k+1} - v_k) r /
///         2^(32 - stepBits))`.
///
///         The table is supplied whole in the witness and must hash to `tableDigest`, the
///         deployment parameter (engine `Model::act_table_digest`):
///         `SHA-256("OTR/interp-table/v1\0" || table)`, `table = i64le(lo) || u32le(stepBits) ||
///         u32le(count) || count x i64le(v)` (engine `InterpTable::canonical_bytes`). Supplying
///         the whole table costs less gas than opening the two entries of each of the `n`
///         lookups in a Merkle tree (docs/BENCHMARKS.md).
///
///         Witness = `abi.encode(bytes gate, bytes up, bytes table)`: the two input tensors
///         (i64le; SHA-256 = the leaves' digests) and the table. Trusted: `tableDigest` (anyone
///         can recompute it from the engine) and the registry.
contract ActStepVerifier is NormStepVerifier {
    uint8 internal constant GATE = 11;
    uint8 internal constant UP = 12;
    uint8 internal constant ACT = 13;

    bytes32 public immutable tableDigest;

    constructor(ModelRegistry registry_, bytes32 tableDigest_) NormStepVerifier(registry_) {
        tableDigest = tableDigest_;
    }

    function verifyStep(
        bytes32 modelId,
        bytes32 weightsRoot,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata witness
    ) external view override returns (bool) {
        ModelRegistry.Model memory m = registry.model(modelId);
        if (m.weightsRoot != weightsRoot) return false;
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        if (out.op != ACT || out.stage == 0 || out.stage > m.numLayers || inLeaves.length != 2) return false;
        Codec.TraceKey memory g = Codec.traceKey(inLeaves[0]);
        Codec.TraceKey memory u = Codec.traceKey(inLeaves[1]);
        if (g.pos != out.pos || g.stage != out.stage || g.op != GATE) return false;
        if (u.pos != out.pos || u.stage != out.stage || u.op != UP) return false;
        (bytes memory gate, bytes memory up, bytes memory table) = abi.decode(witness, (bytes, bytes, bytes));
        if (gate.length == 0 || gate.length % 8 != 0 || up.length != gate.length) return false;
        if (WideDigest.digestMemory(gate) != g.digest || WideDigest.digestMemory(up) != u.digest) return false;
        if (sha256(abi.encodePacked("OTR/interp-table/v1\x00", table)) != tableDigest) return false;
        (bool ok, int256[] memory y) = gated(gate, up, table);
        if (!ok) return false;
        return sha256(act16Bytes(y)) == out.digest;
    }

    /// @notice Engine `ops::gated(g, u, f)` with `f` the canonical table `table`: false when the
    ///         table is malformed (under 2 entries, length not `16 + 8 count`, `stepBits > 32`).
    function gated(bytes memory gate, bytes memory up, bytes memory table)
        public
        pure
        returns (bool, int256[] memory y)
    {
        uint256 n = gate.length / 8;
        if (up.length < 8 * n || table.length < 16) return (false, y);
        int256 lo = readI64(table, 0);
        uint256 stepBits = uint256(readI32(table, 8)) & 0xffffffff;
        uint256 count = uint256(readI32(table, 12)) & 0xffffffff;
        if (count < 2 || table.length != 16 + 8 * count || stepBits > 32) return (false, y);
        uint256 shift = 32 - stepBits;
        int256 hi = lo + int256((count - 1) << shift);
        y = new int256[](n);
        assembly ("memory-safe") {
            function bswap64(w) -> r {
                r := or(shr(8, and(w, 0xFF00FF00FF00FF00)), shl(8, and(w, 0x00FF00FF00FF00FF)))
                r := or(shr(16, and(r, 0xFFFF0000FFFF0000)), shl(16, and(r, 0x0000FFFF0000FFFF)))
                r := or(shr(32, r), and(shl(32, r), 0xFFFFFFFF00000000))
            }
            function i64at(p) -> v {
                v := signextend(7, bswap64(shr(192, mload(p))))
            }
            // round(v / 2^s) half to even, s >= 1.
            function rne(v, s) -> q {
                q := sar(s, v)
                let r := sub(v, shl(s, q))
                let half := shl(sub(s, 1), 1)
                if or(gt(r, half), and(eq(r, half), and(q, 1))) { q := add(q, 1) }
            }
            let pg := add(gate, 0x20)
            let pu := add(up, 0x20)
            let pv := add(table, 0x30) // values from byte 16
            let py := add(y, 0x20)
            let mask := sub(shl(shift, 1), 1)
            let maxv := 0x7fffffffffffffff
            let minv := not(0x7fffffffffffffff)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let x := i64at(add(pg, mul(i, 8)))
                let f := 0
                if sgt(x, lo) {
                    f := x
                    if slt(x, hi) {
                        let off := sub(x, lo)
                        let k := shr(shift, off)
                        let a := i64at(add(pv, mul(k, 8)))
                        let b := i64at(add(pv, mul(add(k, 1), 8)))
                        f := a
                        if shift { f := add(a, rne(mul(sub(b, a), and(off, mask)), shift)) }
                    }
                }
                let z := rne(mul(f, i64at(add(pu, mul(i, 8)))), 32)
                if sgt(z, maxv) { z := maxv }
                if slt(z, minv) { z := minv }
                mstore(add(py, mul(i, 0x20)), z)
            }
        }
        return (true, y);
    }
}
