// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepLimit} from "../IStepLimit.sol";
import {IRefutableStep} from "../IRefutableStep.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {Codec} from "../lib/Codec.sol";
import {Rfc6962} from "../lib/Rfc6962.sol";
import {WideDigest} from "../lib/WideDigest.sol";
import {EmbedStepVerifier} from "./EmbedStepVerifier.sol";

/// @title The `LOGITS` step of a model's head, settled by refutation (`IRefutableStep`;
///        docs/PROTOCOL.md §10).
/// @notice The logits of a large vocabulary (262,144 x 8 bytes at Gemma 3 270M) do not fit a
///         transaction, but one of them is one row of the head's matrix (the token embedding for
///         a tied head such as Gemma 3's, else `output.weight`) times the final norm's output,
///         and the head rows' tree (engine `Model::head_rows_root`, leaves as the embedding
///         rows') commits every row. So:
///         - the node claims the hashes of its logits' chunks (`WideDigest`: one 32-byte hash
///           per 4,096 logits; for one chunk, its SHA-256) whose tree is the `LOGITS` leaf's
///           digest, with the step's input `(pos, head, FINAL_NORM)`;
///         - the challenger names a chunk whose hash is not its own (`namePart`);
///         - the node reveals that chunk (`revealPart`, checked against the claimed hash);
///         - the challenger refutes it with a logit `j` of the chunk that is not
///           `row_output(dot(row_j, x))` (engine `kernels::row_output` over `scalar::dot`):
///           `witness = abi.encode(uint256 j, bytes x, bytes row, bytes32[] rowPath)`, `x` the
///           final norm's Act16 output (SHA-256 = the input leaf's digest), `row` the head
///           matrix's row opened in `rowsRoot` (the `EMBED` leaf format).
///         A right chunk has no such logit, so the honest node wins at the challenger's deadline.
///         Deployed per weights root with the head rows' root and the vocabulary; refuses other
///         weights.
contract LogitsStepVerifier is EmbedStepVerifier, IStepLimit, IRefutableStep {
    uint8 internal constant LOGITS = 1;

    error UseClaimMoves();
    error NotALogitsStep(uint32 pos, uint16 stage, uint8 op);
    error WrongInputStep(uint32 pos, uint16 stage, uint8 op);
    error WrongWeights(bytes32 weightsRoot);
    error ClaimLength(uint256 got, uint256 expected);
    error ClaimMismatch();
    error PartMismatch(uint256 index);

    constructor(ModelRegistry registry_, bytes32 weightsRoot_, bytes32 rowsRoot_, uint256 vocab_)
        EmbedStepVerifier(registry_, weightsRoot_, rowsRoot_, vocab_, 0)
    {}

    /// @notice Every `LOGITS` step can be refuted within a transaction.
    function provable(bytes32, bytes calldata, uint32) external pure returns (bool) {
        return true;
    }

    /// @notice A `LOGITS` step has no one-move proof (`DisputeGame.claimStep` instead).
    function verifyStep(bytes32, bytes32, bytes calldata, bytes[] calldata, bytes calldata)
        external
        pure
        override
        returns (bool)
    {
        revert UseClaimMoves();
    }

    function checkClaim(bytes32 modelId, uint256, bytes calldata outLeaf, bytes[] calldata inLeaves, bytes calldata claim)
        external
        view
    {
        ModelRegistry.Model memory m = registry.model(modelId);
        if (m.weightsRoot != weightsRootOf) revert WrongWeights(m.weightsRoot);
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        if (out.stage != uint256(m.numLayers) + 1 || out.op != LOGITS) {
            revert NotALogitsStep(out.pos, out.stage, out.op);
        }
        if (inLeaves.length != 1) revert WrongInputStep(0, 0, 0);
        Codec.TraceKey memory a = Codec.traceKey(inLeaves[0]);
        if (a.pos != out.pos || a.stage != out.stage || a.op != FINAL_NORM) {
            revert WrongInputStep(a.pos, a.stage, a.op);
        }
        uint256 n = WideDigest.chunks(vocab);
        if (claim.length != 32 * n) revert ClaimLength(claim.length, 32 * n);
        bytes32[] memory level = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            level[i] = bytes32(claim[32 * i:32 * i + 32]);
        }
        // One chunk: its hash is the flat SHA-256, the digest itself.
        bytes32 root = n == 1 ? level[0] : Rfc6962.rootOfLeafHashes(level);
        if (root != out.digest) revert ClaimMismatch();
    }

    /// @notice One part per chunk of the logits.
    function parts(bytes32, bytes calldata claim) external pure returns (uint256) {
        return claim.length / 32;
    }

    function checkPart(
        bytes32,
        bytes calldata,
        bytes[] calldata,
        bytes calldata claim,
        uint256 index,
        bytes calldata part
    ) external view {
        uint256 n = WideDigest.chunks(vocab);
        uint256 want = vocab - index * WideDigest.CHUNK;
        if (want > WideDigest.CHUNK) want = WideDigest.CHUNK;
        if (index >= n || part.length != 8 * want) revert PartMismatch(index);
        bytes32 h = n == 1 ? sha256(part) : Rfc6962.leafHashOf(part);
        if (h != bytes32(claim[32 * index:32 * index + 32])) revert PartMismatch(index);
    }

    /// @notice True when logit `j` of the revealed chunk `index` is not the head matrix's row `j`
    ///         times `x`, both opened as described above.
    function refutes(
        bytes32,
        bytes calldata,
        bytes[] calldata inLeaves,
        bytes calldata,
        uint256 index,
        bytes calldata part,
        bytes[] calldata,
        bytes calldata witness
    ) external view returns (bool) {
        (uint256 j, bytes memory x, bytes memory row, bytes32[] memory path) =
            abi.decode(witness, (uint256, bytes, bytes, bytes32[]));
        if (j >= vocab || j / WideDigest.CHUNK != index) return false;
        if (sha256(x) != Codec.traceKey(inLeaves[0]).digest) return false;
        if (row.length < 8 || (row.length - 8) % 33 != 0) return false;
        uint256 cols = (row.length - 8) / 33 * 32;
        if (x.length != 4 + 2 * cols) return false;
        bytes32 leaf = sha256(abi.encodePacked(bytes1(0x00), "OTR/embed-row/v1\x00", uint32(j), row));
        (bool ok, bytes32 root) = rootFromPath(leaf, j, vocab, path);
        if (!ok || root != rowsRoot) return false;
        uint256 off = 8 * (j - index * WideDigest.CHUNK);
        uint64 le = 0;
        for (uint256 i = 0; i < 8; ++i) {
            le |= uint64(uint8(part[off + i])) << uint64(8 * i);
        }
        return int256(int64(le)) != rowDot(row, x, cols);
    }
}
