// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Owned} from "./Owned.sol";
import {NodeStaking} from "./NodeStaking.sol";
import {Codec} from "./lib/Codec.sol";
import {Rfc6962} from "./lib/Rfc6962.sol";

/// @title The rollup: batches of micro-batch headers, the challenge window and finality.
/// @notice `postBatch(root, headers)` takes the batch root and, as calldata (the data
///         availability of the rollup), the concatenated 113-byte micro-batch headers of
///         PROTOCOL §2.2. It checks that the sender is a staked node, that every header is
///         version 1, names this chain and the sender, and continues the sender's header chain
///         (sequence + 1, prev hash, timestamps not going back: PROTOCOL §4.2), recomputes the
///         RFC 6962 root of the header hashes with the SHA-256 precompile and compares it with
///         `root`. The sender authenticates the headers, so their signatures are not checked
///         on-chain (a bundle carries and a verifier checks them).
///         Finality follows PROTOCOL §8: a challenge is accepted while
///         `block.timestamp < postedAt + challengeWindow`; the batch is final from then on
///         when no dispute is open and none was lost.
contract Settlement is Owned {
    /// Dispute states, as in PROTOCOL §2.3 `ChainStatus.dispute`.
    uint8 public constant DISPUTE_NONE = 0;
    uint8 public constant DISPUTE_OPEN = 1;
    uint8 public constant DISPUTE_NODE_WON = 2;
    uint8 public constant DISPUTE_NODE_LOST = 3;

    /// Finality statuses returned by `finality`.
    uint8 public constant STATUS_UNKNOWN = 0;
    uint8 public constant STATUS_IN_WINDOW = 1;
    uint8 public constant STATUS_DISPUTED = 2;
    uint8 public constant STATUS_SLASHED = 3;
    uint8 public constant STATUS_FINAL = 4;

    uint256 public constant MAX_HEADERS = 1024;

    struct Batch {
        bytes32 root; // slot +0: RFC 6962 root of the header hashes
        address node; // slot +1, bytes 0..19 (low-order first)
        uint64 postedAt; // slot +1: block.timestamp of postBatch
        uint32 headerCount; // slot +1
        uint64 postedBlock; // slot +2: block.number of postBatch
        uint64 firstSequence; // slot +2
        uint64 receiptCount; // slot +2: sum of the headers' receipt counts
        uint8 disputeState; // slot +2: DISPUTE_*
        uint32 openDisputes; // slot +2
        uint128 slashedWei; // slot +3: total slashed over this batch's receipts
    }

    /// The head of one node's header chain.
    struct NodeChain {
        bytes32 lastHeaderHash; // 0 before the first header (= GENESIS_PREV_HASH)
        uint64 nextSequence;
        uint64 lastTimestamp;
    }

    NodeStaking public immutable staking;
    uint256 public immutable challengeWindow;
    /// How long past the challenge window a node's stake stays locked after a post
    /// (covers the spot-check proof deadline and the last dispute moves).
    uint256 public immutable lockExtension;

    /// Number of batches posted; batch indices are 0..batchCount-1.
    uint256 public batchCount;
    /// Batch index => batch. Slot of batches[n] = keccak256(abi.encode(n, BATCHES_SLOT)).
    mapping(uint256 => Batch) public batches;
    /// Batch root => index + 1 (0: never posted).
    mapping(bytes32 => uint256) public indexPlusOne;
    /// Node => head of its header chain.
    mapping(address => NodeChain) public chains;
    /// Contracts that report dispute outcomes and proven fraud (dispute game, spot checks).
    mapping(address => bool) public isAdjudicator;

    error NotStaked(address node);
    error NoHeaders();
    error HeadersLength(uint256 got);
    error TooManyHeaders(uint256 got, uint256 max);
    error BatchAlreadyPosted(bytes32 root, uint256 index);
    error WrongChainId(uint256 header, uint64 got, uint256 expected);
    error WrongNode(uint256 header, address got, address expected);
    error SequenceGap(uint256 header, uint64 got, uint64 expected);
    error PrevHashMismatch(uint256 header, bytes32 got, bytes32 expected);
    error TimestampRegression(uint256 header, uint64 prev, uint64 next);
    error BatchRootMismatch(bytes32 computed, bytes32 claimed);
    error UnknownBatch(uint256 index);
    error WindowClosed(uint256 index, uint256 endsAt);

    event BatchPosted(
        uint256 indexed index,
        address indexed node,
        bytes32 root,
        uint256 headerCount,
        uint64 firstSequence,
        uint64 receiptCount
    );
    event DisputeOpened(uint256 indexed index);
    event DisputeResolved(uint256 indexed index, bool nodeWon, uint256 slashedWei);

    constructor(address owner_, NodeStaking staking_, uint256 challengeWindow_, uint256 lockExtension_)
        Owned(owner_)
    {
        staking = staking_;
        challengeWindow = challengeWindow_;
        lockExtension = lockExtension_;
    }

    modifier onlyAdjudicator() {
        if (!isAdjudicator[msg.sender]) revert Unauthorized(msg.sender);
        _;
    }

    function setAdjudicator(address who, bool allowed) external onlyOwner {
        isAdjudicator[who] = allowed;
    }

    /// @notice Posts a batch: `headers` is the concatenation of N 113-byte headers of the
    ///         sender's chain, `root` the RFC 6962 root of their header hashes.
    function postBatch(bytes32 root, bytes calldata headers) external returns (uint256 index) {
        if (!staking.canPost(msg.sender)) revert NotStaked(msg.sender);
        uint256 n = headers.length / Codec.HEADER_LEN;
        if (n == 0) revert NoHeaders();
        if (headers.length != n * Codec.HEADER_LEN) revert HeadersLength(headers.length);
        if (n > MAX_HEADERS) revert TooManyHeaders(n, MAX_HEADERS);
        uint256 existing = indexPlusOne[root];
        if (existing != 0) revert BatchAlreadyPosted(root, existing - 1);

        NodeChain memory c = chains[msg.sender];
        uint64 firstSequence = c.nextSequence;
        uint64 receipts;
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 off = i * Codec.HEADER_LEN;
            Codec.Header memory h = Codec.header(headers, off);
            if (h.chainId != block.chainid) revert WrongChainId(i, h.chainId, block.chainid);
            if (h.node != msg.sender) revert WrongNode(i, h.node, msg.sender);
            if (h.sequence != c.nextSequence) revert SequenceGap(i, h.sequence, c.nextSequence);
            if (h.prevHeaderHash != c.lastHeaderHash) {
                revert PrevHashMismatch(i, h.prevHeaderHash, c.lastHeaderHash);
            }
            if (h.timestamp < c.lastTimestamp) revert TimestampRegression(i, c.lastTimestamp, h.timestamp);
            bytes32 hh = Codec.headerHash(headers, off);
            leaves[i] = Rfc6962.leafHash(hh);
            c.lastHeaderHash = hh;
            c.nextSequence = h.sequence + 1;
            c.lastTimestamp = h.timestamp;
            receipts += h.receiptCount;
        }
        bytes32 computed = Rfc6962.rootOfLeafHashes(leaves);
        if (computed != root) revert BatchRootMismatch(computed, root);

        chains[msg.sender] = c;
        index = batchCount++;
        batches[index] = Batch({
            root: root,
            node: msg.sender,
            postedAt: uint64(block.timestamp),
            headerCount: uint32(n),
            postedBlock: uint64(block.number),
            firstSequence: firstSequence,
            receiptCount: receipts,
            disputeState: DISPUTE_NONE,
            openDisputes: 0,
            slashedWei: 0
        });
        indexPlusOne[root] = index + 1;
        staking.extendLock(msg.sender, block.timestamp + challengeWindow + lockExtension);
        emit BatchPosted(index, msg.sender, root, n, firstSequence, receipts);
    }

    function batch(uint256 index) public view returns (Batch memory b) {
        if (index >= batchCount) revert UnknownBatch(index);
        return batches[index];
    }

    /// @notice `postedAt + challengeWindow`: the first second at which the batch can be final.
    function windowEnd(uint256 index) public view returns (uint256) {
        return uint256(batch(index).postedAt) + challengeWindow;
    }

    function inWindow(uint256 index) public view returns (bool) {
        return block.timestamp < windowEnd(index);
    }

    /// @notice PROTOCOL §8 evaluated with `now = block.timestamp`.
    /// @return status STATUS_*; postedAt; endsAt; slashedWei (for STATUS_SLASHED).
    function finality(uint256 index)
        external
        view
        returns (uint8 status, uint64 postedAt, uint64 endsAt, uint128 slashedWei)
    {
        if (index >= batchCount) return (STATUS_UNKNOWN, 0, 0, 0);
        Batch storage b = batches[index];
        postedAt = b.postedAt;
        endsAt = uint64(uint256(b.postedAt) + challengeWindow);
        slashedWei = b.slashedWei;
        if (b.disputeState == DISPUTE_NODE_LOST) status = STATUS_SLASHED;
        else if (b.disputeState == DISPUTE_OPEN) status = STATUS_DISPUTED;
        else if (block.timestamp < endsAt) status = STATUS_IN_WINDOW;
        else status = STATUS_FINAL;
    }

    /// @notice Final: window passed, no dispute open, none lost.
    function isFinal(uint256 index) external view returns (bool) {
        if (index >= batchCount) return false;
        Batch storage b = batches[index];
        return (b.disputeState == DISPUTE_NONE || b.disputeState == DISPUTE_NODE_WON)
            && block.timestamp >= uint256(b.postedAt) + challengeWindow;
    }

    /// @notice A dispute over a receipt of this batch was opened (adjudicators only; in window).
    function onDisputeOpened(uint256 index) external onlyAdjudicator {
        Batch storage b = batches[index];
        if (index >= batchCount) revert UnknownBatch(index);
        uint256 end = uint256(b.postedAt) + challengeWindow;
        if (block.timestamp >= end) revert WindowClosed(index, end);
        b.openDisputes += 1;
        if (b.disputeState != DISPUTE_NODE_LOST) b.disputeState = DISPUTE_OPEN;
        emit DisputeOpened(index);
    }

    /// @notice A dispute opened by `onDisputeOpened` ended.
    function onDisputeResolved(uint256 index, bool nodeWon, uint256 slashed) external onlyAdjudicator {
        Batch storage b = batches[index];
        b.openDisputes -= 1;
        _record(b, nodeWon, slashed);
        emit DisputeResolved(index, nodeWon, slashed);
    }

    /// @notice Fraud proven without a game (downgraded model, missed spot-check proof).
    function onFraudProven(uint256 index, uint256 slashed) external onlyAdjudicator {
        if (index >= batchCount) revert UnknownBatch(index);
        _record(batches[index], false, slashed);
        emit DisputeResolved(index, false, slashed);
    }

    function _record(Batch storage b, bool nodeWon, uint256 slashed) private {
        if (!nodeWon) {
            b.disputeState = DISPUTE_NODE_LOST;
            b.slashedWei += uint128(slashed);
        } else if (b.disputeState != DISPUTE_NODE_LOST) {
            b.disputeState = b.openDisputes > 0 ? DISPUTE_OPEN : DISPUTE_NODE_WON;
        }
    }
}
