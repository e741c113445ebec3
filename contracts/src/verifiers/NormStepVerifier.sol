// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepVerifier} from "../IStepVerifier.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {Codec} from "../lib/Codec.sol";
import {WideDigest} from "../lib/WideDigest.sol";
import {Rfc6962} from "../lib/Rfc6962.sol";

/// @title On-chain recomputation of the engine's RMSNorm steps, bit for bit (engine
///        `ops::rms_norm`, `fixed.rs`), with the norm weight vector opened against the
///        registered weights root.
/// @notice Steps (engine `trace.rs`), `L = numLayers` of the registered model, layer `l = stage - 1`:
///         - `ATTN_NORM` (op 0, stage 1..L): `Act16(rms_norm(h, blk.l.attn_norm.weight))`;
///           leaf 0 = `h`: stage 1 `(pos, 0, EMBED)`, later `(pos, stage - 1, RESID_FFN)`.
///         - `FFN_NORM` (op 10, stage 1..L): `Act16(rms_norm(h1, blk.l.ffn_norm.weight))`;
///           leaf 0 = `(pos, stage, RESID_ATTN)`.
///         - `FINAL_NORM` (op 0, stage L + 1): `Act16(rms_norm(h, output_norm.weight))`;
///           leaf 0 = `(pos, L, RESID_FFN)` (the embedding when `L = 0`).
///         - `RESID_ATTN` (op 9, stage 1..L) with a post norm (Gemma 3):
///           `h + rms_norm(o, blk.l.post_attention_norm.weight)` (wide, saturating);
///           leaf 0 = `h` as for `ATTN_NORM`, leaf 1 = `(pos, stage, O)`.
///         - `RESID_FFN` (op 15, stage 1..L) with a post norm:
///           `h1 + rms_norm(d, blk.l.post_ffw_norm.weight)`; leaf 0 = `(pos, stage, RESID_ATTN)`,
///           leaf 1 = `(pos, stage, DOWN)`.
///         Every input leaf must have the output's position and exactly these keys.
///
///         Witness = `abi.encode(bytes config, bytes[] inputs, bytes weights, uint256 leafIndex,
///         uint256 treeSize, bytes32[] path)`:
///         - `config`: the model's canonical config text (engine `Config::canonical`);
///           `SHA-256("OTR/model-config/v1\0" || config)` must be the registered `configHash`.
///           Its field `;eps=<16 hex digits>;` (the IEEE 754 bits of the RMSNorm epsilon) gives
///           `eps_q64 = round_half_even(eps * 2^64)` (engine `Config::eps_q64`).
///         - `inputs`: the input tensors in leaf order, wide (i64 little-endian); SHA-256 of each
///           must be its leaf's digest. The normalized tensor has `n >= 1` values; for a residual
///           both have `n`.
///         - `weights`: the norm vector's canonical bytes (engine `Tensor::canonical_bytes`):
///           `0x01 || u64le(n) || n x i32le` (16 fractional bits).
///         - `leafIndex`, `treeSize`, `path`: its RFC 6962 audit path in the weights tree, whose
///           leaf is `"OTR/weights-tensor/v1\0" || u16be(len(name)) || name || SHA-256(weights)`
///           (engine `weights::weights_leaf`), `name` the GGUF tensor name above.
///         The weights root passed in must be the registered one. The step holds when SHA-256
///         of the recomputed output's canonical bytes (Act16: `i32le(exp) || i16le` values;
///         wide: i64le) is the output leaf's digest. Any mismatch returns false; a witness that
///         is not that ABI encoding, or a malformed leaf, reverts.
contract NormStepVerifier is IStepVerifier {
    uint8 internal constant EMBED = 1;
    uint8 internal constant ATTN_NORM = 0;
    uint8 internal constant FINAL_NORM = 0;
    uint8 internal constant O = 8;
    uint8 internal constant RESID_ATTN = 9;
    uint8 internal constant FFN_NORM = 10;
    uint8 internal constant DOWN = 14;
    uint8 internal constant RESID_FFN = 15;

    /// Fractional bits of wide values (engine `W_FRAC`) and of norm weights (`NORM_FRAC`).
    uint256 internal constant W_FRAC = 32;
    uint256 internal constant NORM_FRAC = 16;
    uint256 internal constant U128_MAX = type(uint128).max;
    int256 internal constant I64_MAX = type(int64).max;
    int256 internal constant I64_MIN = type(int64).min;

    ModelRegistry public immutable registry;

    struct Witness {
        bytes config;
        bytes[] inputs;
        bytes weights;
        uint256 leafIndex;
        uint256 treeSize;
        bytes32[] path;
    }

    /// What a step key asks for: the weight vector's name and whether the step is a residual.
    struct Plan {
        string name;
        bool resid;
    }

    constructor(ModelRegistry registry_) {
        registry = registry_;
    }

    function verifyStep(
        bytes32 modelId,
        bytes32 weightsRoot,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata witness
    ) external view virtual returns (bool) {
        ModelRegistry.Model memory m = registry.model(modelId);
        if (m.weightsRoot != weightsRoot) return false;
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        (bool planned, Plan memory p) = plan(out, inLeaves, m.numLayers);
        if (!planned) return false;
        Witness memory w = decodeWitness(witness);
        if (w.inputs.length != inLeaves.length) return false;
        for (uint256 i = 0; i < inLeaves.length; ++i) {
            if (WideDigest.digestMemory(w.inputs[i]) != Codec.traceKey(inLeaves[i]).digest) return false;
        }
        bytes memory x = w.inputs[w.inputs.length - 1];
        uint256 n = x.length / 8;
        if (n == 0 || x.length % 8 != 0) return false;
        if (p.resid && w.inputs[0].length != x.length) return false;
        if (sha256(abi.encodePacked("OTR/model-config/v1\x00", w.config)) != m.configHash) return false;
        (bool epsOk, uint256 eps) = epsQ64(w.config);
        if (!epsOk) return false;
        if (!weightsOpen(p.name, w.weights, n, w.leafIndex, w.treeSize, w.path, weightsRoot)) return false;
        int256[] memory y = rmsNorm(x, w.weights, eps);
        bytes memory result = p.resid ? addWide(w.inputs[0], y) : act16Bytes(y);
        return (p.resid ? WideDigest.digestMemory(result) : sha256(result)) == out.digest;
    }

    /// @notice The weight vector and input shape a step key needs, checking the input leaf keys.
    function plan(Codec.TraceKey memory out, bytes[] calldata inLeaves, uint16 numLayers)
        internal
        pure
        returns (bool, Plan memory p)
    {
        uint256 s = out.stage;
        if (s == 0 || s > uint256(numLayers) + 1 || inLeaves.length == 0) return (false, p);
        Codec.TraceKey memory a = Codec.traceKey(inLeaves[0]);
        if (a.pos != out.pos) return (false, p);
        // The residual stream entering stage s: the embedding, or the previous layer's output.
        bool prevOk = s == 1 ? (a.stage == 0 && a.op == EMBED) : (a.stage == s - 1 && a.op == RESID_FFN);
        bool inLayerOk = a.stage == s && a.op == RESID_ATTN;
        if (s == uint256(numLayers) + 1) {
            if (out.op != FINAL_NORM || inLeaves.length != 1 || !prevOk) return (false, p);
            p.name = "output_norm.weight";
            return (true, p);
        }
        string memory blk = string.concat("blk.", decimal(s - 1), ".");
        if (out.op == ATTN_NORM || out.op == FFN_NORM) {
            if (inLeaves.length != 1) return (false, p);
            if (out.op == ATTN_NORM ? !prevOk : !inLayerOk) return (false, p);
            p.name = string.concat(blk, out.op == ATTN_NORM ? "attn_norm.weight" : "ffn_norm.weight");
            return (true, p);
        }
        if (out.op != RESID_ATTN && out.op != RESID_FFN) return (false, p);
        if (inLeaves.length != 2) return (false, p);
        Codec.TraceKey memory b = Codec.traceKey(inLeaves[1]);
        if (b.pos != out.pos || b.stage != s) return (false, p);
        if (out.op == RESID_ATTN) {
            if (!prevOk || b.op != O) return (false, p);
            p.name = string.concat(blk, "post_attention_norm.weight");
        } else {
            if (!inLayerOk || b.op != DOWN) return (false, p);
            p.name = string.concat(blk, "post_ffw_norm.weight");
        }
        p.resid = true;
        return (true, p);
    }

    function decodeWitness(bytes calldata witness) internal pure returns (Witness memory w) {
        (w.config, w.inputs, w.weights, w.leafIndex, w.treeSize, w.path) =
            abi.decode(witness, (bytes, bytes[], bytes, uint256, uint256, bytes32[]));
    }

    /// @notice Whether `w.weights` is a norm vector of `n` values whose leaf named `name` is in
    ///         the weights tree with root `root` (RFC 6962 audit path).
    function weightsOpen(
        string memory name,
        bytes memory t,
        uint256 n,
        uint256 leafIndex,
        uint256 treeSize,
        bytes32[] memory path,
        bytes32 root
    ) internal view returns (bool) {
        if (t.length != 9 + 4 * n || uint8(t[0]) != 1 || readU64(t, 1) != n) return false;
        bytes memory nm = bytes(name);
        bytes32 leaf = sha256(
            abi.encodePacked(bytes1(0x00), "OTR/weights-tensor/v1\x00", uint16(nm.length), nm, sha256(t))
        );
        (bool ok, bytes32 got) = rootFromPath(leaf, leafIndex, treeSize, path);
        return ok && got == root;
    }

    /// @notice `Rfc6962.rootFromPathMemory`: the root from a leaf hash, its index `m` in a tree of
    ///         `n` leaves and its audit path in memory; false on a malformed path.
    function rootFromPath(bytes32 leaf, uint256 m, uint256 n, bytes32[] memory path)
        internal
        view
        returns (bool, bytes32)
    {
        return Rfc6962.rootFromPathMemory(leaf, m, n, path);
    }

    /// @notice Engine `ops::rms_norm` of the wide vector `x` (i64le) with the weights of the
    ///         canonical norm tensor `t` (values from byte 9): `ms = round(sum x_i^2 / n)`
    ///         (half up, u128 saturating) `+ eps` (saturating); `rms = max(isqrt(ms), 1)`;
    ///         `inv = round(2^64 / rms)`; `y_i = sat64(round(round(x_i inv / 2^32) g_i / 2^16))`,
    ///         every rounding half to even.
    function rmsNorm(bytes memory x, bytes memory t, uint256 eps) public pure returns (int256[] memory y) {
        uint256 n = x.length / 8;
        if (t.length < 9 + 4 * n) revert();
        y = new int256[](n);
        uint256 ss;
        assembly ("memory-safe") {
            // Four i64le values per 32-byte word: swap the bytes of each 8-byte lane at once.
            let px := add(x, 0x20)
            let py := add(y, 0x20)
            for { let i := 0 } lt(i, n) { i := add(i, 4) } {
                let w := mload(add(px, mul(i, 8)))
                w := or(shr(8, and(w, 0xFF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00)),
                    shl(8, and(w, 0x00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF)))
                w := or(shr(16, and(w, 0xFFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000)),
                    shl(16, and(w, 0x0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF)))
                w := or(shr(32, and(w, 0xFFFFFFFF00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF00000000)),
                    shl(32, and(w, 0x00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF00000000FFFFFFFF)))
                let m := sub(n, i)
                if gt(m, 4) { m := 4 }
                for { let j := 0 } lt(j, m) { j := add(j, 1) } {
                    let v := signextend(7, shr(sub(192, mul(j, 64)), w))
                    mstore(add(py, mul(add(i, j), 0x20)), v)
                    ss := add(ss, mul(v, v)) // v^2 <= 2^126: no overflow over fewer than 2^129 terms
                }
            }
        }
        if (ss > U128_MAX) ss = U128_MAX;
        uint256 ms = ss / n + (2 * (ss % n) >= n ? 1 : 0);
        ms += eps;
        if (ms > U128_MAX) ms = U128_MAX;
        uint256 rms = isqrt(ms);
        if (rms == 0) rms = 1;
        uint256 inv = divRne(1 << 64, rms);
        assembly ("memory-safe") {
            let pt := add(t, 0x29) // values from byte 9
            let py := add(y, 0x20)
            let maxv := 0x7fffffffffffffff
            let minv := not(0x7fffffffffffffff)
            // Eight i32le weights per word: swap the bytes of each 4-byte lane at once.
            for { let i := 0 } lt(i, n) { i := add(i, 8) } {
                let w := mload(add(pt, mul(i, 4)))
                w := or(shr(8, and(w, 0xFF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00)),
                    shl(8, and(w, 0x00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF)))
                w := or(shr(16, and(w, 0xFFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000)),
                    shl(16, and(w, 0x0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF0000FFFF)))
                let m := sub(n, i)
                if gt(m, 8) { m := 8 }
                for { let j := 0 } lt(j, m) { j := add(j, 1) } {
                    let g := signextend(3, shr(sub(224, mul(j, 32)), w))
                    let p := add(py, mul(add(i, j), 0x20))
                    // u = round(v inv / 2^32), |v inv| <= 2^127; half to even.
                    let a := mul(mload(p), inv)
                    let u := sar(32, a)
                    let r := sub(a, shl(32, u))
                    if or(gt(r, 0x80000000), and(eq(r, 0x80000000), and(u, 1))) { u := add(u, 1) }
                    // z = round(u g / 2^16), |u g| < 2^127.
                    a := mul(u, g)
                    let z := sar(16, a)
                    r := sub(a, shl(16, z))
                    if or(gt(r, 0x8000), and(eq(r, 0x8000), and(z, 1))) { z := add(z, 1) }
                    if sgt(z, maxv) { z := maxv }
                    if slt(z, minv) { z := minv }
                    mstore(p, z)
                }
            }
        }
    }

    /// @notice Engine `Act16::from_wide(y).bytes()`: the smallest shift `s >= 0` with every
    ///         `|round(y_i / 2^s)| <= 32767`; `i32le(s - 32)` then each `round(y_i / 2^s)` as i16le.
    ///         `y` holds i64 values.
    function act16Bytes(int256[] memory y) public pure returns (bytes memory b) {
        uint256 n = y.length;
        uint256 max;
        assembly ("memory-safe") {
            let py := add(y, 0x20)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let v := mload(add(py, mul(i, 0x20)))
                if slt(v, 0) { v := sub(0, v) }
                if gt(v, max) { max := v }
            }
        }
        uint256 bits;
        while (bits < 256 && (max >> bits) != 0) ++bits;
        uint256 s = bits > 15 ? bits - 15 : 0;
        while (s < 64 && rshiftRne(int256(max), s) > 32767) ++s;
        b = new bytes(4 + 2 * n + 30); // slack: each 2-byte store writes a whole word
        uint256 e = uint256(int256(s) - int256(W_FRAC)) & 0xffffffff;
        assembly ("memory-safe") {
            function rne(v, sh) -> q {
                q := v
                if sh {
                    q := sar(sh, v)
                    let r := sub(v, shl(sh, q))
                    let half := shl(sub(sh, 1), 1)
                    if or(gt(r, half), and(eq(r, half), and(q, 1))) { q := add(q, 1) }
                }
            }
            let p := add(b, 0x20)
            // i32le(exp): the four bytes, little-endian, in the top of a word.
            mstore(p, shl(224, or(or(shl(24, and(e, 0xff)), shl(16, and(shr(8, e), 0xff))),
                or(shl(8, and(shr(16, e), 0xff)), and(shr(24, e), 0xff)))))
            let py := add(y, 0x20)
            let po := add(p, 4)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let q := and(rne(mload(add(py, mul(i, 0x20))), s), 0xffff)
                mstore(add(po, mul(i, 2)), shl(240, or(shl(8, and(q, 0xff)), shr(8, q))))
            }
            mstore(b, add(4, mul(n, 2)))
        }
    }

    /// @notice Element-wise saturating i64 sum of the wide vector `h` (i64le) and `y` (i64
    ///         values), as i64le.
    function addWide(bytes memory h, int256[] memory y) public pure returns (bytes memory c) {
        uint256 n = y.length;
        if (h.length < 8 * n) revert();
        c = new bytes(8 * n + 24); // slack: each 8-byte store writes a whole word
        assembly ("memory-safe") {
            function bswap64(w) -> r {
                r := or(shr(8, and(w, 0xFF00FF00FF00FF00)), shl(8, and(w, 0x00FF00FF00FF00FF)))
                r := or(shr(16, and(r, 0xFFFF0000FFFF0000)), shl(16, and(r, 0x0000FFFF0000FFFF)))
                r := or(shr(32, r), and(shl(32, r), 0xFFFFFFFF00000000))
            }
            let ph := add(h, 0x20)
            let py := add(y, 0x20)
            let pout := add(c, 0x20)
            let maxv := 0x7fffffffffffffff
            let minv := not(0x7fffffffffffffff)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let off := mul(i, 8)
                let s := add(signextend(7, bswap64(shr(192, mload(add(ph, off))))), mload(add(py, mul(i, 0x20))))
                if sgt(s, maxv) { s := maxv }
                if slt(s, minv) { s := minv }
                mstore(add(pout, off), shl(192, bswap64(and(s, 0xffffffffffffffff))))
            }
            mstore(c, mul(n, 8))
        }
    }

    /// @notice `eps_q64` from the canonical config text: the field `;eps=<16 lowercase hex>;`
    ///         holds the IEEE 754 bits of the epsilon; returns `round_half_even(eps * 2^64)`.
    ///         False when the field is missing or malformed, or the value is negative, not finite
    ///         or at least 2^128.
    function epsQ64(bytes memory c) public pure returns (bool, uint256) {
        uint256 len = c.length;
        for (uint256 i = 0; i + 22 <= len; ++i) {
            if (
                c[i] != ";" || c[i + 1] != "e" || c[i + 2] != "p" || c[i + 3] != "s" || c[i + 4] != "="
                    || c[i + 21] != ";"
            ) continue;
            uint256 bits;
            for (uint256 k = 0; k < 16; ++k) {
                uint8 ch = uint8(c[i + 5 + k]);
                uint256 d;
                if (ch >= 0x30 && ch <= 0x39) d = ch - 0x30;
                else if (ch >= 0x61 && ch <= 0x66) d = ch - 0x61 + 10;
                else return (false, 0);
                bits = (bits << 4) | d;
            }
            return f64TimesTwo64(bits);
        }
        return (false, 0);
    }

    /// @notice `round_half_even(f * 2^64)` of the f64 with bits `bits` (finite, non-negative).
    function f64TimesTwo64(uint256 bits) internal pure returns (bool, uint256) {
        if (bits >> 63 != 0) return (false, 0);
        uint256 e = (bits >> 52) & 0x7ff;
        uint256 f = bits & ((1 << 52) - 1);
        if (e == 0x7ff) return (false, 0);
        // value * 2^64 = mant * 2^(e2 + 64); e2 = e - 1075 (normal), -1074 (subnormal).
        uint256 mant = e == 0 ? f : f | (1 << 52);
        int256 sh = (e == 0 ? int256(1) : int256(e)) - 1075 + 64;
        if (sh >= 0) {
            if (sh > 75) return (false, 0);
            uint256 v = mant << uint256(sh);
            if (v > U128_MAX) return (false, 0);
            return (true, v);
        }
        uint256 r = uint256(-sh);
        if (r > 128) return (true, 0); // mant < 2^53: below one half
        return (true, uint256(rshiftRne(int256(mant), r)));
    }

    /// @notice `v / 2^s` rounded half to even (engine `rshift_rne`), `s < 255`.
    function rshiftRne(int256 v, uint256 s) internal pure returns (int256) {
        if (s == 0) return v;
        unchecked {
            int256 q = v >> s; // floor
            int256 r = v - (q << s); // 0 <= r < 2^s
            int256 half = int256(1) << (s - 1);
            if (r > half || (r == half && q & 1 == 1)) return q + 1;
            return q;
        }
    }

    /// @notice `round(num / d)` half to even, `d > 0` (engine `div_rne` for non-negative `num`).
    function divRne(uint256 num, uint256 d) internal pure returns (uint256) {
        uint256 q = num / d;
        uint256 r = num % d;
        if (2 * r > d || (2 * r == d && q & 1 == 1)) return q + 1;
        return q;
    }

    /// @notice `floor(sqrt(x))` (engine `isqrt_u128`, Newton from an over-estimate).
    function isqrt(uint256 x) internal pure returns (uint256) {
        if (x < 2) return x;
        uint256 bits;
        while ((x >> bits) != 0) ++bits;
        uint256 r = 1 << ((bits + 1) / 2);
        while (true) {
            uint256 y = (r + x / r) >> 1;
            if (y >= r) return r;
            r = y;
        }
        return r;
    }

    /// @notice Engine `fixed::shift_sat` for `|v| < 2^200`: `v * 2^s`, rounding half to even
    ///         when shifting right, saturating to i64.
    function shiftSat(int256 v, int256 s) internal pure returns (int256 r) {
        if (s >= 0) {
            if (v == 0) return 0;
            if (s >= 100) return v > 0 ? I64_MAX : I64_MIN;
            r = v << uint256(s);
        } else {
            r = uint256(-s) >= 127 ? int256(0) : rshiftRne(v, uint256(-s));
        }
        if (r > I64_MAX) return I64_MAX;
        if (r < I64_MIN) return I64_MIN;
    }

    function readU32(bytes memory b, uint256 off) internal pure returns (uint256) {
        return uint256(uint8(b[off])) | uint256(uint8(b[off + 1])) << 8 | uint256(uint8(b[off + 2])) << 16
            | uint256(uint8(b[off + 3])) << 24;
    }

    /// @notice Engine `kernels::row_output(scalar::dot(q, bs, x.q), rm, re, x.exp)` of one
    ///         committed row (`u32le(rm) || i32le(re) || block scales || quants`) and an Act16
    ///         vector (`i32le(exp) || i16le[cols]`).
    function rowDot(bytes memory row, bytes memory x, uint256 cols) internal pure returns (int256) {
        int256 acc = 0;
        // No overflow: per block |sum q x| <= 32 x 127 x 32768, times bs <= 255, summed over
        // cols / 32 blocks; times rm < 2^32: far below 2^200 (`shiftSat`'s domain).
        unchecked {
            uint256 qOff = 8 + cols / 32;
            for (uint256 b = 0; b < cols / 32; ++b) {
                int256 s = 0;
                for (uint256 i = 32 * b; i < 32 * b + 32; ++i) {
                    int256 q;
                    int256 xi;
                    assembly ("memory-safe") {
                        q := signextend(0, byte(0, mload(add(add(row, 0x20), add(qOff, i)))))
                        let p := add(add(x, 0x20), add(4, mul(2, i)))
                        // i16 little-endian.
                        xi := signextend(1, or(byte(0, mload(p)), shl(8, byte(0, mload(add(p, 1))))))
                    }
                    s += q * xi;
                }
                int256 bs;
                assembly ("memory-safe") {
                    bs := byte(0, mload(add(add(row, 0x20), add(8, b))))
                }
                acc += bs * s;
            }
        }
        int256 rm = int256(readU32(row, 0));
        return shiftSat(acc * rm, readI32(row, 4) + readI32(x, 0) + 32);
    }

    function readI64(bytes memory b, uint256 off) internal pure returns (int256 v) {
        assembly ("memory-safe") {
            let w := shr(192, mload(add(add(b, 0x20), off)))
            w := or(shr(8, and(w, 0xFF00FF00FF00FF00)), shl(8, and(w, 0x00FF00FF00FF00FF)))
            w := or(shr(16, and(w, 0xFFFF0000FFFF0000)), shl(16, and(w, 0x0000FFFF0000FFFF)))
            w := or(shr(32, w), and(shl(32, w), 0xFFFFFFFF00000000))
            v := signextend(7, w)
        }
    }

    function readI32(bytes memory b, uint256 off) internal pure returns (int256 v) {
        assembly ("memory-safe") {
            let w := shr(224, mload(add(add(b, 0x20), off)))
            w := or(shr(8, and(w, 0xFF00FF00)), shl(8, and(w, 0x00FF00FF)))
            w := or(shr(16, w), and(shl(16, w), 0xFFFF0000))
            v := signextend(3, w)
        }
    }

    function readU64(bytes memory b, uint256 off) internal pure returns (uint256) {
        return uint256(readI64(b, off)) & 0xffffffffffffffff;
    }

    /// @notice Decimal digits of `v`.
    function decimal(uint256 v) internal pure returns (string memory) {
        if (v == 0) return "0";
        uint256 len;
        for (uint256 t = v; t != 0; t /= 10) ++len;
        bytes memory s = new bytes(len);
        for (; v != 0; v /= 10) s[--len] = bytes1(uint8(0x30 + v % 10));
        return string(s);
    }
}
