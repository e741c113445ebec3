// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Owned} from "./Owned.sol";

/// @title Node stakes: deposit, delayed withdrawal, locks while work is contestable, slashing.
/// @notice A node's staking identity is the address of its secp256k1 key (PROTOCOL §4.1).
///         Withdrawal is two-step: `requestWithdrawal` stops the node from posting and starts
///         the delay; `withdraw` pays out once the delay passed, the settlement's time lock
///         (end of every challenge and spot-check window of its batches) passed, and no dispute
///         against it is open. Stake stays slashable until it is paid out.
contract NodeStaking is Owned {
    struct Stake {
        uint128 amount; // slashable balance, including a pending withdrawal
        uint128 pending; // amount requested for withdrawal
        uint64 requestedAt; // when the withdrawal was requested (0: none)
        uint64 lockedUntil; // no withdrawal before this time (set by the settlement)
        uint32 openDisputes; // disputes against the node still open
    }

    uint256 public immutable minStake;
    uint256 public immutable withdrawalDelay;

    mapping(address => Stake) public stakes;
    /// Contracts allowed to slash and lock (dispute game, spot checks).
    mapping(address => bool) public isSlasher;
    /// The settlement contract, which extends time locks when a node posts.
    address public settlement;
    /// Slashed value not paid to a winner (the protocol treasury).
    uint256 public treasury;
    /// Pull payments: slashing shares, returned bonds and won bonds, claimed by `claimCredit`.
    mapping(address => uint256) public credit;

    error InsufficientStake(uint256 have, uint256 need);
    error WithdrawalPending();
    error NoWithdrawal();
    error WithdrawalLocked(uint256 until);
    error DisputesOpen(uint32 count);
    error TransferFailed();
    error BadBps(uint256 bps);
    error AlreadySet();

    event Staked(address indexed node, uint256 amount, uint256 total);
    event WithdrawalRequested(address indexed node, uint256 amount, uint256 requestedAt);
    event Withdrawn(address indexed node, uint256 amount);
    event Slashed(address indexed node, uint256 amount, address indexed beneficiary, uint256 paid);
    event Credited(address indexed who, uint256 amount);
    event CreditClaimed(address indexed who, uint256 amount);

    constructor(address owner_, uint256 minStake_, uint256 withdrawalDelay_) Owned(owner_) {
        minStake = minStake_;
        withdrawalDelay = withdrawalDelay_;
    }

    modifier onlySlasher() {
        if (!isSlasher[msg.sender]) revert Unauthorized(msg.sender);
        _;
    }

    function setSlasher(address who, bool allowed) external onlyOwner {
        isSlasher[who] = allowed;
    }

    function setSettlement(address s) external onlyOwner {
        if (settlement != address(0)) revert AlreadySet();
        settlement = s;
    }

    function stake() external payable {
        Stake storage s = stakes[msg.sender];
        s.amount += uint128(msg.value);
        emit Staked(msg.sender, msg.value, s.amount);
    }

    /// @notice May `node` post batches: staked at least `minStake`, no withdrawal pending.
    function canPost(address node) external view returns (bool) {
        Stake storage s = stakes[node];
        return s.amount >= minStake && s.requestedAt == 0;
    }

    function requestWithdrawal(uint256 amount) external {
        Stake storage s = stakes[msg.sender];
        if (s.requestedAt != 0) revert WithdrawalPending();
        if (amount == 0 || amount > s.amount) revert InsufficientStake(s.amount, amount);
        s.pending = uint128(amount);
        s.requestedAt = uint64(block.timestamp);
        emit WithdrawalRequested(msg.sender, amount, block.timestamp);
    }

    /// @notice The earliest time `withdraw` can succeed for `node` (if no dispute is open).
    function withdrawableAt(address node) public view returns (uint256) {
        Stake storage s = stakes[node];
        uint256 t = uint256(s.requestedAt) + withdrawalDelay;
        return t > s.lockedUntil ? t : s.lockedUntil;
    }

    function withdraw() external {
        Stake storage s = stakes[msg.sender];
        if (s.requestedAt == 0) revert NoWithdrawal();
        uint256 until = withdrawableAt(msg.sender);
        if (block.timestamp < until) revert WithdrawalLocked(until);
        if (s.openDisputes != 0) revert DisputesOpen(s.openDisputes);
        uint256 amount = s.pending < s.amount ? s.pending : s.amount;
        s.amount -= uint128(amount);
        s.pending = 0;
        s.requestedAt = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @notice Extends the node's time lock to at least `until` (settlement only).
    function extendLock(address node, uint256 until) external {
        if (msg.sender != settlement) revert Unauthorized(msg.sender);
        Stake storage s = stakes[node];
        if (until > s.lockedUntil) s.lockedUntil = uint64(until);
    }

    function lockDispute(address node) external onlySlasher {
        stakes[node].openDisputes += 1;
    }

    function unlockDispute(address node) external onlySlasher {
        stakes[node].openDisputes -= 1;
    }

    /// @notice Takes up to `amount` from the node's stake; pays `bps`/10000 of what was taken
    ///         to `beneficiary`, the rest to the treasury. Returns the amount taken.
    function slash(address node, uint256 amount, address beneficiary, uint256 bps)
        external
        onlySlasher
        returns (uint256 taken)
    {
        if (bps > 10_000) revert BadBps(bps);
        Stake storage s = stakes[node];
        taken = amount < s.amount ? amount : s.amount;
        s.amount -= uint128(taken);
        uint256 paid = taken * bps / 10_000;
        treasury += taken - paid;
        credit[beneficiary] += paid;
        emit Slashed(node, taken, beneficiary, paid);
    }

    /// @notice Credits `msg.value` to `who` (bonds returned or forfeited by the dispute game).
    function creditTo(address who) external payable {
        credit[who] += msg.value;
        emit Credited(who, msg.value);
    }

    /// @notice Adds `msg.value` to the treasury (forfeited bond shares).
    function toTreasury() external payable {
        treasury += msg.value;
    }

    /// @notice Pays out everything credited to the caller (pull payment: a reverting receiver
    ///         can never block a slash or a dispute resolution).
    function claimCredit() external {
        uint256 amount = credit[msg.sender];
        credit[msg.sender] = 0;
        emit CreditClaimed(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
