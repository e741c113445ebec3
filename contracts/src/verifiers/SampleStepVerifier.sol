// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepVerifier} from "../IStepVerifier.sol";
import {IStepLimit} from "../IStepLimit.sol";
import {IRefutableStep} from "../IRefutableStep.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {Codec} from "../lib/Codec.sol";
import {WideDigest} from "../lib/WideDigest.sol";

/// @title The `SAMPLE` step of one model's head, settled by refutation (`IRefutableStep`;
///        docs/PROTOCOL.md §10).
/// @notice **Greedy** (temperature 0, engine `sampling::sample`): the largest logit, the smallest
///         id on ties. The node's claim is the step's output, the token `t` (u32le, SHA-256 = the
///         `SAMPLE` leaf's digest, `t < vocab`), with the step's one input leaf
///         `(pos, head, LOGITS)`. The challenger refutes it with a token `j` and the two chunks
///         of the logits holding `t` and `j` (`WideDigest`: 32 KiB each with their paths, so a
///         262,144-entry vocabulary needs no more) where `logit[j] > logit[t]`, or equal with
///         `j < t`.
///
///         **Sampled** (temperature > 0): the pick depends on every logit's weight, the top-k and
///         top-p cuts and the draw of the receipt's seed. The claim (`Sampled`, ABI-encoded)
///         names the cuts (the largest logit, the last top-k and top-p candidates), the totals
///         (the top-k candidates' weight, the kept ones', the kept ones' before the token) and
///         one summary per 4,096-logit chunk (engine `sampling::chunk_summary`: its largest
///         logit, its top-k candidates' count and weight, the kept ones' weight and those
///         before the token); `checkClaim` checks that the summaries add up to the totals, that
///         the cuts keep `topK` candidates and the shortest prefix reaching `topPMilli`, and that
///         the draw `floor(u kept / 2^64)` (`u`: the first 8 bytes, little-endian, of
///         `SHA-256("OTR/sampler/v1\0" || u64le(seed) || u64le(index))`) lands on the token. The
///         challenger refutes it with one chunk whose summary is not what the chunk gives
///         (recomputed on chain with the engine's 2^-x table), or that holds the token or the
///         top-p cut with another logit or weight than claimed. Right summaries leave no room
///         for another token, so a right pick has no counterexample.
///
///         A right claim has no counterexample, so the honest node wins when the challenger's
///         deadline passes. Deployed per model (its `vocab`, the 2^-x table's digest); trusts
///         the registry for the layer count.
contract SampleStepVerifier is IStepVerifier, IStepLimit, IRefutableStep {
    uint8 internal constant LOGITS = 1;
    uint8 internal constant SAMPLE = 2;

    /// One chunk's summary (engine `sampling::ChunkSummary`).
    struct Chunk {
        int64 max;
        uint32 n;
        uint128 w;
        uint128 k;
        uint128 c;
    }

    /// A sampled pick's claim (engine `sampling::SampledClaim`); `sampling` is the dispute's
    /// packed sampling word (`DisputeGame`: temperature, topK, topPMilli, seed, promptTokens).
    struct Sampled {
        uint256 sampling;
        uint32 token;
        int64 lt;
        uint64 wt;
        int64 lmax;
        bool hasKb;
        int64 lkb;
        uint32 kb;
        bool hasPb;
        int64 lpb;
        uint32 pb;
        uint64 wpb;
        uint128 wTotal;
        uint128 wKept;
        uint128 cT;
        Chunk[] chunks;
    }

    ModelRegistry public immutable registry;
    uint256 public immutable vocab;
    /// `SHA-256("OTR/exp2-table/v1\0" || 1025 x i64le)` (engine `tables::exp2_table_digest`).
    bytes32 public immutable expTableDigest;

    error UseClaimMoves();
    error NotASampleStep(uint32 pos, uint16 stage, uint8 op);
    error WrongInputStep(uint32 pos, uint16 stage, uint8 op);
    error ClaimMismatch();
    error TokenOutOfRange(uint256 token, uint256 vocab);
    error NoParts();
    error SamplingMismatch();
    error ChunkCount(uint256 got, uint256 expected);
    error TotalsMismatch();
    error TopKCut();
    error TopPCut();
    error DrawMismatch(uint256 r, uint256 from, uint256 to);

    constructor(ModelRegistry registry_, uint256 vocab_, bytes32 expTableDigest_) {
        registry = registry_;
        vocab = vocab_;
        expTableDigest = expTableDigest_;
    }

    /// @notice Every pick can be refuted within a transaction (a sampled one chunk by chunk).
    function provable(bytes32, bytes calldata, uint32) external pure returns (bool) {
        return true;
    }

    /// @notice A `SAMPLE` step has no one-move proof (`DisputeGame.claimStep` instead).
    function verifyStep(bytes32, bytes32, bytes calldata, bytes[] calldata, bytes calldata)
        external
        pure
        returns (bool)
    {
        revert UseClaimMoves();
    }

    function checkClaim(
        bytes32 modelId,
        uint256 sampling,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata claim
    ) external view {
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        if (out.stage != uint256(registry.model(modelId).numLayers) + 1 || out.op != SAMPLE) {
            revert NotASampleStep(out.pos, out.stage, out.op);
        }
        if (inLeaves.length != 1) revert WrongInputStep(0, 0, 0);
        Codec.TraceKey memory a = Codec.traceKey(inLeaves[0]);
        if (a.pos != out.pos || a.stage != out.stage || a.op != LOGITS) revert WrongInputStep(a.pos, a.stage, a.op);
        if (uint32(sampling) == 0) {
            if (claim.length != 4 || sha256(claim) != out.digest) revert ClaimMismatch();
            uint256 t = token(claim);
            if (t >= vocab) revert TokenOutOfRange(t, vocab);
            return;
        }
        Sampled memory c = abi.decode(claim, (Sampled));
        if (c.sampling != sampling) revert SamplingMismatch();
        if (sha256(abi.encodePacked(leU32(c.token))) != out.digest) revert ClaimMismatch();
        if (c.token >= vocab) revert TokenOutOfRange(c.token, vocab);
        uint256 promptTokens = uint32(sampling >> 160);
        if (uint256(out.pos) + 1 < promptTokens) revert NotASampleStep(out.pos, out.stage, out.op);
        checkSampled(c, uint256(out.pos) + 1 - promptTokens);
    }

    /// @dev The sampled claim's arithmetic, given right chunk summaries (engine
    ///      `sampling::claim_consistent`).
    function checkSampled(Sampled memory c, uint256 index) internal view {
        uint256 n = WideDigest.chunks(vocab);
        if (c.chunks.length != n) revert ChunkCount(c.chunks.length, n);
        uint256 count;
        uint256 w;
        uint256 k;
        uint256 cs;
        int256 m = type(int64).min;
        for (uint256 i = 0; i < n; ++i) {
            Chunk memory x = c.chunks[i];
            count += x.n;
            w += x.w;
            k += x.k;
            cs += x.c;
            if (x.max > m) m = x.max;
        }
        if (m != c.lmax || w != c.wTotal || k != c.wKept || cs != c.cT) revert TotalsMismatch();
        uint256 topK = uint32(c.sampling >> 32);
        uint256 topP = uint32(c.sampling >> 64);
        if (c.hasKb ? (topK == 0 || count != topK) : (topK != 0 && count > topK)) revert TopKCut();
        if (topP >= 1000) {
            if (c.hasPb || k != w) revert TopPCut();
        } else {
            uint256 wp = c.wpb;
            if (
                !c.hasPb || wp == 0 || !inTopK(c, c.lpb, c.pb) || k * 1000 < topP * w
                    || (k != wp && (k < wp || (k - wp) * 1000 >= topP * w))
            ) revert TopPCut();
        }
        bool inP = !c.hasPb || !before(c.lpb, c.pb, c.lt, c.token);
        if (c.wt == 0 || !inTopK(c, c.lt, c.token) || !inP || k == 0 || k > type(uint64).max) {
            revert DrawMismatch(0, c.cT, c.cT + c.wt);
        }
        bytes32 h = sha256(abi.encodePacked("OTR/sampler/v1\x00", leU64(uint64(c.sampling >> 96)), leU64(uint64(index))));
        uint256 u = uint64(leU64(uint64(bytes8(h))));
        uint256 r = (u * k) >> 64;
        if (r < c.cT || r >= c.cT + c.wt) revert DrawMismatch(r, c.cT, c.cT + c.wt);
    }

    /// @notice A token claim has no parts to reveal.
    function parts(bytes32, bytes calldata) external pure returns (uint256) {
        return 0;
    }

    function checkPart(bytes32, bytes calldata, bytes[] calldata, bytes calldata, uint256, bytes calldata)
        external
        pure
    {
        revert NoParts();
    }

    /// @notice Greedy: `witness = abi.encode(uint256 j, bytes chunkT, bytes32[] pathT, bytes
    ///         chunkJ, bytes32[] pathJ)`: true when both chunks open in the logits' digest and
    ///         `logit[j]` beats `logit[t]` (larger, or equal with a smaller id).
    ///         Sampled: `witness = abi.encode(uint256 j, bytes chunk, bytes32[] path, bytes
    ///         table)`: true when chunk `j` opens in the logits' digest and its summary, recomputed
    ///         with the 2^-x table `table`, is not the claimed one, or it holds the token or the
    ///         top-p cut with another logit or weight than claimed.
    function refutes(
        bytes32,
        bytes calldata,
        bytes[] calldata inLeaves,
        bytes calldata claim,
        uint256,
        bytes calldata,
        bytes[] calldata,
        bytes calldata witness
    ) external view returns (bool) {
        bytes32 digest = Codec.traceKey(inLeaves[0]).digest;
        if (claim.length != 4) return refutesSampled(digest, abi.decode(claim, (Sampled)), witness);
        uint256 t = token(claim);
        (uint256 j, bytes memory chunkT, bytes32[] memory pathT, bytes memory chunkJ, bytes32[] memory pathJ) =
            abi.decode(witness, (uint256, bytes, bytes32[], bytes, bytes32[]));
        (bool okT, int64 lt) = WideDigest.openValue(digest, vocab, t, chunkT, pathT);
        (bool okJ, int64 lj) = WideDigest.openValue(digest, vocab, j, chunkJ, pathJ);
        if (!okT || !okJ) return false;
        return lj > lt || (lj == lt && j < t);
    }

    function refutesSampled(bytes32 digest, Sampled memory c, bytes calldata witness) internal view returns (bool) {
        (uint256 j, bytes memory chunk, bytes32[] memory path, bytes memory table) =
            abi.decode(witness, (uint256, bytes, bytes32[], bytes));
        if (j >= c.chunks.length || table.length != 8200) return false;
        if (sha256(abi.encodePacked("OTR/exp2-table/v1\x00", table)) != expTableDigest) return false;
        (bool ok,) = WideDigest.openValue(digest, vocab, j * WideDigest.CHUNK, chunk, path);
        if (!ok) return false;
        uint256 temp = uint32(c.sampling);
        uint256 base = j * WideDigest.CHUNK;
        // The token and the top-p cut, where this chunk holds them.
        if (c.token >= base && c.token < base + chunk.length / 8) {
            int256 l = readI64(chunk, 8 * (c.token - base));
            if (l != c.lt || weight(l, c.lmax, temp, table) != c.wt) return true;
        }
        if (c.hasPb && c.pb >= base && c.pb < base + chunk.length / 8) {
            int256 l = readI64(chunk, 8 * (c.pb - base));
            if (l != c.lpb || weight(l, c.lmax, temp, table) != c.wpb) return true;
        }
        Chunk memory s = summarize(chunk, base, c, temp, table);
        Chunk memory x = c.chunks[j];
        return s.max != x.max || s.n != x.n || s.w != x.w || s.k != x.k || s.c != x.c;
    }

    /// @notice Engine `sampling::chunk_summary` of `chunk` (i64le logits from id `base`). The
    ///         candidate order (larger logit first, then smaller id) is compared as one key,
    ///         `(logit + 2^63) << 32 | (2^32 - 1 - id)`: a larger key comes first.
    function summarize(bytes memory chunk, uint256 base, Sampled memory c, uint256 temp, bytes memory table)
        internal
        pure
        returns (Chunk memory s)
    {
        // No cut: key 0, before no candidate.
        uint256 kbKey = c.hasKb ? orderKey(c.lkb, c.kb) : 0;
        uint256 pbKey = c.hasPb ? orderKey(c.lpb, c.pb) : 0;
        uint256 tKey = orderKey(c.lt, c.token);
        int256 lmax = c.lmax;
        // max, n, w, k, c
        uint256[5] memory acc;
        assembly ("memory-safe") {
            function i64le(ptr) -> v {
                let x := shr(192, mload(ptr))
                x := or(shr(8, and(x, 0xFF00FF00FF00FF00)), shl(8, and(x, 0x00FF00FF00FF00FF)))
                x := or(shr(16, and(x, 0xFFFF0000FFFF0000)), shl(16, and(x, 0x0000FFFF0000FFFF)))
                x := or(shr(32, x), and(shl(32, x), 0xFFFFFFFF00000000))
                v := signextend(7, x)
            }
            function rne(v, k) -> q {
                q := v
                if k {
                    q := sar(k, v)
                    let r := sub(v, shl(k, q))
                    let half := shl(sub(k, 1), 1)
                    if or(gt(r, half), and(eq(r, half), and(q, 1))) { q := add(q, 1) }
                }
            }
            // Engine `sampling::weight`, as `weight` below.
            function wt(l, lm, tm, tab) -> p {
                let minI64 := not(0x7fffffffffffffff)
                let num := mul(sub(l, lm), 1000)
                let a := num
                let neg := slt(num, 0)
                if neg { a := sub(0, num) }
                let d := div(a, tm)
                let r2 := mul(2, mod(a, tm))
                if or(gt(r2, tm), and(eq(r2, tm), and(d, 1))) { d := add(d, 1) }
                if neg { d := sub(0, d) }
                if slt(d, minI64) { d := minI64 }
                let t := rne(mul(d, 1549082005), 30)
                if slt(t, minI64) { t := minI64 }
                if sgt(t, 0) { t := 0 }
                a := sub(0, t)
                let sh := shr(32, a)
                if lt(sh, 32) {
                    let f := and(a, 0xffffffff)
                    let i := shr(22, f)
                    let ta := i64le(add(tab, mul(i, 8)))
                    let tb := i64le(add(tab, mul(add(i, 1), 8)))
                    p := rne(add(ta, rne(mul(sub(tb, ta), and(f, 0x3fffff)), 22)), sh)
                }
            }
            let tab := add(table, 0x20)
            let p := add(chunk, 0x20)
            let end := add(p, mload(chunk))
            let id := base
            let mx := not(0x7fffffffffffffff)
            for {} lt(p, end) {
                p := add(p, 8)
                id := add(id, 1)
            } {
                let l := i64le(p)
                if sgt(l, mx) { mx := l }
                let w := wt(l, lmax, temp, tab)
                if w {
                    let key := or(shl(32, add(l, 0x8000000000000000)), sub(0xffffffff, id))
                    if iszero(gt(kbKey, key)) {
                        mstore(add(acc, 0x20), add(mload(add(acc, 0x20)), 1))
                        mstore(add(acc, 0x40), add(mload(add(acc, 0x40)), w))
                        if iszero(gt(pbKey, key)) {
                            mstore(add(acc, 0x60), add(mload(add(acc, 0x60)), w))
                            if gt(key, tKey) { mstore(add(acc, 0x80), add(mload(add(acc, 0x80)), w)) }
                        }
                    }
                }
            }
            mstore(acc, mx)
        }
        s = Chunk(int64(int256(acc[0])), uint32(acc[1]), uint128(acc[2]), uint128(acc[3]), uint128(acc[4]));
    }

    /// @dev The candidate order as one key (larger first): `(l + 2^63) << 32 | (2^32 - 1 - id)`.
    function orderKey(int256 l, uint256 id) internal pure returns (uint256) {
        return uint256(l + 2 ** 63) << 32 | (0xffffffff - id);
    }

    /// @dev `(la, a)` is ordered before `(lb, b)`: a larger logit, or the same and a smaller id.
    function before(int256 la, uint256 a, int256 lb, uint256 b) internal pure returns (bool) {
        return la > lb || (la == lb && a < b);
    }

    function inTopK(Sampled memory c, int256 l, uint256 id) internal pure returns (bool) {
        return !c.hasKb || !before(c.lkb, c.kb, l, id);
    }

    /// @notice Engine `sampling::weight`: `exp_neg_wide(max(div_rne((l - lmax) 1000, temp),
    ///         i64::MIN))` with the 2^-x table `tab` (1025 x i64le, 30 fractional bits): the
    ///         weight `summarize` adds for a one-logit chunk with no cuts.
    function weight(int256 l, int256 lmax, uint256 temp, bytes memory tab) internal pure returns (uint256) {
        Sampled memory c;
        c.lmax = int64(lmax);
        bytes memory one = new bytes(8);
        for (uint256 i = 0; i < 8; ++i) {
            one[i] = bytes1(uint8(uint256(uint64(int64(l))) >> (8 * i)));
        }
        return summarize(one, 0, c, temp, tab).w;
    }

    function readI64(bytes memory b, uint256 off) internal pure returns (int256 v) {
        uint64 x;
        for (uint256 i = 0; i < 8; ++i) {
            x |= uint64(uint8(b[off + i])) << uint64(8 * i);
        }
        v = int64(x);
    }

    function leU32(uint32 v) internal pure returns (bytes4) {
        return bytes4(
            uint32(v >> 24) | uint32((v >> 8) & 0xff00) | uint32((v << 8) & 0xff0000) | uint32(v << 24)
        );
    }

    function leU64(uint64 v) internal pure returns (bytes8) {
        uint64 r;
        for (uint256 i = 0; i < 8; ++i) {
            r = (r << 8) | ((v >> (8 * i)) & 0xff);
        }
        return bytes8(r);
    }

    /// @dev The u32le token of a 4-byte claim.
    function token(bytes calldata claim) internal pure returns (uint256) {
        return uint256(uint8(claim[0])) | uint256(uint8(claim[1])) << 8 | uint256(uint8(claim[2])) << 16
            | uint256(uint8(claim[3])) << 24;
    }
}
