// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepLimit} from "../IStepLimit.sol";
import {IRefutableStep} from "../IRefutableStep.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {Codec} from "../lib/Codec.sol";
import {WideDigest} from "../lib/WideDigest.sol";
import {NormStepVerifier} from "./NormStepVerifier.sol";

/// @title The matrix steps of a model's layers (`Q K V O GATE UP DOWN`), settled by refutation
///        of one row (`IRefutableStep`; docs/PROTOCOL.md §7.9, "Refutation of one row").
/// @notice A layer's matrix step multiplies up to 1.3M weights at Gemma 3 270M: too much to
///         recompute in a transaction, but one output value is one row of the matrix times the
///         step's input, and the matrix-rows tree (engine `Model::matrix_rows_root`) commits
///         every row of every matrix. So:
///         - the node claims its whole output `y` (i64le, one value per matrix row; its wide
///           digest is the step leaf's digest), with the step's one input leaf (`Q K V` of
///           `(pos, stage, ATTN_NORM)`, `O` of `ATTN`, `GATE UP` of `FFN_NORM`, `DOWN` of `ACT`)
///           opened in the agreed prefix; `y` is published in `StepClaimed`;
///         - the challenger refutes it with a row `j` whose value is not
///           `row_output(dot(row_j, x))` (engine `kernels::row_output` over `scalar::dot`, as a
///           `LOGITS` logit), or with the matrix's rows when `y` does not have one value per row:
///           `witness = abi.encode(uint256 j, bytes x, bytes row, bytes32[] rowPath, uint256 rows,
///           bytes32 rowsRoot, uint256 index, uint256 size, bytes32[] path)`, `x` the step's Act16
///           input (SHA-256 = the input leaf's digest), `row` the matrix's row `j` opened in
///           `rowsRoot` (leaf as the embedding rows': `"OTR/embed-row/v1\0" || u32be(j) || row`),
///           and `rowsRoot` opened in `matricesRoot` at `index` of `size` with leaf
///           `"OTR/matrix-rows/v1\0" || u16be(len(name)) || name || u32be(rows) || rowsRoot`,
///           `name` the matrix's converted-weights name (`blk.{stage-1}.attn_q.weight` ...).
///         A right output has no such row, so the honest node wins at the challenger's deadline.
///         Needs no setup ceremony and no key per shape. Deployed per weights root with the
///         matrix-rows root (anyone recomputes it from the weights); refuses other weights.
contract MatRowStepVerifier is NormStepVerifier, IStepLimit, IRefutableStep {
    /// Engine operator codes (engine `trace.rs`) not declared by `NormStepVerifier`.
    uint8 internal constant Q = 1;
    uint8 internal constant K = 2;
    uint8 internal constant V = 3;
    uint8 internal constant ATTN = 7;
    uint8 internal constant GATE = 11;
    uint8 internal constant UP = 12;
    uint8 internal constant ACT = 13;

    bytes32 public immutable weightsRootOf;
    bytes32 public immutable matricesRoot;

    error UseClaimMoves();
    error NotAMatrixStep(uint32 pos, uint16 stage, uint8 op);
    error WrongInputStep(uint32 pos, uint16 stage, uint8 op);
    error WrongWeights(bytes32 weightsRoot);
    error ClaimLength(uint256 got);
    error ClaimMismatch();
    error NoParts();

    constructor(ModelRegistry registry_, bytes32 weightsRoot_, bytes32 matricesRoot_) NormStepVerifier(registry_) {
        weightsRootOf = weightsRoot_;
        matricesRoot = matricesRoot_;
    }

    /// @notice Every layer matrix step can be refuted within a transaction.
    function provable(bytes32, bytes calldata, uint32) external pure returns (bool) {
        return true;
    }

    /// @notice A matrix step has no one-move proof here (`DisputeGame.claimStep` instead).
    function verifyStep(bytes32, bytes32, bytes calldata, bytes[] calldata, bytes calldata)
        external
        pure
        override
        returns (bool)
    {
        revert UseClaimMoves();
    }

    /// @notice The operator of a layer matrix step's input; reverts for another operator.
    function inputOp(Codec.TraceKey memory out) public pure returns (uint8) {
        uint8 op = out.op;
        if (op == Q || op == K || op == V) return ATTN_NORM;
        if (op == O) return ATTN;
        if (op == GATE || op == UP) return FFN_NORM;
        if (op == DOWN) return ACT;
        revert NotAMatrixStep(out.pos, out.stage, out.op);
    }

    /// @notice The converted-weights name of the matrix of layer step `(stage, op)`.
    function matrixName(uint16 stage, uint8 op) public pure returns (bytes memory) {
        string memory t;
        if (op == Q) t = "attn_q";
        else if (op == K) t = "attn_k";
        else if (op == V) t = "attn_v";
        else if (op == O) t = "attn_output";
        else if (op == GATE) t = "ffn_gate";
        else if (op == UP) t = "ffn_up";
        else t = "ffn_down";
        return abi.encodePacked("blk.", decimal(uint256(stage) - 1), ".", t, ".weight");
    }

    function checkClaim(bytes32 modelId, uint256, bytes calldata outLeaf, bytes[] calldata inLeaves, bytes calldata claim)
        external
        view
    {
        ModelRegistry.Model memory m = registry.model(modelId);
        if (m.weightsRoot != weightsRootOf) revert WrongWeights(m.weightsRoot);
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        if (out.stage == 0 || out.stage > m.numLayers) revert NotAMatrixStep(out.pos, out.stage, out.op);
        uint8 want = inputOp(out);
        if (inLeaves.length != 1) revert WrongInputStep(0, 0, 0);
        Codec.TraceKey memory a = Codec.traceKey(inLeaves[0]);
        if (a.pos != out.pos || a.stage != out.stage || a.op != want) revert WrongInputStep(a.pos, a.stage, a.op);
        if (claim.length == 0 || claim.length % 8 != 0) revert ClaimLength(claim.length);
        if (WideDigest.digest(claim) != out.digest) revert ClaimMismatch();
    }

    /// @notice The whole output is the claim: no parts to reveal.
    function parts(bytes32, bytes calldata) external pure returns (uint256) {
        return 0;
    }

    function checkPart(bytes32, bytes calldata, bytes[] calldata, bytes calldata, uint256, bytes calldata)
        external
        pure
    {
        revert NoParts();
    }

    /// @notice True when the matrix of the step, opened as described above, has another number
    ///         of rows than the claim has values, or its row `j` times `x` is not the claim's
    ///         value `j`.
    function refutes(
        bytes32,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata claim,
        uint256,
        bytes calldata,
        bytes[] calldata,
        bytes calldata witness
    ) external view returns (bool) {
        (
            uint256 j,
            bytes memory x,
            bytes memory row,
            bytes32[] memory rowPath,
            uint256 rows,
            bytes32 rowsRoot,
            uint256 index,
            uint256 size,
            bytes32[] memory path
        ) = abi.decode(witness, (uint256, bytes, bytes, bytes32[], uint256, bytes32, uint256, uint256, bytes32[]));
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        bytes memory name = matrixName(out.stage, out.op);
        if (rows >= 1 << 32) return false;
        bytes32 leaf = sha256(
            abi.encodePacked(
                bytes1(0x00), "OTR/matrix-rows/v1\x00", uint16(name.length), name, uint32(rows), rowsRoot
            )
        );
        (bool ok, bytes32 root) = rootFromPath(leaf, index, size, path);
        if (!ok || root != matricesRoot) return false;
        // The matrix is opened: an output of another length is wrong.
        if (claim.length != 8 * rows) return true;
        if (j >= rows || sha256(x) != Codec.traceKey(inLeaves[0]).digest) return false;
        if (row.length < 8 || (row.length - 8) % 33 != 0) return false;
        uint256 cols = (row.length - 8) / 33 * 32;
        if (x.length != 4 + 2 * cols) return false;
        leaf = sha256(abi.encodePacked(bytes1(0x00), "OTR/embed-row/v1\x00", uint32(j), row));
        (ok, root) = rootFromPath(leaf, j, rows, rowPath);
        if (!ok || root != rowsRoot) return false;
        uint64 le = 0;
        for (uint256 i = 0; i < 8; ++i) {
            le |= uint64(uint8(claim[8 * j + i])) << uint64(8 * i);
        }
        return int256(int64(le)) != rowDot(row, x, cols);
    }
}
