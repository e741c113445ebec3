// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepVerifier} from "../IStepVerifier.sol";
import {IGroth16Verifier} from "../IGroth16Verifier.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {Codec} from "../lib/Codec.sol";
import {WideDigest} from "../lib/WideDigest.sol";
import {Poseidon} from "../lib/Poseidon.sol";
import {Rfc6962} from "../lib/Rfc6962.sol";

/// @title The matrix-vector steps of one model (`Q K V O GATE UP DOWN` of a layer, `LOGITS` of
///        the head), settled by one spot-check unit proof in three moves (docs/PROTOCOL.md §7.9).
/// @notice A matrix step cannot be recomputed on-chain, so `verifyStep` (the one-move form)
///         refuses it (`UseMatVecMoves`); the dispute game calls the two checks below instead:
///         - `openMatVec` (the node's `openMatVec`): the output leaf is a matrix step of a shape
///           this verifier holds, its one input leaf is the step's input key (`Q K V` of
///           `(pos, stage, ATTN_NORM)`, `O` of `ATTN`, `GATE UP` of `FFN_NORM`, `DOWN` of `ACT`,
///           `LOGITS` of `(pos, stage, FINAL_NORM)`), and `y` is the whole output: `8 rows`
///           bytes whose wide digest (`WideDigest`) is the output leaf's digest;
///         - `verifyUnit` (the node's `proveUnit`, after the challenger named `rowStart`):
///           `x` and `y` against the two digests, `C_W` of the step's matrix opened against the
///           registry's `poseidonRoot` (leaf `"OTR/zk-matrix/v1\0" || u16be(len(name)) || name ||
///           C_W`), `C_x = Poseidon.inputCommitment(x)`, `C_y` of the `R` values from `rowStart`,
///           and the shape's Groth16 verifier accepting the proof for `(C_W, rowStart, C_x, C_y)`.
///         Shapes are deployment parameters, one per operator (`stageClass`, `op`): the matrix
///         rows and cols, the rows per unit `R` and the Groth16 verifier of that circuit (for
///         example a `MatVecGroth16Verifier` with the ceremony's key). `tiedOutput`: `LOGITS`
///         multiplies by `token_embd.weight` (else `output.weight`). Trusts the registry and the
///         Groth16 verifiers it is deployed with.
contract MatVecStepVerifier is IStepVerifier {
    uint8 internal constant CLASS_LAYER = 1;
    uint8 internal constant CLASS_HEAD = 2;
    /// Engine operator codes (engine `trace.rs`).
    uint8 internal constant ATTN_NORM = 0;
    uint8 internal constant Q = 1;
    uint8 internal constant K = 2;
    uint8 internal constant V = 3;
    uint8 internal constant ATTN = 7;
    uint8 internal constant O = 8;
    uint8 internal constant FFN_NORM = 10;
    uint8 internal constant GATE = 11;
    uint8 internal constant UP = 12;
    uint8 internal constant ACT = 13;
    uint8 internal constant DOWN = 14;
    uint8 internal constant FINAL_NORM = 0;
    uint8 internal constant LOGITS = 1;

    /// One operator's matrix shape and the verifier of its unit circuit.
    struct Shape {
        uint8 stageClass;
        uint8 op;
        uint32 rows;
        uint32 cols;
        uint32 unitRows;
        IGroth16Verifier verifier;
    }

    /// A matrix's commitment `C_W` with its audit path in the registry's `poseidonRoot` tree.
    struct MatrixOpening {
        uint256 index;
        uint256 size;
        bytes32[] path;
        uint256 commitment;
    }

    ModelRegistry public immutable registry;
    /// A deployed `PoseidonRounds` (its code hash is checked by `Poseidon`).
    address public immutable rounds;
    bool public immutable tiedOutput;
    /// keccak256(stageClass, op) => shape.
    mapping(bytes32 => Shape) internal shapes;

    error NotAMatrixOperator(uint8 stageClass, uint8 op);
    error BadShape(uint256 index);
    error UseMatVecMoves();
    error NoShape(uint16 stage, uint8 op);
    error WrongWeights(bytes32 weightsRoot);
    error InputCount(uint256 got);
    error WrongInputStep(uint32 pos, uint16 stage, uint8 op);
    error OutputLength(uint256 got, uint256 expected);
    error InputLength(uint256 got, uint256 expected);
    error OutputMismatch(bytes32 got, bytes32 expected);
    error InputMismatch(bytes32 got, bytes32 expected);
    error NotAUnit(uint256 rowStart, uint256 unitRows, uint256 rows);
    error NoMatrixRoot(bytes32 modelId);

    constructor(ModelRegistry registry_, address rounds_, bool tiedOutput_, Shape[] memory shapes_) {
        registry = registry_;
        rounds = rounds_;
        tiedOutput = tiedOutput_;
        for (uint256 i = 0; i < shapes_.length; ++i) {
            Shape memory s = shapes_[i];
            inputOp(s.stageClass, s.op);
            uint256 r = s.unitRows;
            if (
                s.rows == 0 || s.cols == 0 || s.cols % 32 != 0 || r == 0 || r & (r - 1) != 0 || r > 64
                    || s.rows % r != 0 || address(s.verifier) == address(0)
            ) revert BadShape(i);
            shapes[keccak256(abi.encode(s.stageClass, s.op))] = s;
        }
    }

    /// @notice The shape of operator `op` of stage class `stageClass` (rows 0 when none).
    function shapeOf(uint8 stageClass, uint8 op) public view returns (Shape memory) {
        return shapes[keccak256(abi.encode(stageClass, op))];
    }

    /// @notice The operator of the step's input (same position and stage); reverts for an
    ///         operator that is not a matrix-vector product.
    function inputOp(uint8 stageClass, uint8 op) public pure returns (uint8) {
        if (stageClass == CLASS_LAYER) {
            if (op == Q || op == K || op == V) return ATTN_NORM;
            if (op == O) return ATTN;
            if (op == GATE || op == UP) return FFN_NORM;
            if (op == DOWN) return ACT;
        } else if (stageClass == CLASS_HEAD && op == LOGITS) {
            return FINAL_NORM;
        }
        revert NotAMatrixOperator(stageClass, op);
    }

    /// @notice The converted-weights name of the matrix of operator `op` at trace stage `stage`
    ///         (`otr_zk::step::matrix_name`).
    function matrixName(uint8 stageClass, uint16 stage, uint8 op) public view returns (bytes memory) {
        if (stageClass == CLASS_HEAD) {
            inputOp(stageClass, op);
            return tiedOutput ? bytes("token_embd.weight") : bytes("output.weight");
        }
        string memory t;
        if (op == Q) t = "attn_q";
        else if (op == K) t = "attn_k";
        else if (op == V) t = "attn_v";
        else if (op == O) t = "attn_output";
        else if (op == GATE) t = "ffn_gate";
        else if (op == UP) t = "ffn_up";
        else if (op == DOWN) t = "ffn_down";
        else revert NotAMatrixOperator(stageClass, op);
        return abi.encodePacked("blk.", decimal(stage - 1), ".", t, ".weight");
    }

    /// @notice A matrix step has no one-move proof.
    function verifyStep(bytes32, bytes32, bytes calldata, bytes[] calldata, bytes calldata)
        external
        pure
        returns (bool)
    {
        revert UseMatVecMoves();
    }

    /// @notice The node's first move: checks the step and its whole output `y`; returns the
    ///         matrix rows, the rows per unit and the input leaf's digest.
    function openMatVec(
        bytes32 modelId,
        bytes32 weightsRoot,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata y
    ) external view returns (uint256 rows, uint256 unitRows, bytes32 inDigest) {
        if (registry.model(modelId).weightsRoot != weightsRoot) revert WrongWeights(weightsRoot);
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        uint8 class_ = registry.stageClass(modelId, out.stage);
        Shape memory s = shapeOf(class_, out.op);
        if (s.rows == 0) revert NoShape(out.stage, out.op);
        if (inLeaves.length != 1) revert InputCount(inLeaves.length);
        Codec.TraceKey memory a = Codec.traceKey(inLeaves[0]);
        if (a.pos != out.pos || a.stage != out.stage || a.op != inputOp(class_, out.op)) {
            revert WrongInputStep(a.pos, a.stage, a.op);
        }
        if (y.length != 8 * uint256(s.rows)) revert OutputLength(y.length, 8 * uint256(s.rows));
        bytes32 h = WideDigest.digest(y);
        if (h != out.digest) revert OutputMismatch(h, out.digest);
        return (s.rows, s.unitRows, a.digest);
    }

    /// @notice The node's last move: the unit of rows `rowStart ..` of the step `(stage, op)`
    ///         whose input and output digests are `inDigest`, `outDigest`. Reverts (typed) when
    ///         `x`, `y` or the matrix opening do not match; false when the proof is rejected.
    function verifyUnit(
        bytes32 modelId,
        uint16 stage,
        uint8 op,
        bytes32 inDigest,
        bytes32 outDigest,
        uint256 rowStart,
        bytes calldata x,
        bytes calldata y,
        MatrixOpening calldata w,
        uint256[8] calldata proof
    ) external view returns (bool) {
        uint8 class_ = registry.stageClass(modelId, stage);
        Shape memory s = shapeOf(class_, op);
        if (s.rows == 0) revert NoShape(stage, op);
        if (rowStart % s.unitRows != 0 || rowStart >= s.rows) revert NotAUnit(rowStart, s.unitRows, s.rows);
        if (x.length != 4 + 2 * uint256(s.cols)) revert InputLength(x.length, 4 + 2 * uint256(s.cols));
        if (y.length != 8 * uint256(s.rows)) revert OutputLength(y.length, 8 * uint256(s.rows));
        bytes32 h = sha256(x);
        if (h != inDigest) revert InputMismatch(h, inDigest);
        h = WideDigest.digest(y);
        if (h != outDigest) revert OutputMismatch(h, outDigest);
        bytes32 root = registry.model(modelId).poseidonRoot;
        if (root == bytes32(0)) revert NoMatrixRoot(modelId);
        bytes memory name = matrixName(class_, stage, op);
        bytes32 leafHash = sha256(
            abi.encodePacked(bytes1(0x00), "OTR/zk-matrix/v1\x00", uint16(name.length), name, w.commitment)
        );
        Rfc6962.verifyInclusion(leafHash, w.index, w.size, w.path, root);
        uint256[] memory inputs = new uint256[](4);
        inputs[0] = w.commitment;
        inputs[1] = rowStart;
        inputs[2] = Poseidon.inputCommitment(rounds, x);
        inputs[3] = Poseidon.outputCommitmentBytes(rounds, y[8 * rowStart:8 * (rowStart + s.unitRows)]);
        return s.verifier.verifyProof(proof, inputs);
    }

    /// @dev The decimal digits of `v`.
    function decimal(uint256 v) internal pure returns (bytes memory out) {
        uint256 n = 1;
        for (uint256 t = v; t >= 10; t /= 10) {
            ++n;
        }
        out = new bytes(n);
        for (uint256 i = n; i > 0; --i) {
            out[i - 1] = bytes1(uint8(48 + v % 10));
            v /= 10;
        }
    }
}
