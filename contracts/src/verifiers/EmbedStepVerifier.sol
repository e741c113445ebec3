// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ModelRegistry} from "../ModelRegistry.sol";
import {Codec} from "../lib/Codec.sol";
import {WideDigest} from "../lib/WideDigest.sol";
import {NormStepVerifier} from "./NormStepVerifier.sol";

/// @title On-chain recomputation of the token embedding (engine `ops::embed_row`): the step
///        `EMBED` (stage 0, op 1), bit for bit, from a committed token.
/// @notice Step `(pos, 0, EMBED)`. Its token comes from leaf 0, which must be either
///         - the trace's `PROMPT` leaf `(0, 0, PROMPT)` (a prompt position): the witness `tokens`
///           is its output, `u32le(len(text)) || text || ids` (u32le each; SHA-256 = the leaf's
///           digest), and the token is entry `pos` of the ids (a position past the prompt is
///           refused); or
///         - `(pos - 1, numLayers + 1, SAMPLE)` (a generated position): `tokens` is the sampled
///           token (u32le; SHA-256 = the leaf's digest).
///         In a dispute the input leaf is opened in the prefix both parties agreed on, so it is
///         a leaf of the challenger's own trace: a prompt position has no `SAMPLE` before it.
///
///         The token's row is opened against `rowsRoot`, the RFC 6962 tree over the vocabulary's
///         rows (engine `Model::embed_rows_root`), leaf `t` =
///         `"OTR/embed-row/v1\0" || u32be(t) || u32le(rm) || i32le(re) || cols/32 block scales
///         (u8) || cols quants (i8)`. Output value `i`:
///         `v = sat64(q_i bs_(i/32) rm * 2^(re + 32))`, `h_i = sat64(round(v scaleQ32 / 2^32))`
///         (rounding half to even, saturating to i64), the output `h` as i64le, SHA-256 = the
///         step leaf's digest.
///
///         Witness = `abi.encode(bytes tokens, bytes row, bytes32[] rowPath)`.
///         Trusted deployment parameters (like every registered verifier; anyone can recompute
///         them from the weights with the engine): `weightsRoot_` (the model's weights these
///         rows are of: the verifier refuses any other), `rowsRoot`, `vocab` (the tree's size)
///         and `scaleQ32` (the embedding scale, `sqrt(d_model)` for Gemma, 1 for Llama, 32
///         fractional bits; engine `Config::embed_scale_q32`).
contract EmbedStepVerifier is NormStepVerifier {
    uint8 internal constant PROMPT = 0; // EMBED (= 1) is inherited
    uint8 internal constant SAMPLE = 2;

    bytes32 public immutable weightsRootOf;
    bytes32 public immutable rowsRoot;
    uint256 public immutable vocab;
    int256 public immutable scaleQ32;

    constructor(ModelRegistry registry_, bytes32 weightsRoot_, bytes32 rowsRoot_, uint256 vocab_, int64 scaleQ32_)
        NormStepVerifier(registry_)
    {
        weightsRootOf = weightsRoot_;
        rowsRoot = rowsRoot_;
        vocab = vocab_;
        scaleQ32 = scaleQ32_;
    }

    function verifyStep(
        bytes32 modelId,
        bytes32 weightsRoot,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata witness
    ) external view virtual override returns (bool) {
        ModelRegistry.Model memory m = registry.model(modelId);
        if (m.weightsRoot != weightsRoot || weightsRoot != weightsRootOf) return false;
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        if (out.stage != 0 || out.op != EMBED || inLeaves.length != 1) return false;
        Codec.TraceKey memory a = Codec.traceKey(inLeaves[0]);
        (bytes memory tokens, bytes memory row, bytes32[] memory path) =
            abi.decode(witness, (bytes, bytes, bytes32[]));
        if (sha256(tokens) != a.digest) return false;
        uint256 token;
        if (a.pos == 0 && a.stage == 0 && a.op == PROMPT) {
            // `u32le(len(text)) || text || ids`: the ids start after the text.
            if (tokens.length < 4) return false;
            uint256 ids = 4 + readU32(tokens, 0);
            if (ids > tokens.length || (tokens.length - ids) % 4 != 0) return false;
            if (uint256(out.pos) >= (tokens.length - ids) / 4) return false;
            token = readU32(tokens, ids + 4 * uint256(out.pos));
        } else if (uint256(a.pos) + 1 == out.pos && a.stage == uint256(m.numLayers) + 1 && a.op == SAMPLE) {
            if (tokens.length != 4) return false;
            token = readU32(tokens, 0);
        } else {
            return false;
        }
        if (token >= vocab || row.length < 8 || (row.length - 8) % 33 != 0) return false;
        bytes32 leaf = sha256(abi.encodePacked(bytes1(0x00), "OTR/embed-row/v1\x00", uint32(token), row));
        (bool ok, bytes32 root) = rootFromPath(leaf, token, vocab, path);
        if (!ok || root != rowsRoot) return false;
        return WideDigest.digestMemory(embedRow(row, scaleQ32)) == out.digest;
    }

    /// @notice Engine `ops::embed_row` of one committed row (`u32le(rm) || i32le(re) || block
    ///         scales || quants`), as i64le.
    function embedRow(bytes memory row, int256 scale) public pure returns (bytes memory) {
        uint256 cols = (row.length - 8) / 33 * 32;
        int256 rm = int256(readU32(row, 0));
        int256 sh = readI32(row, 4) + 32; // re + W_FRAC
        int256[] memory h = new int256[](cols);
        // No overflow: |q bs rm| < 2^39, |v| <= 2^63 and |scale| < 2^63, so every product fits.
        unchecked {
            uint256 qOff = 8 + cols / 32;
            for (uint256 i = 0; i < cols; ++i) {
                int256 q;
                int256 bs;
                assembly ("memory-safe") {
                    let base := add(row, 0x20)
                    q := signextend(0, byte(0, mload(add(base, add(qOff, i)))))
                    bs := byte(0, mload(add(base, add(8, shr(5, i)))))
                }
                int256 v = shiftSat(q * bs * rm, sh);
                h[i] = shiftSat(v * scale, -32);
            }
        }
        return addWide(new bytes(8 * cols), h);
    }
}
