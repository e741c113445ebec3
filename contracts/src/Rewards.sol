// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Settlement} from "./Settlement.sol";
import {SpotChecks} from "./SpotChecks.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {BatchProof} from "./lib/BatchProof.sol";
import {Codec} from "./lib/Codec.sol";
import {Rfc6962} from "./lib/Rfc6962.sol";

/// @title Proof of Efficient Attribution rewards (DESIGN principle 8).
/// @notice Time is cut into epochs of `epochLength` seconds from `genesis`; a batch belongs to
///         the epoch of its `postedAt`. Each epoch has a pool (`fund`). A node (or anyone for
///         it) registers the work of one micro-batch with `registerWork`, giving the header, its
///         audit path and all its receipts; the contract recomputes the receipts root. Work =
///         sum over receipts of (prompt + completion tokens) x the registered cost weight,
///         counting only receipts whose model and weights root match the registry and that are
///         cleared by the spot checks (not selected, or proved). The batch must be final (window
///         passed, no dispute open, none lost), its spot-check seed recorded and its proof
///         deadline passed. Each micro-batch counts once (`counted[headerHash]`). Registration
///         for epoch e closes at `claimOpensAt(e) = genesis + (e + 1) * epochLength +
///         claimDelay`; from then on each node claims `pool * work / totalWork` once.
contract Rewards {
    Settlement public immutable settlement;
    SpotChecks public immutable spotChecks;
    ModelRegistry public immutable registry;
    uint256 public immutable genesis;
    uint256 public immutable epochLength;
    uint256 public immutable claimDelay;

    /// Epoch => reward pool (wei).
    mapping(uint256 => uint256) public pool;
    /// Epoch => total attributed work.
    mapping(uint256 => uint256) public totalWork;
    /// Epoch => node => attributed work.
    mapping(uint256 => mapping(address => uint256)) public workOf;
    /// Epoch => node => paid.
    mapping(uint256 => mapping(address => bool)) public paid;
    /// Header hash => its receipts were counted.
    mapping(bytes32 => bool) public counted;

    error NotFinal(uint256 batchIndex);
    error NoSeed(uint256 batchIndex);
    error SpotCheckPending(uint256 deadline);
    error AlreadyCounted(bytes32 headerHash);
    error ReceiptsLength(uint256 got, uint256 expected);
    error ReceiptsRootMismatch(bytes32 computed, bytes32 expected);
    error RegistrationClosed(uint256 epoch, uint256 closedAt);
    error ClaimNotOpen(uint256 epoch, uint256 opensAt);
    error AlreadyPaid(uint256 epoch, address node);
    error NoWork(uint256 epoch, address node);
    error TransferFailed();

    event Funded(uint256 indexed epoch, uint256 amount);
    event WorkRegistered(uint256 indexed epoch, address indexed node, bytes32 headerHash, uint256 work);
    event RewardPaid(uint256 indexed epoch, address indexed node, uint256 amount);

    constructor(
        Settlement settlement_,
        SpotChecks spotChecks_,
        ModelRegistry registry_,
        uint256 genesis_,
        uint256 epochLength_,
        uint256 claimDelay_
    ) {
        settlement = settlement_;
        spotChecks = spotChecks_;
        registry = registry_;
        genesis = genesis_;
        epochLength = epochLength_;
        claimDelay = claimDelay_;
    }

    function epochOf(uint256 timestamp) public view returns (uint256) {
        return timestamp < genesis ? 0 : (timestamp - genesis) / epochLength;
    }

    function claimOpensAt(uint256 epoch) public view returns (uint256) {
        return genesis + (epoch + 1) * epochLength + claimDelay;
    }

    function fund(uint256 epoch) external payable {
        pool[epoch] += msg.value;
        emit Funded(epoch, msg.value);
    }

    /// @notice Registers the attributed work of one micro-batch of a final batch.
    /// @param receipts the header's receipts, 209 bytes each, in batch order.
    function registerWork(
        uint64 batchIndex,
        uint32 headerIndex,
        bytes calldata header,
        bytes32[] calldata headerPath,
        bytes calldata receipts
    ) external returns (uint256 work) {
        if (!settlement.isFinal(batchIndex)) revert NotFinal(batchIndex);
        if (spotChecks.seedOf(batchIndex) == 0) revert NoSeed(batchIndex);
        {
            uint256 dl = spotChecks.deadline(batchIndex);
            if (block.timestamp < dl) revert SpotCheckPending(dl);
        }
        Settlement.Batch memory b = settlement.batch(batchIndex);
        uint256 epoch = epochOf(b.postedAt);
        {
            uint256 closes = claimOpensAt(epoch);
            if (block.timestamp >= closes) revert RegistrationClosed(epoch, closes);
        }
        (bytes32 hh, Codec.Header memory h) = BatchProof.checkHeader(header, headerIndex, headerPath, b.root, b.headerCount);
        if (counted[hh]) revert AlreadyCounted(hh);
        counted[hh] = true;
        work = _work(batchIndex, h, receipts);
        workOf[epoch][h.node] += work;
        totalWork[epoch] += work;
        emit WorkRegistered(epoch, h.node, hh, work);
    }

    function _work(uint256 batchIndex, Codec.Header memory h, bytes calldata receipts)
        private
        view
        returns (uint256 work)
    {
        uint256 n = h.receiptCount;
        if (receipts.length != n * Codec.RECEIPT_LEN) revert ReceiptsLength(receipts.length, n * Codec.RECEIPT_LEN);
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 off = i * Codec.RECEIPT_LEN;
            bytes32 rh = Codec.receiptHash(receipts, off);
            leaves[i] = Rfc6962.leafHash(rh);
            Codec.Receipt memory r = Codec.receiptAt(receipts, off);
            uint256 w = registry.costWeightOf(r.modelId, r.weightsRoot);
            if (w != 0 && spotChecks.cleared(batchIndex, rh)) {
                work += (uint256(r.promptTokens) + r.completionTokens) * w;
            }
        }
        bytes32 root = Rfc6962.rootOfLeafHashes(leaves);
        if (root != h.receiptsRoot) revert ReceiptsRootMismatch(root, h.receiptsRoot);
    }

    /// @notice Pays the caller its share of an epoch's pool, once, after registration closed.
    function claim(uint256 epoch) external returns (uint256 amount) {
        uint256 opens = claimOpensAt(epoch);
        if (block.timestamp < opens) revert ClaimNotOpen(epoch, opens);
        if (paid[epoch][msg.sender]) revert AlreadyPaid(epoch, msg.sender);
        uint256 w = workOf[epoch][msg.sender];
        if (w == 0) revert NoWork(epoch, msg.sender);
        paid[epoch][msg.sender] = true;
        amount = pool[epoch] * w / totalWork[epoch];
        emit RewardPaid(epoch, msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
