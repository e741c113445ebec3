// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ModelRegistry} from "../ModelRegistry.sol";
import {Codec} from "../lib/Codec.sol";
import {WideDigest} from "../lib/WideDigest.sol";
import {ConfigText} from "../lib/ConfigText.sol";
import {NormStepVerifier} from "./NormStepVerifier.sol";

/// @title On-chain recomputation of QK-norm + RoPE (engine `Model::qk_rope`): the steps
///        `Q_ROPE` (layer op 4) and `K_ROPE` (op 5), bit for bit.
/// @notice Step `(pos, stage, Q_ROPE)`, layer `l = stage - 1` (`1 <= stage <= numLayers`): leaf 0
///         must be `(pos, stage, Q)` (for `K_ROPE`: `(pos, stage, K)`), the wide projection of
///         `heads x headDim` values (`heads` = the config's `n_heads`, for `K_ROPE` `n_kv_heads`).
///         Per head: Gemma 3 (`arch=gemma3`): `x = rms_norm(head, blk.l.attn_q_norm.weight)`
///         (`attn_k_norm` for keys), then RoPE pairing `(i, i + headDim/2)`; Llama (`arch=llama`):
///         no norm, pairing `(2i, 2i + 1)`. RoPE: `(a, b) -> (sat64(round((a c - b s) / 2^14)),
///         sat64(round((b c + a s) / 2^14)))`, half to even; then `Act16::from_wide`; the output
///         is the heads' Act16 bytes concatenated.
///
///         The `(cos, sin)` entries of position `pos` come from a RoPE table row opened against
///         the root this verifier was deployed with: `ropeRootGlobal` for global layers
///         (`global_every = 0` or `(l + 1) % global_every = 0`), else `ropeRootLocal`. A table is
///         the RFC 6962 tree over positions `0..context_len` of the leaves
///         `"OTR/rope-row/v1\0" || u32be(pos) || headDim/2 x (i32le cos, i32le sin)` (engine
///         `tables::rope_cos_sin` of the base's inverse frequencies, 14 fractional bits); leaf
///         index = `pos`. The roots are trusted deployment parameters (like every registered
///         verifier): anyone can recompute them from the engine (`Model::rope_roots`).
///
///         Witness = `abi.encode(bytes config, bytes input, bytes weights, uint256 leafIndex,
///         uint256 treeSize, bytes32[] path, bytes row, uint256 rowTreeSize, bytes32[] rowPath)`:
///         the canonical config text (hash = registered `configHash`; `arch`, `n_heads`,
///         `n_kv_heads`, `head_dim`, `global_every`, `eps` read from it), the input tensor, the
///         QK-norm vector with its weights-tree path (Gemma; ignored for Llama), the RoPE row
///         and its path. Trusted: a Llama-architecture model has no QK-norm (the node registers
///         this verifier only for such Llama models).
contract RopeStepVerifier is NormStepVerifier {
    uint8 internal constant Q = 1;
    uint8 internal constant K = 2;
    uint8 internal constant Q_ROPE = 4;
    uint8 internal constant K_ROPE = 5;
    uint256 internal constant ROPE_FRAC = 14;

    bytes32 public immutable ropeRootGlobal;
    bytes32 public immutable ropeRootLocal;

    struct RopeWitness {
        bytes config;
        bytes input;
        bytes weights;
        uint256 leafIndex;
        uint256 treeSize;
        bytes32[] path;
        bytes row;
        uint256 rowTreeSize;
        bytes32[] rowPath;
    }

    struct Shape {
        bool gemma;
        uint256 heads;
        uint256 headDim;
        uint256 globalEvery;
        uint256 eps;
    }

    constructor(ModelRegistry registry_, bytes32 ropeRootGlobal_, bytes32 ropeRootLocal_)
        NormStepVerifier(registry_)
    {
        ropeRootGlobal = ropeRootGlobal_;
        ropeRootLocal = ropeRootLocal_;
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
        if (out.stage == 0 || out.stage > m.numLayers || inLeaves.length != 1) return false;
        if (out.op != Q_ROPE && out.op != K_ROPE) return false;
        Codec.TraceKey memory a = Codec.traceKey(inLeaves[0]);
        if (a.pos != out.pos || a.stage != out.stage || a.op != (out.op == Q_ROPE ? Q : K)) return false;
        RopeWitness memory w = decodeRopeWitness(witness);
        if (WideDigest.digestMemory(w.input) != a.digest) return false;
        if (sha256(abi.encodePacked("OTR/model-config/v1\x00", w.config)) != m.configHash) return false;
        (bool ok, Shape memory sh) = shape(w.config, out.op == Q_ROPE);
        if (!ok || w.input.length != 8 * sh.heads * sh.headDim) return false;
        uint256 l = out.stage - 1;
        bool global = sh.globalEvery == 0 || (l + 1) % sh.globalEvery == 0;
        if (!rowOpen(w, out.pos, sh.headDim / 2, global ? ropeRootGlobal : ropeRootLocal)) return false;
        if (sh.gemma) {
            string memory name =
                string.concat("blk.", decimal(l), out.op == Q_ROPE ? ".attn_q_norm.weight" : ".attn_k_norm.weight");
            if (!weightsOpen(name, w.weights, sh.headDim, w.leafIndex, w.treeSize, w.path, weightsRoot)) {
                return false;
            }
        }
        return sha256(ropeHeads(w, sh)) == out.digest;
    }

    function decodeRopeWitness(bytes calldata witness) internal pure returns (RopeWitness memory w) {
        (w.config, w.input, w.weights, w.leafIndex, w.treeSize, w.path, w.row, w.rowTreeSize, w.rowPath) =
            abi.decode(witness, (bytes, bytes, bytes, uint256, uint256, bytes32[], bytes, uint256, bytes32[]));
    }

    /// @notice The architecture, head count and size, global-layer period and epsilon from the
    ///         canonical config text.
    function shape(bytes memory c, bool queries) public pure returns (bool, Shape memory sh) {
        if (ConfigText.startsWith(c, "arch=gemma3;")) sh.gemma = true;
        else if (!ConfigText.startsWith(c, "arch=llama;")) return (false, sh);
        bool ok;
        (ok, sh.heads) = ConfigText.uintField(c, queries ? bytes(";n_heads=") : bytes(";n_kv_heads="));
        if (!ok || sh.heads == 0) return (false, sh);
        (ok, sh.headDim) = ConfigText.uintField(c, ";head_dim=");
        if (!ok || sh.headDim == 0 || sh.headDim % 2 != 0) return (false, sh);
        (ok, sh.globalEvery) = ConfigText.uintField(c, ";global_every=");
        if (!ok) return (false, sh);
        (ok, sh.eps) = epsQ64(c);
        return (ok, sh);
    }

    /// @notice Whether the RoPE row `w.row` of `half` pairs is leaf `pos` of the table `root`.
    function rowOpen(RopeWitness memory w, uint256 pos, uint256 half, bytes32 root) internal view returns (bool) {
        if (w.row.length != 8 * half || pos > type(uint32).max) return false;
        bytes32 leaf = sha256(abi.encodePacked(bytes1(0x00), "OTR/rope-row/v1\x00", uint32(pos), w.row));
        (bool ok, bytes32 got) = rootFromPath(leaf, pos, w.rowTreeSize, w.rowPath);
        return ok && got == root;
    }

    /// @notice Every head: QK-norm (Gemma), RoPE, Act16; the heads' bytes concatenated.
    function ropeHeads(RopeWitness memory w, Shape memory sh) internal pure returns (bytes memory out) {
        uint256 hd = sh.headDim;
        for (uint256 h = 0; h < sh.heads; ++h) {
            bytes memory x = new bytes(8 * hd);
            bytes memory input = w.input;
            assembly ("memory-safe") {
                mcopy(add(x, 0x20), add(add(input, 0x20), mul(h, mul(8, hd))), mul(8, hd))
            }
            int256[] memory y = sh.gemma ? rmsNorm(x, w.weights, sh.eps) : wideValues(x);
            rope(y, w.row, sh.gemma);
            out = bytes.concat(out, act16Bytes(y));
        }
    }

    /// @notice Engine `ops::rope` in place: pairs `(i, i + n/2)` (NeoX, Gemma) or `(2i, 2i + 1)`.
    function rope(int256[] memory y, bytes memory row, bool neox) public pure returns (int256[] memory) {
        uint256 half = y.length / 2;
        if (row.length < 8 * half) revert();
        assembly ("memory-safe") {
            function bswap32(w) -> r {
                r := or(shr(8, and(w, 0xFF00FF00)), shl(8, and(w, 0x00FF00FF)))
                r := or(shr(16, r), and(shl(16, r), 0xFFFF0000))
            }
            // round(v / 2^14) half to even, saturated to i64.
            function rne14(v) -> q {
                q := sar(14, v)
                let r := sub(v, shl(14, q))
                if or(gt(r, 0x2000), and(eq(r, 0x2000), and(q, 1))) { q := add(q, 1) }
                if sgt(q, 0x7fffffffffffffff) { q := 0x7fffffffffffffff }
                if slt(q, not(0x7fffffffffffffff)) { q := not(0x7fffffffffffffff) }
            }
            let py := add(y, 0x20)
            let pr := add(row, 0x20)
            for { let i := 0 } lt(i, half) { i := add(i, 1) } {
                let w := shr(192, mload(add(pr, mul(i, 8)))) // i32le cos, i32le sin
                let c := signextend(3, bswap32(shr(32, w)))
                let s := signextend(3, bswap32(and(w, 0xffffffff)))
                let pa := add(py, mul(i, 0x20))
                let pb := add(py, mul(add(i, half), 0x20))
                if iszero(neox) {
                    pa := add(py, mul(i, 0x40))
                    pb := add(pa, 0x20)
                }
                let a := mload(pa)
                let b := mload(pb)
                mstore(pa, rne14(sub(mul(a, c), mul(b, s))))
                mstore(pb, rne14(add(mul(b, c), mul(a, s))))
            }
        }
        return y;
    }

    /// @notice The i64le values of `x`.
    function wideValues(bytes memory x) internal pure returns (int256[] memory y) {
        uint256 n = x.length / 8;
        y = new int256[](n);
        for (uint256 i = 0; i < n; ++i) {
            y[i] = readI64(x, 8 * i);
        }
    }
}
