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
contract SpotChecks is Owned {
    Settlement public immutable settlement;
    NodeStaking public immutable staking;
    ModelRegistry public immutable registry;
    uint256 public immutable seedDelayBlocks;
    uint256 public immutable rhoPpm;
    uint256 public immutable proofWindow;
    uint256 public immutable slashAmount;
    uint256 public immutable reporterBps;

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
        return uint64(uint256(keccak256(abi.encode(seedOf[batchIndex], receiptHash, uint256(1)))) % traceSteps);
    }

    /// @notice Does a receipt of a final batch count for rewards: not selected, or proved.
    function cleared(uint256 batchIndex, bytes32 receiptHash) external view returns (bool) {
        return !isSelected(batchIndex, receiptHash) || proved[_key(batchIndex, receiptHash)];
    }

    /// @notice The node's proof of the sampled step of a selected receipt.
    function proveSpotCheck(
        BatchProof.ReceiptRef calldata r,
        bytes calldata outLeaf,
        bytes32[] calldata outPath,
        StepOpening.Leaf[] calldata inputs,
        bytes calldata witness
    ) external {
        (BatchProof.Included memory inc, bytes32 key) = _selected(r);
        uint256 dl = deadline(r.batchIndex);
        if (block.timestamp >= dl) revert DeadlinePassed(dl);
        if (proved[key]) revert AlreadyProved(inc.receiptHash);
        uint64 step = selectedStep(r.batchIndex, inc.receiptHash, inc.receipt.traceSteps);
        {
            Codec.TraceKey memory k = Codec.traceKey(outLeaf);
            Rfc6962.verifyInclusion(
                Rfc6962.leafHashOf(outLeaf), step, inc.receipt.traceSteps, outPath, inc.receipt.traceRoot
            );
            bytes[] memory ins = StepOpening.openInputs(inputs, inc.receipt.traceSteps, inc.receipt.traceRoot, step);
            address v = registry.stepVerifier(inc.receipt.modelId, k.stage, k.op);
            if (v == address(0)) revert NoStepVerifier(k.stage, k.op);
            if (!IStepVerifier(v).verifyStep(inc.receipt.modelId, inc.receipt.weightsRoot, outLeaf, ins, witness)) {
                revert StepNotProven();
            }
        }
        proved[key] = true;
        emit SpotCheckProved(r.batchIndex, inc.receiptHash, step);
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
