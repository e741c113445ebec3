// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Owned} from "./Owned.sol";
import {NodeStaking} from "./NodeStaking.sol";
import {Settlement} from "./Settlement.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {IStepVerifier} from "./IStepVerifier.sol";
import {BatchProof} from "./lib/BatchProof.sol";
import {Codec} from "./lib/Codec.sol";
import {Rfc6962} from "./lib/Rfc6962.sol";
import {StepOpening} from "./lib/StepOpening.sol";
import {MatVecStepVerifier} from "./verifiers/MatVecStepVerifier.sol";

/// @title Stochastic ZK spot-checks (DESIGN principle 7).
/// @notice The seed of batch n is `keccak256(blockhash(postedBlock + seedDelayBlocks), root)`:
///         a block hash the node could not know when it answered. Anyone records it with
///         `recordSeed` once that block exists and while its hash is still readable (256
///         blocks); a batch whose seed was never recorded earns no reward. A receipt is selected
///         when `keccak256(seed, receiptHash) mod 1e6 < rhoPpm`; its sampled step is
///         `keccak256(seed, receiptHash, 1) mod trace_steps`. The node proves the step with
///         `proveSpotCheck` (the leaf and its inputs opened in the receipt's trace, checked by
///         the model's step verifier) before `postedAt + proofWindow`; after that anyone can
///         `reportMissed` and the node is slashed `slashAmount` (`reporterBps` to the reporter).
///         A sampled matrix-vector step (`Q K V O GATE UP DOWN`, `LOGITS`; its verifier is a
///         `MatVecStepVerifier`) is proved with `proveSpotCheckMatVec` instead: the whole output
///         `y` and one unit of `R` rows, the unit drawn from the seed
///         (`keccak256(seed, receiptHash, 4) mod rows/R`, `selectedUnit`), so the node cannot
///         choose the rows it proves, with a Groth16 unit proof (docs/PROTOCOL.md §7.8).
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

    /// The sampled step of a selected receipt, opened in its trace.
    struct Sampled {
        BatchProof.Included inc;
        bytes32 key;
        uint64 step;
        Codec.TraceKey k;
        bytes[] ins;
        address verifier;
    }

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
    error WrongStep(uint64 got, uint64 expected);
    error DeadlinePassed(uint256 deadline);
    error DeadlineNotPassed(uint256 deadline);
    error AlreadyProved(bytes32 receiptHash);
    error AlreadyReported(bytes32 receiptHash);
    error NoStepVerifier(uint16 stage, uint8 op);
    error StepNotProven();
    error UnitNotProven();

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

    /// @notice The node's proof of the sampled step of a selected receipt, for an operator with a
    ///         one-call step verifier (`IStepVerifier.verifyStep`).
    function proveSpotCheck(
        BatchProof.ReceiptRef calldata r,
        bytes calldata outLeaf,
        bytes32[] calldata outPath,
        StepOpening.Leaf[] calldata inputs,
        bytes calldata witness
    ) external {
        Sampled memory s = _openSampled(r, outLeaf, outPath, inputs);
        if (!IStepVerifier(s.verifier).verifyStep(s.inc.receipt.modelId, s.inc.receipt.weightsRoot, outLeaf, s.ins, witness)) {
            revert StepNotProven();
        }
        _markProved(r.batchIndex, s);
    }

    /// @notice The node's proof of a sampled matrix-vector step: `MatVecStepVerifier.openMatVec`
    ///         checks the step, its input leaf and the whole output `u.y`; `verifyUnit` checks the
    ///         unit proof of the rows `selectedUnit(.., rows / R) * R ..` (not the node's choice).
    function proveSpotCheckMatVec(
        BatchProof.ReceiptRef calldata r,
        bytes calldata outLeaf,
        bytes32[] calldata outPath,
        StepOpening.Leaf[] calldata inputs,
        UnitProof calldata u
    ) external {
        Sampled memory s = _openSampled(r, outLeaf, outPath, inputs);
        MatVecStepVerifier v = MatVecStepVerifier(s.verifier);
        (uint256 rows, uint256 unitRows, bytes32 inDigest) =
            v.openMatVec(s.inc.receipt.modelId, s.inc.receipt.weightsRoot, outLeaf, s.ins, u.y);
        uint256 rowStart = selectedUnit(r.batchIndex, s.inc.receiptHash, rows / unitRows) * unitRows;
        if (!v.verifyUnit(s.inc.receipt.modelId, s.k.stage, s.k.op, inDigest, s.k.digest, rowStart, u.x, u.y, u.w, u.proof)) {
            revert UnitNotProven();
        }
        _markProved(r.batchIndex, s);
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

    /// @dev Checks a selected receipt before its deadline, not yet proved; opens its sampled step
    ///      (`outLeaf` at `selectedStep`) and the step's inputs in its trace, and finds the
    ///      operator's step verifier.
    function _openSampled(
        BatchProof.ReceiptRef calldata r,
        bytes calldata outLeaf,
        bytes32[] calldata outPath,
        StepOpening.Leaf[] calldata inputs
    ) private view returns (Sampled memory s) {
        (s.inc, s.key) = _selected(r);
        uint256 dl = deadline(r.batchIndex);
        if (block.timestamp >= dl) revert DeadlinePassed(dl);
        if (proved[s.key]) revert AlreadyProved(s.inc.receiptHash);
        s.step = selectedStep(r.batchIndex, s.inc.receiptHash, s.inc.receipt.traceSteps);
        s.k = Codec.traceKey(outLeaf);
        Rfc6962.verifyInclusion(
            Rfc6962.leafHashOf(outLeaf), s.step, s.inc.receipt.traceSteps, outPath, s.inc.receipt.traceRoot
        );
        s.ins = StepOpening.openInputs(inputs, s.inc.receipt.traceSteps, s.inc.receipt.traceRoot, s.step);
        s.verifier = registry.stepVerifier(s.inc.receipt.modelId, s.k.stage, s.k.op);
        if (s.verifier == address(0)) revert NoStepVerifier(s.k.stage, s.k.op);
    }

    function _markProved(uint256 batchIndex, Sampled memory s) private {
        proved[s.key] = true;
        emit SpotCheckProved(batchIndex, s.inc.receiptHash, s.step);
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
