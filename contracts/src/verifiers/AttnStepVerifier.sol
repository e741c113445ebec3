// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ModelRegistry} from "../ModelRegistry.sol";
import {Codec} from "../lib/Codec.sol";
import {ConfigText} from "../lib/ConfigText.sol";
import {NormStepVerifier} from "./NormStepVerifier.sol";
import {IStepLimit} from "../IStepLimit.sol";
import {IRefutableStep} from "../IRefutableStep.sol";

/// @title On-chain recomputation of attention (engine `Model::attention`, `ops::attend`, then
///        `Act16::from_wide`): the step `ATTN` (layer op 7), bit for bit.
/// @notice Step `(pos, stage, ATTN)`, layer `l = stage - 1` (`1 <= stage <= numLayers`). The
///         visible positions are `lo..=pos`, `lo = 0` for a global layer (`global_every = 0` or
///         `(l + 1) % global_every = 0`) or without a window (`sliding_window = 0`), else
///         `max(0, pos + 1 - sliding_window)`; `cnt = pos + 1 - lo`. Input leaves, in this
///         order: `(pos, stage, Q_ROPE)`, then `(j, stage, K_ROPE)` for `j = lo..=pos`, then
///         `(j, stage, V_CACHE)` for `j = lo..=pos` (`1 + 2 cnt` leaves).
///
///         Per query head `h` (`n_heads` of them, kv head `h / (n_heads / n_kv_heads)`), over
///         the visible keys `k_j` and values `v_j` of its kv head (Act16, `e` their exponents):
///         `s_j = sat64(shift(dot(q, k_j) * scale, e_q + e_kj))` (`scale = isqrt(2^64 /
///         head_dim)`; a left shift saturates, a right one rounds half to even); `m = max s_j`;
///         `p_j = exp_neg(sat64(s_j - m))` by the committed 2^-x table; `E = max e_vj`;
///         `acc = sum_j round(p_j / 2^(E - e_vj)) v_j`; `out = round(acc 2^(E + 32) / max(sum p_j,
///         1))` (0 or saturated when `E + 32 > 60`), saturated to i64. The output is
///         `Act16::from_wide` of all heads' values concatenated. Every Act16 exponent must be in
///         `[-32, 32]` (the engine's range), else the step is not proven.
///
///         `exp_neg(d)`: `t = round(d * LOG2E_Q30 / 2^30)` (at least `i64::MIN`), `a = -t`, `n =
///         a >> 32` (`0` when `n > 31`), `f = a mod 2^32`, `i = f >> 22`, `r = f mod 2^22`;
///         `round((T_i + round((T_(i+1) - T_i) r / 2^22)) / 2^n)`, `T` the table `2^(-k/1024)`
///         (`k = 0..=1024`, 30 fractional bits; engine `tables().exp2_neg`), supplied whole in
///         the witness and checked against `expTableDigest` (deployment parameter;
///         `SHA-256("OTR/exp2-table/v1\0" || 1025 x i64le)`, engine `tables::exp2_table_digest`).
///
///         Witness = `abi.encode(bytes config, bytes q, bytes ks, bytes vs, bytes table)`: the
///         canonical config text (hash = the registered `configHash`; `n_heads`, `n_kv_heads`,
///         `head_dim`, `sliding_window`, `global_every` read from it), the query heads (the
///         `Q_ROPE` output), the visible keys and values position after position (each
///         position's `n_kv_heads` Act16 = its `K_ROPE` / `V_CACHE` output; SHA-256 of each
///         position's bytes = its leaf's digest) and the table. The witness, and the work,
///         grow with the visible context: docs/BENCHMARKS.md has the gas per context length
///         (a long context exceeds a transaction's gas and needs another route).
///
///         `byProof(modelId, outLeaf)` is false for a step with more than `maxVisible` visible
///         positions (with the deployment's `window` and `globalEvery`, the config's
///         `sliding_window` and `global_every`): the largest context whose proof the deployer
///         measured or estimated to fit a transaction. Such a step is settled by refutation
///         instead (`IRefutableStep`, docs/PROTOCOL.md §10, "Attention by refutation"; engine
///         `attn_parts`), at any context length:
///         - the node claims (`DisputeGame.claimStep`, input leaf `(pos, stage, Q_ROPE)`)
///           `abi.encode(bytes config, bytes last, bytes32[] digests)`: the visible positions cut
///           into parts of `chunk` (the last may be shorter), `digests[c]` the SHA-256 of the
///           state after part `c`, `last` the state after the last part. A state is per query
///           head `i64le max || i32le emax || i64le total || head_dim x i64le acc`, head after
///           head: the running maxima of the scores and of the value exponents, and the running
///           sums `total = sum p_j`, `acc = sum round(p_j / 2^(E - e_vj)) v_j` with `p_j =
///           exp_neg(sat64(s_j - m))`, where `m` and `E` are `last`'s maxima (a score above `m`
///           weighs 0; a value exponent above `E` adds nothing). `checkClaim` computes the output
///           from `last` as above: its SHA-256 must be the leaf's digest;
///         - the challenger names a part `c` (`namePart`; the first whose digest is not its own,
///           recomputed with the claim's `m` and `E`); the node reveals `abi.encode(bytes prev,
///           bytes cur)`, the states before and after it (`prev` empty for part 0: all sums 0,
///           maxima below any);
///         - the challenger refutes it (`refuteStep`) with the part's keys and values opened in
///           the agreed prefix (`(j, stage, K_ROPE)` then `(j, stage, V_CACHE)` for its
///           positions `j`) and `witness = abi.encode(bytes q, bytes ks, bytes vs, bytes
///           table)`: true when `prev` plus the part, recomputed, is not `cur`.
///         If every part's state follows from the one before, `last`'s maxima are the true ones
///         and its sums the engine's: the output is right. A wrong output has a first wrong state.
contract AttnStepVerifier is NormStepVerifier, IStepLimit, IRefutableStep {
    uint8 internal constant Q_ROPE = 4;
    uint8 internal constant K_ROPE = 5;
    uint8 internal constant V_CACHE = 6;
    uint8 internal constant ATTN = 7;
    uint256 internal constant EXP_ENTRIES = 1025;

    bytes32 public immutable expTableDigest;
    uint256 public immutable maxVisible;
    uint256 public immutable window;
    uint256 public immutable globalEvery;
    /// Positions per part of a claim (the last part may be shorter).
    uint256 public immutable chunk;

    error NotAnAttnStep(uint32 pos, uint16 stage, uint8 op);
    error WrongInputStep(uint32 pos, uint16 stage, uint8 op);
    error ConfigMismatch();
    error BadShape();
    error WrongParts(uint256 got, uint256 want);
    error StateLength(uint256 got, uint256 want);
    error StateMismatch(uint256 part);
    error BadExponent(uint256 head);
    error ClaimMismatch();
    error NoSuchPart(uint256 part, uint256 parts);

    struct AttnWitness {
        bytes config;
        bytes q;
        bytes ks;
        bytes vs;
        bytes table;
    }

    /// Sizes and memory pointers (to the first data byte) of one attention step.
    struct Ctx {
        uint256 q;
        uint256 ks;
        uint256 vs;
        uint256 tab;
        uint256 cnt;
        uint256 hd;
        uint256 rowKv;
        uint256 group;
        uint256 scale;
    }

    struct Shape {
        uint256 heads;
        uint256 kvHeads;
        uint256 headDim;
        uint256 window;
        uint256 globalEvery;
    }

    constructor(
        ModelRegistry registry_,
        bytes32 expTableDigest_,
        uint256 maxVisible_,
        uint256 window_,
        uint256 globalEvery_,
        uint256 chunk_
    ) NormStepVerifier(registry_) {
        expTableDigest = expTableDigest_;
        maxVisible = maxVisible_;
        window = window_;
        globalEvery = globalEvery_;
        chunk = chunk_ == 0 ? 1 : chunk_;
    }

    /// @notice Every `ATTN` step is settled: by proof (`byProof`) or by refutation.
    function provable(bytes32, bytes calldata, uint32) external pure returns (bool) {
        return true;
    }

    /// @notice Whether an `ATTN` step's visible positions are at most `maxVisible` (its proof,
    ///         `verifyStep`, fits a transaction); else it is settled by refutation.
    function byProof(bytes32 modelId, bytes calldata outLeaf) external view returns (bool) {
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        if (out.stage == 0 || out.stage > registry.model(modelId).numLayers) return true;
        Shape memory sh;
        sh.window = window;
        sh.globalEvery = globalEvery;
        return uint256(out.pos) + 1 - visibleFrom(sh, out.stage - 1, out.pos) <= maxVisible;
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
        if (out.op != ATTN || out.stage == 0 || out.stage > m.numLayers) return false;
        AttnWitness memory w;
        (w.config, w.q, w.ks, w.vs, w.table) = abi.decode(witness, (bytes, bytes, bytes, bytes, bytes));
        if (sha256(abi.encodePacked("OTR/model-config/v1\x00", w.config)) != m.configHash) return false;
        (bool ok, Shape memory sh) = shape(w.config);
        if (!ok) return false;
        uint256 pos = out.pos;
        uint256 lo = visibleFrom(sh, out.stage - 1, pos);
        uint256 cnt = pos + 1 - lo;
        if (inLeaves.length != 1 + 2 * cnt) return false;
        uint256 headBytes = 4 + 2 * sh.headDim;
        uint256 rowKv = sh.kvHeads * headBytes;
        if (w.q.length != sh.heads * headBytes || w.ks.length != cnt * rowKv || w.vs.length != cnt * rowKv) {
            return false;
        }
        if (w.table.length != 8 * EXP_ENTRIES) return false;
        if (sha256(abi.encodePacked("OTR/exp2-table/v1\x00", w.table)) != expTableDigest) return false;
        Codec.TraceKey memory a = Codec.traceKey(inLeaves[0]);
        if (a.pos != pos || a.stage != out.stage || a.op != Q_ROPE || sha256(w.q) != a.digest) return false;
        for (uint256 j = 0; j < cnt; ++j) {
            Codec.TraceKey memory k = Codec.traceKey(inLeaves[1 + j]);
            if (k.pos != lo + j || k.stage != out.stage || k.op != K_ROPE) return false;
            if (sliceHash(w.ks, j * rowKv, rowKv) != k.digest) return false;
            Codec.TraceKey memory v = Codec.traceKey(inLeaves[1 + cnt + j]);
            if (v.pos != lo + j || v.stage != out.stage || v.op != V_CACHE) return false;
            if (sliceHash(w.vs, j * rowKv, rowKv) != v.digest) return false;
        }
        (bool done, int256[] memory y) = attend(w.q, w.ks, w.vs, w.table, sh.heads, sh.kvHeads, sh.headDim);
        if (!done) return false;
        return sha256(act16Bytes(y)) == out.digest;
    }

    /// The parsed claim of a step: its shape, visible positions and last state.
    struct Claimed {
        Shape sh;
        uint256 lo;
        uint256 cnt;
        bytes last;
        bytes32[] digests;
    }

    /// @dev The claim parsed and checked against the registry's config (reverts, typed).
    function claimed(bytes32 modelId, Codec.TraceKey memory out, bytes calldata claim)
        internal
        view
        returns (Claimed memory c)
    {
        ModelRegistry.Model memory m = registry.model(modelId);
        if (out.op != ATTN || out.stage == 0 || out.stage > m.numLayers) {
            revert NotAnAttnStep(out.pos, out.stage, out.op);
        }
        bytes memory config;
        (config, c.last, c.digests) = abi.decode(claim, (bytes, bytes, bytes32[]));
        if (sha256(abi.encodePacked("OTR/model-config/v1\x00", config)) != m.configHash) revert ConfigMismatch();
        bool ok;
        (ok, c.sh) = shape(config);
        if (!ok) revert BadShape();
        c.lo = visibleFrom(c.sh, out.stage - 1, out.pos);
        c.cnt = uint256(out.pos) + 1 - c.lo;
        uint256 n = (c.cnt + chunk - 1) / chunk;
        if (c.digests.length != n) revert WrongParts(c.digests.length, n);
        uint256 want = stateBytes(c.sh);
        if (c.last.length != want) revert StateLength(c.last.length, want);
    }

    function stateBytes(Shape memory sh) internal pure returns (uint256) {
        return sh.heads * (20 + 8 * sh.headDim);
    }

    /// @notice Checks a claim (above): its form, its last state's digest, and the output its
    ///         last state gives against the step leaf's digest.
    function checkClaim(bytes32 modelId, uint256, bytes calldata outLeaf, bytes[] calldata inLeaves, bytes calldata claim)
        external
        view
    {
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        Claimed memory c = claimed(modelId, out, claim);
        if (inLeaves.length != 1) revert WrongInputStep(0, 0, 0);
        Codec.TraceKey memory a = Codec.traceKey(inLeaves[0]);
        if (a.pos != out.pos || a.stage != out.stage || a.op != Q_ROPE) revert WrongInputStep(a.pos, a.stage, a.op);
        if (sha256(c.last) != c.digests[c.digests.length - 1]) revert StateMismatch(c.digests.length - 1);
        uint256 hd = c.sh.headDim;
        int256[] memory y = new int256[](c.sh.heads * hd);
        for (uint256 h = 0; h < c.sh.heads; ++h) {
            (int256 mx, int256 e, int256 total, int256[] memory acc) = readHead(c.last, h, hd);
            mx;
            if (e < -32 || e > 32) revert BadExponent(h);
            finishHead(acc, total, e, y, h * hd);
        }
        if (sha256(act16Bytes(y)) != out.digest) revert ClaimMismatch();
    }

    /// @notice The claim's parts: its states.
    function parts(bytes32, bytes calldata claim) external pure returns (uint256) {
        (,, bytes32[] memory digests) = abi.decode(claim, (bytes, bytes, bytes32[]));
        return digests.length;
    }

    /// @notice Checks a revealed part `abi.encode(bytes prev, bytes cur)` against the claim's
    ///         digests (`prev` empty for part 0).
    function checkPart(
        bytes32 modelId,
        bytes calldata outLeaf,
        bytes[] calldata,
        bytes calldata claim,
        uint256 index,
        bytes calldata part
    ) external view {
        Claimed memory c = claimed(modelId, Codec.traceKey(outLeaf), claim);
        if (index >= c.digests.length) revert NoSuchPart(index, c.digests.length);
        (bytes memory prev, bytes memory cur) = abi.decode(part, (bytes, bytes));
        uint256 want = stateBytes(c.sh);
        if (cur.length != want) revert StateLength(cur.length, want);
        if (index == 0) {
            if (prev.length != 0) revert StateLength(prev.length, 0);
        } else {
            if (prev.length != want) revert StateLength(prev.length, want);
            if (sha256(prev) != c.digests[index - 1]) revert StateMismatch(index - 1);
        }
        if (sha256(cur) != c.digests[index]) revert StateMismatch(index);
    }

    /// @notice True when the revealed part's state after (`cur`) is not the state before
    ///         (`prev`) plus its positions, recomputed from the opened keys and values
    ///         (`opened`: `(j, stage, K_ROPE)` then `(j, stage, V_CACHE)` for the part's
    ///         positions) and `witness = abi.encode(bytes q, bytes ks, bytes vs, bytes table)`.
    function refutes(
        bytes32 modelId,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata claim,
        uint256 index,
        bytes calldata part,
        bytes[] calldata opened,
        bytes calldata witness
    ) external view returns (bool) {
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        Claimed memory c = claimed(modelId, out, claim);
        AttnWitness memory w;
        (w.q, w.ks, w.vs, w.table) = abi.decode(witness, (bytes, bytes, bytes, bytes));
        uint256 from = c.lo + index * chunk;
        uint256 to = from + chunk;
        if (to > uint256(out.pos) + 1) to = uint256(out.pos) + 1;
        if (from >= to || opened.length != 2 * (to - from)) return false;
        uint256 rowKv = c.sh.kvHeads * (4 + 2 * c.sh.headDim);
        if (w.ks.length != (to - from) * rowKv || w.vs.length != w.ks.length) return false;
        if (w.table.length != 8 * EXP_ENTRIES) return false;
        if (sha256(abi.encodePacked("OTR/exp2-table/v1\x00", w.table)) != expTableDigest) return false;
        if (sha256(w.q) != Codec.traceKey(inLeaves[0]).digest) return false;
        for (uint256 j = 0; j < to - from; ++j) {
            Codec.TraceKey memory k = Codec.traceKey(opened[j]);
            if (k.pos != from + j || k.stage != out.stage || k.op != K_ROPE) return false;
            if (sliceHash(w.ks, j * rowKv, rowKv) != k.digest) return false;
            Codec.TraceKey memory v = Codec.traceKey(opened[to - from + j]);
            if (v.pos != from + j || v.stage != out.stage || v.op != V_CACHE) return false;
            if (sliceHash(w.vs, j * rowKv, rowKv) != v.digest) return false;
        }
        (bytes memory prev, bytes memory cur) = abi.decode(part, (bytes, bytes));
        return partDiffers(c, w, prev, cur);
    }

    /// @dev Whether `prev` plus the positions of `w` is not `cur` (false when an exponent is
    ///      out of range: nothing is shown).
    function partDiffers(Claimed memory c, AttnWitness memory w, bytes memory prev, bytes memory cur)
        internal
        pure
        returns (bool)
    {
        Shape memory sh = c.sh;
        uint256 hd = sh.headDim;
        if (w.q.length != sh.heads * (4 + 2 * hd)) return false;
        Ctx memory x;
        x.hd = hd;
        x.group = sh.heads / sh.kvHeads;
        x.rowKv = sh.kvHeads * (4 + 2 * hd);
        x.cnt = w.ks.length / x.rowKv;
        x.scale = isqrt((uint256(1) << 64) / hd);
        bytes memory q = w.q;
        bytes memory ks = w.ks;
        bytes memory vs = w.vs;
        bytes memory table = w.table;
        assembly ("memory-safe") {
            mstore(x, add(q, 0x20))
            mstore(add(x, 0x20), add(ks, 0x20))
            mstore(add(x, 0x40), add(vs, 0x20))
            mstore(add(x, 0x60), add(table, 0x20))
        }
        Sums memory s;
        s.given = true;
        for (uint256 h = 0; h < sh.heads; ++h) {
            (s.m, s.e,,) = readHead(c.last, h, hd);
            if (!headSums(x, h, s)) return false;
            int256 mx = type(int64).min;
            int256 ex = type(int32).min;
            int256 total = 0;
            int256[] memory acc = new int256[](hd);
            if (prev.length != 0) (mx, ex, total, acc) = readHead(prev, h, hd);
            (int256 cm, int256 ce, int256 ct, int256[] memory ca) = readHead(cur, h, hd);
            if (cm != (s.sMax > mx ? s.sMax : mx) || ce != (s.eMax > ex ? s.eMax : ex)) return true;
            if (ct != total + s.total) return true;
            for (uint256 i = 0; i < hd; ++i) {
                if (ca[i] != acc[i] + s.acc[i]) return true;
            }
        }
        return false;
    }

    /// @notice Head `h` of a state: `max`, `emax`, `total`, `acc` (the caller checked the
    ///         state's length).
    function readHead(bytes memory st, uint256 h, uint256 hd)
        internal
        pure
        returns (int256 mx, int256 e, int256 total, int256[] memory acc)
    {
        acc = new int256[](hd);
        assembly ("memory-safe") {
            function i64le(p) -> v {
                let w := shr(192, mload(p))
                w := or(shr(8, and(w, 0xFF00FF00FF00FF00)), shl(8, and(w, 0x00FF00FF00FF00FF)))
                w := or(shr(16, and(w, 0xFFFF0000FFFF0000)), shl(16, and(w, 0x0000FFFF0000FFFF)))
                w := or(shr(32, w), and(shl(32, w), 0xFFFFFFFF00000000))
                v := signextend(7, w)
            }
            let p := add(add(st, 0x20), mul(h, add(20, mul(8, hd))))
            mx := i64le(p)
            let w := shr(224, mload(add(p, 8)))
            w := or(shr(8, and(w, 0xFF00FF00)), shl(8, and(w, 0x00FF00FF)))
            w := or(shr(16, w), and(shl(16, w), 0xFFFF0000))
            e := signextend(3, w)
            total := i64le(add(p, 12))
            let pa := add(acc, 0x20)
            for { let i := 0 } lt(i, hd) { i := add(i, 1) } {
                mstore(add(pa, mul(i, 0x20)), i64le(add(add(p, 20), mul(i, 8))))
            }
        }
    }

    /// @notice The model shape from the canonical config text.
    function shape(bytes memory c) public pure returns (bool, Shape memory sh) {
        bool ok;
        (ok, sh.heads) = ConfigText.uintField(c, ";n_heads=");
        if (!ok) return (false, sh);
        (ok, sh.kvHeads) = ConfigText.uintField(c, ";n_kv_heads=");
        if (!ok || sh.kvHeads == 0 || sh.heads == 0 || sh.heads % sh.kvHeads != 0) return (false, sh);
        (ok, sh.headDim) = ConfigText.uintField(c, ";head_dim=");
        if (!ok || sh.headDim == 0) return (false, sh);
        (ok, sh.window) = ConfigText.uintField(c, ";sliding_window=");
        if (!ok) return (false, sh);
        (ok, sh.globalEvery) = ConfigText.uintField(c, ";global_every=");
        return (ok, sh);
    }

    /// @notice The first position position `pos` sees in layer `l` (engine `window_start`).
    function visibleFrom(Shape memory sh, uint256 l, uint256 pos) internal pure returns (uint256) {
        bool global = sh.globalEvery == 0 || (l + 1) % sh.globalEvery == 0;
        if (global || sh.window == 0 || pos + 1 <= sh.window) return 0;
        return pos + 1 - sh.window;
    }

    /// @notice SHA-256 of `len` bytes of `b` from `off` (the caller checked the bounds).
    function sliceHash(bytes memory b, uint256 off, uint256 len) internal view returns (bytes32 h) {
        assembly ("memory-safe") {
            let ok := staticcall(gas(), 0x02, add(add(b, 0x20), off), len, 0x00, 0x20)
            if iszero(ok) { revert(0, 0) }
            h := mload(0x00)
        }
    }

    /// @notice Engine `Model::attention` before the final `Act16::from_wide`: all query heads'
    ///         outputs (wide) concatenated. `q`: `heads` Act16; `ks`, `vs`: the visible
    ///         positions' `kvHeads` Act16 each, position after position; `table`: the 2^-x table
    ///         (1025 x i64le). False when the sizes disagree or an exponent is outside
    ///         `[-32, 32]`.
    function attend(
        bytes memory q,
        bytes memory ks,
        bytes memory vs,
        bytes memory table,
        uint256 heads,
        uint256 kvHeads,
        uint256 hd
    ) public pure returns (bool, int256[] memory y) {
        if (heads == 0 || kvHeads == 0 || hd == 0 || heads % kvHeads != 0) return (false, y);
        Ctx memory c;
        c.hd = hd;
        c.group = heads / kvHeads;
        c.rowKv = kvHeads * (4 + 2 * hd);
        if (q.length != heads * (4 + 2 * hd) || ks.length != vs.length || ks.length == 0) return (false, y);
        if (ks.length % c.rowKv != 0 || table.length != 8 * EXP_ENTRIES) return (false, y);
        c.cnt = ks.length / c.rowKv;
        if (c.cnt >= 1 << 17) return (false, y); // the packed sums' bound (far past the gas cap)
        c.scale = isqrt((uint256(1) << 64) / hd);
        assembly ("memory-safe") {
            mstore(c, add(q, 0x20))
            mstore(add(c, 0x20), add(ks, 0x20))
            mstore(add(c, 0x40), add(vs, 0x20))
            mstore(add(c, 0x60), add(table, 0x20))
        }
        y = new int256[](heads * hd);
        Sums memory s;
        s.y = y;
        for (uint256 h = 0; h < heads; ++h) {
            s.yOff = h * hd;
            if (!headSums(c, h, s)) return (false, y);
        }
        return (true, y);
    }

    /// One query head's sums over some positions (engine `attn_parts::HeadSums`): with the
    /// claimed maxima `m`, `e` when `given`, else with the positions' own.
    struct Sums {
        bool given;
        int256 m;
        int256 e;
        int256 sMax;
        int256 eMax;
        int256 total;
        int256[] acc;
        /// When not empty: the head's output (`finishHead`) is written into `y` from `yOff`
        /// instead of its sums into `acc` (a proof: one pass over the sums).
        int256[] y;
        uint256 yOff;
    }

    /// @notice One query head's sums (engine `ops::attend` before the division) over the
    ///         positions of `c`: `s.sMax`, `s.eMax` their largest score and value exponent,
    ///         `s.total = sum p_j`, `s.acc = sum round(p_j / 2^(E - e_vj)) v_j` with
    ///         `p_j = exp_neg(sat64(s_j - m))`, `m`, `E` the claimed `s.m`, `s.e` when
    ///         `s.given` (a score above `m` weighs 0, a value exponent above `E` adds nothing),
    ///         else the positions' own maxima. False on an exponent outside `[-32, 32]`.
    function headSums(Ctx memory c, uint256 h, Sums memory sums) internal pure returns (bool ok) {
        uint256 cnt = c.cnt;
        uint256 hd = c.hd;
        int256[] memory scores = new int256[](cnt);
        int256[] memory acc = new int256[](hd / 16 * 4 + hd % 16);
        int256[] memory qpk = new int256[](hd / 16 * 4);
        // The caller's array when it has the size (one for all heads: memory is not freed).
        int256[] memory out = sums.y;
        if (out.length != 0) {
            // A proof: the output goes into `y` from `yOff` (`out` then points `yOff` words in;
            // only its data is written, below).
            uint256 yOff = sums.yOff;
            assembly ("memory-safe") {
                out := add(out, mul(yOff, 0x20))
            }
        } else {
            out = sums.acc;
            if (out.length != hd) out = new int256[](hd);
        }
        bool fin = sums.y.length != 0;
        bool given = sums.given;
        int256 mIn = sums.m;
        int256 eIn = sums.e;
        int256 sMax;
        int256 eMax;
        int256 sumP;
        ok = true;
        assembly ("memory-safe") {
            function laneSwap(w) -> r {
                r := or(shr(8, and(w, 0xFF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00)),
                    shl(8, and(w, 0x00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF00FF)))
            }
            // The i32le at p.
            function expAt(p) -> e {
                let w := shr(224, mload(p))
                w := or(shr(8, and(w, 0xFF00FF00)), shl(8, and(w, 0x00FF00FF)))
                w := or(shr(16, w), and(shl(16, w), 0xFFFF0000))
                e := signextend(3, w)
            }
            // The i16le at p.
            function i16le(p) -> v {
                let w := mload(p)
                v := signextend(1, or(shl(8, byte(1, w)), byte(0, w)))
            }
            function i64le(p) -> v {
                let w := shr(192, mload(p))
                w := or(shr(8, and(w, 0xFF00FF00FF00FF00)), shl(8, and(w, 0x00FF00FF00FF00FF)))
                w := or(shr(16, and(w, 0xFFFF0000FFFF0000)), shl(16, and(w, 0x0000FFFF0000FFFF)))
                w := or(shr(32, w), and(shl(32, w), 0xFFFFFFFF00000000))
                v := signextend(7, w)
            }
            // round(v / 2^k) half to even, k >= 0.
            function rne(v, k) -> q {
                q := v
                if k {
                    q := sar(k, v)
                    let r := sub(v, shl(k, q))
                    let half := shl(sub(k, 1), 1)
                    if or(gt(r, half), and(eq(r, half), and(q, 1))) { q := add(q, 1) }
                }
            }
            function sat64(v) -> r {
                r := v
                if sgt(v, 0x7fffffffffffffff) { r := 0x7fffffffffffffff }
                if slt(v, not(0x7fffffffffffffff)) { r := not(0x7fffffffffffffff) }
            }
            // Engine `shift_sat(v, s)`: v 2^s (saturating) or round(v / 2^-s), as i64; |s| <= 64.
            function shiftSat(v, s) -> r {
                switch slt(s, 0)
                case 0 {
                    r := v
                    if s {
                        switch lt(s, 64)
                        case 1 { r := shl(s, v) }
                        default {
                            if sgt(v, 0) { r := 0x7fffffffffffffff }
                            if slt(v, 0) { r := not(0x7fffffffffffffff) }
                        }
                    }
                }
                default { r := rne(v, sub(0, s)) }
                r := sat64(r)
            }
            // Engine `exp_neg_wide(d)`, d <= 0.
            function expNeg(d, tab) -> p {
                let t := rne(mul(d, 1549082005), 30)
                if slt(t, not(0x7fffffffffffffff)) { t := not(0x7fffffffffffffff) }
                let a := sub(0, t)
                let n := shr(32, a)
                if lt(n, 32) {
                    let f := and(a, 0xffffffff)
                    let i := shr(22, f)
                    let r := and(f, 0x3fffff)
                    let ta := i64le(add(tab, mul(i, 8)))
                    let tb := i64le(add(tab, mul(add(i, 1), 8)))
                    p := rne(add(ta, rne(mul(sub(tb, ta), r), 22)), n)
                }
            }
            // round(n / d) half to even, d > 0.
            function divRne(n, d) -> q {
                let a := n
                let neg := slt(n, 0)
                if neg { a := sub(0, n) }
                q := div(a, d)
                let r2 := mul(2, mod(a, d))
                if or(gt(r2, d), and(eq(r2, d), and(q, 1))) { q := add(q, 1) }
                if neg { q := sub(0, q) }
            }
            function badExp(e) -> b {
                b := or(slt(e, sub(0, 32)), sgt(e, 32))
            }
            let hb := add(4, mul(2, hd))
            let rowKv := mload(add(c, 0xc0))
            let kvOff := mul(div(h, mload(add(c, 0xe0))), hb)
            let scale := mload(add(c, 0x100))
            let pq := add(mload(c), mul(h, hb))
            let pks := add(mload(add(c, 0x20)), kvOff)
            let pvs := add(mload(add(c, 0x40)), kvOff)
            let tab := mload(add(c, 0x60))
            let qe := expAt(pq)
            if badExp(qe) { ok := 0 }
            let full := sub(hd, mod(hd, 16))
            let ps := add(scores, 0x20)
            let pacc := add(acc, 0x20)
            // Scores and their maximum. Dot products of whole words of 16 values: each value
            // biased by 2^15 (non-negative, < 2^16); the query's values laid out once in four
            // words per 16 (word k: value 4 p + 3 - k at bits 64 p), the key's spread as for the
            // values below (word k: value 4 s + 3 - k at bits 64 (3 - s)), so that bits 192..255
            // of one product hold the sum of four value products (each below 2^32: no carry
            // crosses a 64-bit lane). Then sum (q + b)(k + b) - b sum(q + b) - b sum(k + b)
            // + n b^2 = sum q k.
            let bias := 0x8000800080008000800080008000800080008000800080008000800080008000
            let mk := 0x000000000000FFFF000000000000FFFF000000000000FFFF000000000000FFFF
            let pqw := add(qpk, 0x20)
            let sq := 0
            for { let i := 0 } lt(i, full) { i := add(i, 16) } {
                let w := xor(laneSwap(mload(add(add(pq, 4), mul(i, 2)))), bias)
                for { let k := 0 } lt(k, 4) { k := add(k, 1) } {
                    let word := 0
                    for { let p := 0 } lt(p, 4) { p := add(p, 1) } {
                        let v := and(shr(sub(240, mul(16, sub(add(mul(4, p), 3), k))), w), 0xffff)
                        word := or(word, shl(mul(64, p), v))
                        sq := add(sq, v)
                    }
                    mstore(add(pqw, mul(add(div(i, 4), k), 0x20)), word)
                }
            }
            let corr := sub(mul(full, 0x40000000), mul(0x8000, sq)) // n b^2 - b sum(q + b)
            let m := 0
            for { let j := 0 } lt(j, cnt) { j := add(j, 1) } {
                let pk := add(pks, mul(j, rowKv))
                let ke := expAt(pk)
                if badExp(ke) { ok := 0 }
                let d := 0
                let ksum := 0
                let i := 0
                for { } lt(i, full) { i := add(i, 16) } {
                    let w := xor(laneSwap(mload(add(add(pk, 4), mul(i, 2)))), bias)
                    let pw := add(pqw, mul(i, 8))
                    let k0 := and(w, mk)
                    let k1 := and(shr(16, w), mk)
                    let k2 := and(shr(32, w), mk)
                    let k3 := and(shr(48, w), mk)
                    d := add(d, add(add(shr(192, mul(mload(pw), k0)), shr(192, mul(mload(add(pw, 0x20)), k1))),
                        add(shr(192, mul(mload(add(pw, 0x40)), k2)), shr(192, mul(mload(add(pw, 0x60)), k3)))))
                    ksum := add(ksum, add(add(k0, k1), add(k2, k3)))
                }
                // The four 64-bit lanes of ksum summed (bits 192..255 of ksum (1 + X + X^2 + X^3)).
                d := sub(add(d, corr), mul(0x8000, shr(192, mul(ksum, 0x0000000000000001000000000000000100000000000000010000000000000001))))
                for { } lt(i, hd) { i := add(i, 1) } {
                    d := add(d, mul(i16le(add(add(pq, 4), mul(i, 2))), i16le(add(add(pk, 4), mul(i, 2)))))
                }
                let sc := shiftSat(mul(d, scale), add(qe, ke))
                mstore(add(ps, mul(j, 0x20)), sc)
                if or(iszero(j), sgt(sc, m)) { m := sc }
            }
            sMax := m
            if given { m := mIn }
            // Weights, their sum, the largest value exponent.
            let total := 0
            let emax := 0
            for { let j := 0 } lt(j, cnt) { j := add(j, 1) } {
                let pp := add(ps, mul(j, 0x20))
                let dd := sat64(sub(mload(pp), m))
                let p := 0
                if iszero(sgt(dd, 0)) { p := expNeg(dd, tab) }
                mstore(pp, p)
                total := add(total, p)
                let ve := expAt(add(pvs, mul(j, rowKv)))
                if badExp(ve) { ok := 0 }
                if or(iszero(j), sgt(ve, emax)) { emax := ve }
            }
            eMax := emax
            sumP := total
            if given { emax := eIn }
            // acc = sum_j round(p_j / 2^(E - e_vj)) v_j. Whole words of 16 values: each value
            // biased by 2^15 (so non-negative, < 2^16) and spread into four words of four 64-bit
            // lanes (word k, lane s: value 4 s + 3 - k of the 16); one multiplication by the
            // weight (<= 2^30) adds four products; a lane stays below 2^64 for fewer than 2^18
            // positions. The bias comes off at the end: 2^15 times the sum of the weights.
            let wsum := 0
            for { let j := 0 } lt(j, cnt) { j := add(j, 1) } {
                let pv := add(pvs, mul(j, rowKv))
                let ve := expAt(pv)
                let pp := 0
                if iszero(sgt(ve, emax)) { pp := rne(mload(add(ps, mul(j, 0x20))), sub(emax, ve)) }
                if pp {
                    wsum := add(wsum, pp)
                    let i := 0
                    for { } lt(i, full) { i := add(i, 16) } {
                        let w := xor(laneSwap(mload(add(add(pv, 4), mul(i, 2)))), bias)
                        let p := add(pacc, mul(i, 8))
                        mstore(p, add(mload(p), mul(pp, and(w, mk))))
                        let p1 := add(p, 0x20)
                        mstore(p1, add(mload(p1), mul(pp, and(shr(16, w), mk))))
                        let p2 := add(p, 0x40)
                        mstore(p2, add(mload(p2), mul(pp, and(shr(32, w), mk))))
                        let p3 := add(p, 0x60)
                        mstore(p3, add(mload(p3), mul(pp, and(shr(48, w), mk))))
                    }
                    for { } lt(i, hd) { i := add(i, 1) } {
                        let p := add(pacc, mul(add(div(full, 4), sub(i, full)), 0x20))
                        mstore(p, add(mload(p), mul(pp, i16le(add(add(pv, 4), mul(i, 2))))))
                    }
                }
            }
            // The sums unbiased, one value per element; for a proof, divided at once:
            // round(acc 2^(E + 32) / max(total, 1)) (0 or saturated when E + 32 > 60).
            let po := add(out, 0x20)
            let unbias := shl(15, wsum)
            if slt(total, 1) { total := 1 }
            let sh := add(emax, 32)
            for { let i := 0 } lt(i, hd) { i := add(i, 1) } {
                let a := 0
                switch lt(i, full)
                case 1 {
                    let li := and(i, 15)
                    let word := mload(add(pacc, mul(add(mul(shr(4, i), 4), sub(3, and(li, 3))), 0x20)))
                    a := sub(and(shr(mul(64, sub(3, shr(2, li))), word), 0xffffffffffffffff), unbias)
                }
                default { a := mload(add(pacc, mul(add(div(full, 4), sub(i, full)), 0x20))) }
                if fin {
                    let r := 0
                    switch sgt(sh, 60)
                    case 1 {
                        if sgt(a, 0) { r := 0x7fffffffffffffff }
                        if slt(a, 0) { r := not(0x7fffffffffffffff) }
                    }
                    default { r := sat64(divRne(shl(sh, a), total)) }
                    a := r
                }
                mstore(add(po, mul(i, 0x20)), a)
            }
        }
        sums.sMax = sMax;
        sums.eMax = eMax;
        sums.total = sumP;
        if (!fin) sums.acc = out;
    }

    /// @notice A head's output from its sums over every visible position, written into `y`
    ///         from `off`: `round(acc 2^(E + 32) / max(total, 1))` (0 or saturated when
    ///         `E + 32 > 60`), saturated to i64.
    function finishHead(int256[] memory acc, int256 total, int256 emax, int256[] memory y, uint256 off)
        internal
        pure
    {
        assembly ("memory-safe") {
            function sat64(v) -> r {
                r := v
                if sgt(v, 0x7fffffffffffffff) { r := 0x7fffffffffffffff }
                if slt(v, not(0x7fffffffffffffff)) { r := not(0x7fffffffffffffff) }
            }
            // round(n / d) half to even, d > 0.
            function divRne(n, d) -> q {
                let a := n
                let neg := slt(n, 0)
                if neg { a := sub(0, n) }
                q := div(a, d)
                let r2 := mul(2, mod(a, d))
                if or(gt(r2, d), and(eq(r2, d), and(q, 1))) { q := add(q, 1) }
                if neg { q := sub(0, q) }
            }
            if slt(total, 1) { total := 1 }
            let sh := add(emax, 32)
            let hd := mload(acc)
            let pa := add(acc, 0x20)
            let py := add(add(y, 0x20), mul(off, 0x20))
            for { let i := 0 } lt(i, hd) { i := add(i, 1) } {
                let a := mload(add(pa, mul(i, 0x20)))
                let r := 0
                switch sgt(sh, 60)
                case 1 {
                    if sgt(a, 0) { r := 0x7fffffffffffffff }
                    if slt(a, 0) { r := not(0x7fffffffffffffff) }
                }
                default { r := sat64(divRne(shl(sh, a), total)) }
                mstore(add(py, mul(i, 0x20)), r)
            }
        }
    }
}
