// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Owned} from "./Owned.sol";
import {NodeStaking} from "./NodeStaking.sol";
import {Settlement} from "./Settlement.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {BatchProof} from "./lib/BatchProof.sol";
import {Codec} from "./lib/Codec.sol";
import {Rfc6962} from "./lib/Rfc6962.sol";
import {StepOpening} from "./lib/StepOpening.sol";
import {TraceLayout} from "./lib/TraceLayout.sol";
import {MatVecStepVerifier} from "./verifiers/MatVecStepVerifier.sol";

/// @title Stochastic ZK spot-checks (DESIGN principle 7).
/// @notice The seed of batch n is `keccak256(blockhash(postedBlock + seedDelayBlocks), root)`:
///         a block hash the node could not know when it answered. Anyone records it with
///         `recordSeed` once that block exists and while its hash is still readable (256
///         blocks); a batch whose seed was never recorded earns no reward. A receipt is selected
///         when `keccak256(seed, receiptHash) mod 1e6 < rhoPpm`. The sampled index is
///         `s = keccak256(seed, receiptHash, 1) mod trace_steps`, and the proved step is the first
///         layer matrix-vector step (`Q K V O GATE UP DOWN` of a layer) at or after `s` in trace
///         order, wrapping to the trace's start: the node opens every leaf from `s` up to it (none
///         of them a layer matrix-vector step), publishes the step's whole output `y` and proves
///         one unit of `R` rows drawn from the seed (`keccak256(seed, receiptHash, 4) mod
///         rows/R`, `selectedUnit`) with a Groth16 unit proof through the operator's
///         `MatVecStepVerifier` (`proveSpotCheck`). Neither the step nor the rows are the node's
///         choice. Other operators (norms, attention, embedding, logits, sampling) are settled by
///         disputes, not sampled here: a spot check is always a unit proof, which every layer
///         step of a model with registered unit keys can give. Proof before `postedAt +
///         proofWindow`; after that anyone can `reportMissed` and the node is slashed
///         `slashAmount` (`reporterBps` to the reporter).
contract SpotChecks is Owned {
    Settlement public immutable settlement;
    NodeStaking public immutable staking;
    ModelRegistry public immutable registry;
    uint256 public immutable seedDelayBlocks;
    uint256 public immutable rhoPpm;
    uint256 public immutable proofWindow;
    uint256 public immutable slashAmount;
    uint256 public immutable reporterBps;

    /// Domain of the sampled step in `keccak256(abi.encode(seed, receiptHash, domain))`.
    uint256 internal constant STEP_DOMAIN = 1;
    /// Domain of the sampled unit of a matrix-vector step.
    uint256 internal constant UNIT_DOMAIN = 4;

    /// A matrix-vector step's unit proof: the step's input `x` and whole output `y` (their
    /// SHA-256 are the trace leaves' digests), the matrix commitment `C_W` opened in the
    /// registry's `poseidonRoot`, and the Groth16 proof (EIP-197 order) of the selected unit.
    struct UnitProof {
        bytes x;
        bytes y;
        MatVecStepVerifier.MatrixOpening w;
        uint256[8] proof;
    }

    /// Layer operators that are matrix-vector products (engine `trace.rs` codes).
    uint256 internal constant LAYER_MATVEC_OPS = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 8) | (1 << 11) | (1 << 12) | (1 << 14);
    uint8 internal constant CLASS_LAYER = 1;

    /// Batch index => seed (0: not recorded).
    mapping(uint256 => bytes32) public seedOf;
    /// keccak256(batchIndex, receiptHash) => proof accepted.
    mapping(bytes32 => bool) public proved;
    /// keccak256(batchIndex, receiptHash) => slashed for a missed proof.
    mapping(bytes32 => bool) public missed;

    error SeedNotYet(uint256 block_);
    error SeedExpired(uint256 block_);
    error SeedAlreadyRecorded(uint256 batchIndex);
    error NoSeed(uint256 batchIndex);
    error NotSelected(bytes32 receiptHash);
    error NotAMatVecStep(uint64 index);
    error DeadlinePassed(uint256 deadline);
    error DeadlineNotPassed(uint256 deadline);
    error AlreadyProved(bytes32 receiptHash);
    error AlreadyReported(bytes32 receiptHash);
    error NoStepVerifier(uint16 stage, uint8 op);
    error UnitNotProven();
    error NotTheSampledStep(uint64 index, uint64 expected);
    error SkippedMatVecStep(uint64 index);
    error NotInLayout(uint64 index);

    event SeedRecorded(uint256 indexed batchIndex, bytes32 seed);
    event SpotCheckProved(uint256 indexed batchIndex, bytes32 receiptHash, uint64 step);
    event SpotCheckMissed(uint256 indexed batchIndex, bytes32 receiptHash, uint256 slashed);

    constructor(
        address owner_,
        Settlement settlement_,
        NodeStaking staking_,
        ModelRegistry registry_,
        uint256 seedDelayBlocks_,
        uint256 rhoPpm_,
        uint256 proofWindow_,
        uint256 slashAmount_,
        uint256 reporterBps_
    ) Owned(owner_) {
        settlement = settlement_;
        staking = staking_;
        registry = registry_;
        seedDelayBlocks = seedDelayBlocks_;
        rhoPpm = rhoPpm_;
        proofWindow = proofWindow_;
        slashAmount = slashAmount_;
        reporterBps = reporterBps_;
    }

    /// @notice Records the seed of a batch from the hash of block `postedBlock + seedDelayBlocks`.
    function recordSeed(uint256 batchIndex) external returns (bytes32 seed) {
        if (seedOf[batchIndex] != 0) revert SeedAlreadyRecorded(batchIndex);
        Settlement.Batch memory b = settlement.batch(batchIndex);
        uint256 sb = uint256(b.postedBlock) + seedDelayBlocks;
        if (block.number <= sb) revert SeedNotYet(sb);
        bytes32 h = blockhash(sb);
        if (h == 0) revert SeedExpired(sb);
        seed = keccak256(abi.encode(h, b.root));
        seedOf[batchIndex] = seed;
        emit SeedRecorded(batchIndex, seed);
    }

    function deadline(uint256 batchIndex) public view returns (uint256) {
        return uint256(settlement.batch(batchIndex).postedAt) + proofWindow;
    }

    function isSelected(uint256 batchIndex, bytes32 receiptHash) public view returns (bool) {
        bytes32 seed = seedOf[batchIndex];
        if (seed == 0) return false;
        return uint256(keccak256(abi.encode(seed, receiptHash))) % 1_000_000 < rhoPpm;
    }

    function selectedStep(uint256 batchIndex, bytes32 receiptHash, uint64 traceSteps) public view returns (uint64) {
        if (traceSteps == 0) return 0;
        return uint64(uint256(keccak256(abi.encode(seedOf[batchIndex], receiptHash, STEP_DOMAIN))) % traceSteps);
    }

    /// @notice The unit (of `units`) a spot check proves when the sampled step is a
    ///         matrix-vector product; its rows are `unit * R ..`.
    function selectedUnit(uint256 batchIndex, bytes32 receiptHash, uint256 units) public view returns (uint256) {
        if (units == 0) return 0;
        return uint256(keccak256(abi.encode(seedOf[batchIndex], receiptHash, UNIT_DOMAIN))) % units;
    }

    /// @notice Does a receipt of a final batch count for rewards: not selected, or proved.
    function cleared(uint256 batchIndex, bytes32 receiptHash) external view returns (bool) {
        return !isSelected(batchIndex, receiptHash) || proved[_key(batchIndex, receiptHash)];
    }

    /// @notice Whether trace step `(stage, op)` of model `modelId` is a layer matrix-vector step.
    function isLayerMatVec(bytes32 modelId, uint16 stage, uint8 op) public view returns (bool) {
        return registry.stageClass(modelId, stage) == CLASS_LAYER && (LAYER_MATVEC_OPS >> op) & 1 == 1;
    }

    /// @notice The node's proof of a selected receipt. `skipped` are the leaves from the sampled
    ///         index on (wrapping), none a layer matrix-vector step, and `outLeaf` (at the index
    ///         after the last of them, or at the sampled index when `skipped` is empty) is one:
    ///         the proved step. `inputs` is its input leaf; `u` the unit proof of the rows
    ///         `selectedUnit(.., rows / R) * R ..` checked by `MatVecStepVerifier.openMatVec` and
    ///         `verifyUnit`. Every opened leaf (skipped, the step, its input) must carry the key
    ///         the trace layout puts at its index (`TraceLayout`, with the receipt's
    ///         `promptTokens` and the model's `numLayers`): a trace holding copies of correct
    ///         steps in place of wrong ones, or other keys over them, would otherwise pass every
    ///         spot check.
    function proveSpotCheck(
        BatchProof.ReceiptRef calldata r,
        StepOpening.Leaf[] calldata skipped,
        StepOpening.Leaf calldata out,
        StepOpening.Leaf[] calldata inputs,
        UnitProof calldata u
    ) external {
        (BatchProof.Included memory inc, bytes32 key) = _selected(r);
        {
            uint256 dl = deadline(r.batchIndex);
            if (block.timestamp >= dl) revert DeadlinePassed(dl);
        }
        if (proved[key]) revert AlreadyProved(inc.receiptHash);
        uint64 n = inc.receipt.traceSteps;
        bytes32 modelId = inc.receipt.modelId;
        uint32 pt = inc.receipt.promptTokens;
        uint16 nl = registry.model(modelId).numLayers;
        uint64 next = selectedStep(r.batchIndex, inc.receiptHash, n);
        for (uint256 i = 0; i < skipped.length; ++i) {
            StepOpening.Leaf calldata l = skipped[i];
            if (l.index != next) revert NotTheSampledStep(l.index, next);
            Rfc6962.verifyInclusion(Rfc6962.leafHashOf(l.leaf), l.index, n, l.path, inc.receipt.traceRoot);
            Codec.TraceKey memory sk = Codec.traceKey(l.leaf);
            if (!TraceLayout.placed(sk.pos, sk.stage, sk.op, pt, nl, l.index)) revert NotInLayout(l.index);
            if (isLayerMatVec(modelId, sk.stage, sk.op)) revert SkippedMatVecStep(l.index);
            next = next + 1 == n ? 0 : next + 1;
        }
        if (out.index != next) revert NotTheSampledStep(out.index, next);
        Rfc6962.verifyInclusion(Rfc6962.leafHashOf(out.leaf), out.index, n, out.path, inc.receipt.traceRoot);
        Codec.TraceKey memory k = Codec.traceKey(out.leaf);
        if (!TraceLayout.placed(k.pos, k.stage, k.op, pt, nl, out.index)) revert NotInLayout(out.index);
        if (!isLayerMatVec(modelId, k.stage, k.op)) revert NotAMatVecStep(out.index);
        address v = registry.stepVerifier(modelId, k.stage, k.op);
        if (v == address(0)) revert NoStepVerifier(k.stage, k.op);
        bytes[] memory ins = StepOpening.openInputs(inputs, n, inc.receipt.traceRoot, out.index);
        for (uint256 i = 0; i < inputs.length; ++i) {
            Codec.TraceKey memory ik = Codec.traceKey(inputs[i].leaf);
            if (!TraceLayout.placed(ik.pos, ik.stage, ik.op, pt, nl, inputs[i].index)) {
                revert NotInLayout(inputs[i].index);
            }
        }
        (uint256 rows, uint256 unitRows, bytes32 inDigest) =
            MatVecStepVerifier(v).openMatVec(modelId, inc.receipt.weightsRoot, out.leaf, ins, u.y);
        uint256 rowStart = selectedUnit(r.batchIndex, inc.receiptHash, rows / unitRows) * unitRows;
        if (!MatVecStepVerifier(v).verifyUnit(
                modelId, k.stage, k.op, inDigest, k.digest, rowStart, u.x, u.y, u.w, u.proof
            )) {
            revert UnitNotProven();
        }
        proved[key] = true;
        emit SpotCheckProved(r.batchIndex, inc.receiptHash, out.index);
    }

    /// @notice After the deadline: slashes the node for a selected receipt left unproved.
    function reportMissed(BatchProof.ReceiptRef calldata r) external returns (uint256 slashed) {
        (BatchProof.Included memory inc, bytes32 key) = _selected(r);
        uint256 dl = deadline(r.batchIndex);
        if (block.timestamp < dl) revert DeadlineNotPassed(dl);
        if (proved[key]) revert AlreadyProved(inc.receiptHash);
        if (missed[key]) revert AlreadyReported(inc.receiptHash);
        missed[key] = true;
        slashed = staking.slash(inc.header.node, slashAmount, msg.sender, reporterBps);
        settlement.onFraudProven(r.batchIndex, slashed);
        emit SpotCheckMissed(r.batchIndex, inc.receiptHash, slashed);
    }

    function _selected(BatchProof.ReceiptRef calldata r)
        private
        view
        returns (BatchProof.Included memory inc, bytes32 key)
    {
        if (seedOf[r.batchIndex] == 0) revert NoSeed(r.batchIndex);
        Settlement.Batch memory b = settlement.batch(r.batchIndex);
        inc = BatchProof.check(r, b.root, b.headerCount);
        if (!isSelected(r.batchIndex, inc.receiptHash)) revert NotSelected(inc.receiptHash);
        key = _key(r.batchIndex, inc.receiptHash);
    }

    function _key(uint256 batchIndex, bytes32 receiptHash) private pure returns (bytes32) {
        return keccak256(abi.encode(batchIndex, receiptHash));
    }
}
