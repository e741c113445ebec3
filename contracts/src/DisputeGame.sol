// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Owned} from "./Owned.sol";
import {NodeStaking} from "./NodeStaking.sol";
import {Settlement} from "./Settlement.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {IStepVerifier} from "./IStepVerifier.sol";
import {IStepLimit} from "./IStepLimit.sol";
import {IRefutableStep} from "./IRefutableStep.sol";
import {BatchProof} from "./lib/BatchProof.sol";
import {Codec} from "./lib/Codec.sol";
import {Rfc6962} from "./lib/Rfc6962.sol";
import {StepOpening} from "./lib/StepOpening.sol";
import {TraceLayout} from "./lib/TraceLayout.sol";
import {MatVecStepVerifier} from "./verifiers/MatVecStepVerifier.sol";

/// @title The dispute game: bisection over a receipt's trace, one-step adjudication, slashing.
/// @notice A challenger posts `bond` and one receipt of a batch still in its challenge window.
///         The game keeps two trace prefixes of the node's trace (RFC 6962 roots): one of
///         `agreeSize` leaves the challenger agrees with (initially the empty prefix) and one of
///         `disagreeSize` leaves it disputes (initially the whole trace, the receipt's
///         `trace_root`). Rounds:
///         - node: `bisect` reveals the root of the prefix of `mid = agree + (disagree-agree)/2`
///           leaves with an RFC 9162 consistency proof into the disputed prefix;
///         - challenger: `respond(agree)` moves one end of the interval to `mid`.
///         Prefix roots commit to every earlier leaf, so agreement is monotone and the game ends
///         at the first leaf the parties disagree on (`disagreeSize = agreeSize + 1`). The node
///         then proves that leaf (`proveStep`): the leaf opened as the last leaf of the disputed
///         prefix, its inputs opened in the agreed prefix, and the model's step verifier for the
///         operator accepting the witness. Every move has `moveTimeout` seconds from the previous one; `timeout`
///         decides for the side that moved last. A node that loses is slashed `slashAmount`
///         (`winnerBps` of it to the challenger, who also gets the bond back); a challenger that
///         loses forfeits the bond (`winnerBps` of it to the node, the rest to the treasury).
///         A matrix-vector step (`Q K V O GATE UP DOWN`, `LOGITS`) is settled in three moves
///         instead (docs/PROTOCOL.md §7.9): the node's `openMatVec` publishes the whole output
///         `y` (event `MatVecOpened`), the challenger's `nameUnit` names the rows it disputes, the
///         node's `proveUnit` proves them with a spot-check unit proof through the operator's
///         `MatVecStepVerifier`. Timeouts as for every move: a missed `openMatVec` or `proveUnit`
///         loses for the node, a missed `nameUnit` for the challenger.
///         `challengeModel` settles a downgraded or unregistered model at once, without a game.
contract DisputeGame is Owned {
    enum Phase {
        None,
        NodeToMove,
        ChallengerToMove,
        NodeWon,
        ChallengerWon,
        NoContest // the disputed step has no step verifier: no one wins (`declareUnprovable`)
    }

    struct Dispute {
        address node; // slot +0
        uint64 batchIndex; // slot +0
        Phase phase; // slot +0
        address challenger; // slot +1
        uint64 lastMoveAt; // slot +1
        uint32 promptTokens; // slot +1: the receipt's, for the trace layout (`layoutIndex`)
        uint128 bond; // slot +2
        uint64 agreeSize; // slot +2
        uint64 disagreeSize; // slot +2
        bytes32 agreeRoot; // slot +3
        bytes32 disagreeRoot; // slot +4
        bytes32 midRoot; // slot +5: root revealed by the last `bisect`
        bytes32 receiptHash; // slot +6
        bytes32 modelId; // slot +7
        bytes32 weightsRoot; // slot +8
        uint32 temperatureMilli; // slot +9: the receipt's sampling temperature (0: greedy)
        uint32 topK; // slot +9: the receipt's other sampling parameters
        uint32 topPMilli; // slot +9
        uint64 seed; // slot +9
    }

    Settlement public immutable settlement;
    NodeStaking public immutable staking;
    ModelRegistry public immutable registry;
    uint256 public immutable minBond;
    uint256 public immutable moveTimeout;
    uint256 public immutable slashAmount;
    uint256 public immutable winnerBps;

    /// The three-move settlement of a matrix-vector step (docs/PROTOCOL.md §7.9).
    enum MatVecStage {
        None,
        Opened, // openMatVec done: the challenger names a unit
        Named // nameUnit done: the node proves it
    }

    struct MatVec {
        MatVecStage stage; // slot +0
        uint16 stepStage; // slot +0: the step's trace stage
        uint8 op; // slot +0
        uint32 rows; // slot +0
        uint32 unitRows; // slot +0
        uint32 rowStart; // slot +0
        /// The block of `openMatVec` (its `MatVecOpened` event: where a reader's log query starts).
        uint48 openedBlock; // slot +0
        MatVecStepVerifier verifier; // slot +1
        bytes32 inDigest; // slot +2
        bytes32 outDigest; // slot +3
    }

    uint256 public disputeCount;
    /// Dispute id => dispute. Slot of disputes[id] = keccak256(abi.encode(id, DISPUTES_SLOT)).
    mapping(uint256 => Dispute) public disputes;
    /// Receipt hash => id + 1 of its open dispute (one open dispute per receipt).
    mapping(bytes32 => uint256) public openDisputeOf;
    /// Receipt hash => fraud proven against it (no further disputes, no reward).
    mapping(bytes32 => bool) public fraudProven;
    /// Dispute id => its matrix-vector step, once the node opened one.
    mapping(uint256 => MatVec) public matVecs;

    /// A node's claim at a step settled by refutation (`claimStep`).
    struct Claim {
        IRefutableStep verifier; // slot +0
        uint32 part; // slot +0: the part the challenger named (`namePart`)
        ClaimStage stage; // slot +0
        /// The block of `claimStep` (its `StepClaimed` event, and any `PartRevealed` after it:
        /// where a reader's log query starts).
        uint48 claimedBlock; // slot +0
        /// keccak256(abi.encode(outLeaf, inLeaves, claim)).
        bytes32 hash; // slot +1
        /// keccak256 of the revealed part (`revealPart`).
        bytes32 partHash; // slot +2
    }

    enum ClaimStage {
        None,
        Claimed, // claimStep done: the challenger refutes, or names a part
        PartNamed, // namePart done: the node reveals it
        PartRevealed // revealPart done: the challenger refutes
    }

    /// Dispute id => the node's claim, once it made one.
    mapping(uint256 => Claim) public claims;

    error BondTooSmall(uint256 got, uint256 min);
    error AlreadyDisputed(bytes32 receiptHash, uint256 id);
    error AlreadyProven(bytes32 receiptHash);
    error WrongPhase(uint256 id, Phase phase);
    error NotYourMove(address caller);
    error MoveTooLate(uint256 deadline);
    error TooEarly(uint256 deadline);
    error NotOneStep(uint64 agreeSize, uint64 disagreeSize);
    error OneStepReached();
    error NoStepVerifier(uint16 stage, uint8 op);
    error StepNotProven();
    error ModelMatches(bytes32 modelId);
    error WindowClosed(uint256 batchIndex);
    error MatVecUnderway(uint256 id, MatVecStage stage);
    error NotAUnit(uint256 rowStart, uint256 unitRows, uint256 rows);
    error UnitNotProven();
    error NotInLayout(uint32 pos, uint16 stage, uint8 op, uint64 index);
    error HasStepVerifier(uint16 stage, uint8 op, address verifier);
    error LayoutMatches(uint64 traceSteps);
    error ClaimUnderway(uint256 id);
    error NoClaim(uint256 id);
    error ClaimDiffers(uint256 id);
    error NotRefuted();
    error ClaimStageIs(uint256 id, ClaimStage stage);
    error NoSuchPart(uint256 part, uint256 parts);

    event DisputeOpened(uint256 indexed id, uint256 indexed batchIndex, bytes32 receiptHash, address challenger);
    event Bisected(uint256 indexed id, uint64 midSize, bytes32 midRoot);
    event Responded(uint256 indexed id, bool agree, uint64 agreeSize, uint64 disagreeSize);
    event Resolved(uint256 indexed id, bool nodeWon, uint256 slashed);
    event ModelFraud(uint256 indexed batchIndex, bytes32 receiptHash, uint256 slashed);
    /// A receipt's `traceSteps` is not what its token counts give (`challengeLayout`).
    event LayoutFraud(uint256 indexed batchIndex, bytes32 receiptHash, uint64 traceSteps, uint64 expected);
    /// The node's whole output `y` (i64le) of the disputed matrix step, for the challenger to
    /// find its wrong rows.
    event MatVecOpened(uint256 indexed id, uint256 rows, uint256 unitRows, bytes y);
    event UnitNamed(uint256 indexed id, uint256 rowStart);
    /// The disputed step has no step verifier for its operator: the dispute ends with no slash;
    /// the bond goes as in a node win (the challenger showed no wrong step).
    event NoContest(uint256 indexed id, uint64 index, uint16 stage, uint8 op);
    /// The node's claim at a step settled by refutation: what `refuteStep` must repeat.
    event StepClaimed(uint256 indexed id, bytes outLeaf, bytes[] inLeaves, bytes claim);
    /// The challenger asks the node to reveal part `part` of its claim.
    event PartNamed(uint256 indexed id, uint256 part);
    /// The node's revealed part: what `refuteStep` must repeat.
    event PartRevealed(uint256 indexed id, uint256 part, bytes data);

    constructor(
        address owner_,
        Settlement settlement_,
        NodeStaking staking_,
        ModelRegistry registry_,
        uint256 minBond_,
        uint256 moveTimeout_,
        uint256 slashAmount_,
        uint256 winnerBps_
    ) Owned(owner_) {
        settlement = settlement_;
        staking = staking_;
        registry = registry_;
        minBond = minBond_;
        moveTimeout = moveTimeout_;
        slashAmount = slashAmount_;
        winnerBps = winnerBps_;
    }

    /// @notice Opens a dispute over one receipt of a batch in its challenge window.
    function openDispute(BatchProof.ReceiptRef calldata r) external payable returns (uint256 id) {
        if (msg.value < minBond) revert BondTooSmall(msg.value, minBond);
        BatchProof.Included memory inc = _include(r);
        uint256 open = openDisputeOf[inc.receiptHash];
        if (open != 0) revert AlreadyDisputed(inc.receiptHash, open - 1);
        if (fraudProven[inc.receiptHash]) revert AlreadyProven(inc.receiptHash);

        id = disputeCount++;
        Dispute storage d = disputes[id];
        d.node = inc.header.node;
        d.batchIndex = r.batchIndex;
        d.challenger = msg.sender;
        d.lastMoveAt = uint64(block.timestamp);
        d.promptTokens = inc.receipt.promptTokens;
        d.bond = uint128(msg.value);
        d.receiptHash = inc.receiptHash;
        d.modelId = inc.receipt.modelId;
        d.weightsRoot = inc.receipt.weightsRoot;
        d.temperatureMilli = inc.receipt.temperatureMilli;
        d.topK = inc.receipt.topK;
        d.topPMilli = inc.receipt.topPMilli;
        d.seed = inc.receipt.seed;
        openDisputeOf[inc.receiptHash] = id + 1;
        settlement.onDisputeOpened(r.batchIndex);
        staking.lockDispute(d.node);
        emit DisputeOpened(id, r.batchIndex, inc.receiptHash, msg.sender);
        if (inc.receipt.traceSteps == 0) {
            // A receipt without a trace cannot be defended.
            _challengerWins(id, d);
            return id;
        }
        d.phase = Phase.NodeToMove;
        d.agreeSize = 0;
        d.agreeRoot = Rfc6962.EMPTY_ROOT;
        d.disagreeSize = inc.receipt.traceSteps;
        d.disagreeRoot = inc.receipt.traceRoot;
    }

    /// @notice The prefix size the next `bisect` must reveal.
    function midpoint(uint256 id) public view returns (uint64) {
        Dispute storage d = disputes[id];
        return d.agreeSize + (d.disagreeSize - d.agreeSize) / 2;
    }

    /// @notice Until when the side to move may move.
    function deadline(uint256 id) public view returns (uint256) {
        return uint256(disputes[id].lastMoveAt) + moveTimeout;
    }

    function dispute(uint256 id) external view returns (Dispute memory) {
        return disputes[id];
    }

    /// @notice Node's move: the root of its trace prefix of `midpoint(id)` leaves.
    function bisect(uint256 id, bytes32 midRoot, bytes32[] calldata consistency) external {
        Dispute storage d = _move(id, Phase.NodeToMove, true);
        if (d.disagreeSize - d.agreeSize <= 1) revert OneStepReached();
        uint64 mid = midpoint(id);
        Rfc6962.verifyConsistency(mid, d.disagreeSize, midRoot, d.disagreeRoot, consistency);
        d.midRoot = midRoot;
        d.phase = Phase.ChallengerToMove;
        emit Bisected(id, mid, midRoot);
    }

    /// @notice Challenger's move: does it agree with the node's prefix of `midpoint(id)` leaves?
    function respond(uint256 id, bool agree) external {
        Dispute storage d = _move(id, Phase.ChallengerToMove, false);
        _noMatVec(id);
        _noClaim(id);
        uint64 mid = midpoint(id);
        if (agree) {
            d.agreeSize = mid;
            d.agreeRoot = d.midRoot;
        } else {
            d.disagreeSize = mid;
            d.disagreeRoot = d.midRoot;
        }
        d.phase = Phase.NodeToMove;
        emit Responded(id, agree, d.agreeSize, d.disagreeSize);
    }

    /// @notice Node's last move: proves the one disputed step. `outLeaf` is leaf `agreeSize` of
    ///         the disputed prefix, its key at that index of the trace layout (`layoutIndex`: a
    ///         node cannot defend a misplaced step, such as a copy of an earlier correct one,
    ///         instead of the step the challenger disputes); `inputs` are opened in the agreed
    ///         prefix. Reverts (and can be
    ///         retried until the deadline) when the step verifier rejects it.
    function proveStep(
        uint256 id,
        bytes calldata outLeaf,
        bytes32[] calldata outPath,
        StepOpening.Leaf[] calldata inputs,
        bytes calldata witness
    ) external {
        Dispute storage d = _move(id, Phase.NodeToMove, true);
        _noMatVec(id);
        _noClaim(id);
        if (d.disagreeSize != d.agreeSize + 1) revert NotOneStep(d.agreeSize, d.disagreeSize);
        Codec.TraceKey memory k = _oneStep(d, outLeaf, outPath);
        bytes[] memory ins = StepOpening.openInputs(inputs, d.agreeSize, d.agreeRoot, d.agreeSize);
        address v = registry.stepVerifier(d.modelId, k.stage, k.op);
        if (v == address(0)) revert NoStepVerifier(k.stage, k.op);
        if (!IStepVerifier(v).verifyStep(d.modelId, d.weightsRoot, outLeaf, ins, witness)) revert StepNotProven();
        _nodeWins(id, d);
    }

    /// @notice Node's move at a matrix-vector step (instead of `proveStep`): `outLeaf` is leaf
    ///         `agreeSize` of the disputed prefix, `inputs` its one input leaf in the agreed
    ///         prefix, `y` the whole output (i64le, SHA-256 = the leaf's digest), checked by the
    ///         step verifier the registry names for the operator. `y` is published in
    ///         `MatVecOpened`; the challenger then names a unit (`nameUnit`).
    function openMatVec(
        uint256 id,
        bytes calldata outLeaf,
        bytes32[] calldata outPath,
        StepOpening.Leaf[] calldata inputs,
        bytes calldata y
    ) external {
        Dispute storage d = _move(id, Phase.NodeToMove, true);
        _noMatVec(id);
        _noClaim(id);
        if (d.disagreeSize != d.agreeSize + 1) revert NotOneStep(d.agreeSize, d.disagreeSize);
        Codec.TraceKey memory k = _oneStep(d, outLeaf, outPath);
        bytes[] memory ins = StepOpening.openInputs(inputs, d.agreeSize, d.agreeRoot, d.agreeSize);
        address v = registry.stepVerifier(d.modelId, k.stage, k.op);
        if (v == address(0)) revert NoStepVerifier(k.stage, k.op);
        (uint256 rows, uint256 unitRows, bytes32 inDigest) =
            MatVecStepVerifier(v).openMatVec(d.modelId, d.weightsRoot, outLeaf, ins, y);
        MatVec storage m = matVecs[id];
        m.stage = MatVecStage.Opened;
        m.stepStage = k.stage;
        m.op = k.op;
        m.rows = uint32(rows);
        m.unitRows = uint32(unitRows);
        m.openedBlock = uint48(block.number);
        m.verifier = MatVecStepVerifier(v);
        m.inDigest = inDigest;
        m.outDigest = k.digest;
        d.phase = Phase.ChallengerToMove;
        emit MatVecOpened(id, rows, unitRows, y);
    }

    /// @notice Challenger's move after `openMatVec`: the unit (rows `rowStart .. rowStart + R`,
    ///         `rowStart` a multiple of `R` below the matrix rows) it says is wrong.
    function nameUnit(uint256 id, uint256 rowStart) external {
        Dispute storage d = _move(id, Phase.ChallengerToMove, false);
        MatVec storage m = matVecs[id];
        if (m.stage != MatVecStage.Opened) revert MatVecUnderway(id, m.stage);
        if (rowStart % m.unitRows != 0 || rowStart >= m.rows) revert NotAUnit(rowStart, m.unitRows, m.rows);
        m.rowStart = uint32(rowStart);
        m.stage = MatVecStage.Named;
        d.phase = Phase.NodeToMove;
        emit UnitNamed(id, rowStart);
    }

    /// @notice Node's last move at a matrix-vector step: a Groth16 proof of the named unit.
    ///         `x` and `y` are the step's input and whole output (SHA-256 = the two leaves'
    ///         digests), `C_W` the matrix commitment with its audit path (`cwIndex`, `cwSize`,
    ///         `cwPath`) in the registry's `poseidonRoot`, `proof` in the EIP-197 order. Reverts
    ///         (and can be retried until the deadline) when anything is rejected; accepted, the
    ///         node wins.
    function proveUnit(
        uint256 id,
        bytes calldata x,
        bytes calldata y,
        uint256 cwIndex,
        uint256 cwSize,
        bytes32[] calldata cwPath,
        uint256 cW,
        uint256[8] calldata proof
    ) external {
        Dispute storage d = _move(id, Phase.NodeToMove, true);
        MatVec storage m = matVecs[id];
        if (m.stage != MatVecStage.Named) revert MatVecUnderway(id, m.stage);
        MatVecStepVerifier.MatrixOpening memory w = MatVecStepVerifier.MatrixOpening(cwIndex, cwSize, cwPath, cW);
        if (!m.verifier.verifyUnit(
                d.modelId, m.stepStage, m.op, m.inDigest, m.outDigest, m.rowStart, x, y, w, proof
            )) revert UnitNotProven();
        _nodeWins(id, d);
    }

    /// @notice Node's move at a step settled by refutation (`IRefutableStep`: a greedy `SAMPLE`),
    ///         instead of `proveStep`: `outLeaf` is leaf `agreeSize` of the disputed prefix (at
    ///         its layout index), `inputs` its input leaves in the agreed prefix, `claim` the
    ///         step's output (a token), checked by the registry's verifier for the operator. The
    ///         challenger then has one move, `refuteStep`; when its deadline passes the node wins
    ///         (`timeout`).
    function claimStep(
        uint256 id,
        bytes calldata outLeaf,
        bytes32[] calldata outPath,
        StepOpening.Leaf[] calldata inputs,
        bytes calldata claim
    ) external {
        Dispute storage d = _move(id, Phase.NodeToMove, true);
        _noMatVec(id);
        _noClaim(id);
        if (d.disagreeSize != d.agreeSize + 1) revert NotOneStep(d.agreeSize, d.disagreeSize);
        Codec.TraceKey memory k = _oneStep(d, outLeaf, outPath);
        bytes[] memory ins = StepOpening.openInputs(inputs, d.agreeSize, d.agreeRoot, d.agreeSize);
        address v = registry.stepVerifier(d.modelId, k.stage, k.op);
        if (v == address(0)) revert NoStepVerifier(k.stage, k.op);
        IRefutableStep(v).checkClaim(d.modelId, _sampling(d), outLeaf, ins, claim);
        claims[id] = Claim(
            IRefutableStep(v),
            0,
            ClaimStage.Claimed,
            uint48(block.number),
            keccak256(abi.encode(outLeaf, ins, claim)),
            bytes32(0)
        );
        d.phase = Phase.ChallengerToMove;
        emit StepClaimed(id, outLeaf, ins, claim);
    }

    /// @notice Challenger's move after `claimStep`, when the claim has parts (a `LOGITS` claim:
    ///         its chunks' hashes): the part it asks the node to reveal (one whose hash is not its
    ///         own). The claim is repeated as in `StepClaimed`.
    function namePart(
        uint256 id,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata claim,
        uint256 part
    ) external {
        Dispute storage d = _move(id, Phase.ChallengerToMove, false);
        Claim storage c = _claimed(id, outLeaf, inLeaves, claim, ClaimStage.Claimed);
        uint256 n = c.verifier.parts(d.modelId, claim);
        if (part >= n) revert NoSuchPart(part, n);
        c.part = uint32(part);
        c.stage = ClaimStage.PartNamed;
        d.phase = Phase.NodeToMove;
        emit PartNamed(id, part);
    }

    /// @notice Node's move after `namePart`: the named part of its claim (checked by the
    ///         verifier against the claim), published in `PartRevealed`. Reverts (and can be
    ///         retried until the deadline) when the verifier refuses it.
    function revealPart(
        uint256 id,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata claim,
        bytes calldata data
    ) external {
        Dispute storage d = _move(id, Phase.NodeToMove, true);
        Claim storage c = _claimed(id, outLeaf, inLeaves, claim, ClaimStage.PartNamed);
        c.verifier.checkPart(d.modelId, outLeaf, inLeaves, claim, c.part, data);
        c.partHash = keccak256(data);
        c.stage = ClaimStage.PartRevealed;
        d.phase = Phase.ChallengerToMove;
        emit PartRevealed(id, c.part, data);
    }

    /// @notice Challenger's move after `claimStep` (a claim without parts) or `revealPart`: the
    ///         claim repeated (as in `StepClaimed`), the revealed part (as in `PartRevealed`;
    ///         empty without parts), the leaves of the agreed prefix the counterexample needs
    ///         (`openings`: an `ATTN` part's keys and values; else none) and a counterexample
    ///         `witness` the verifier accepts; the node is slashed. Reverts `NotRefuted`
    ///         otherwise (and can be retried until the deadline).
    function refuteStep(
        uint256 id,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata claim,
        bytes calldata part,
        StepOpening.Leaf[] calldata openings,
        bytes calldata witness
    ) external {
        Dispute storage d = _move(id, Phase.ChallengerToMove, false);
        Claim storage c = claims[id];
        if (c.stage == ClaimStage.PartRevealed) {
            _claimed(id, outLeaf, inLeaves, claim, ClaimStage.PartRevealed);
            if (keccak256(part) != c.partHash) revert ClaimDiffers(id);
        } else {
            _claimed(id, outLeaf, inLeaves, claim, ClaimStage.Claimed);
            if (c.verifier.parts(d.modelId, claim) != 0) revert ClaimStageIs(id, c.stage);
        }
        bytes[] memory opened = StepOpening.openInputs(openings, d.agreeSize, d.agreeRoot, d.agreeSize);
        if (!c.verifier.refutes(d.modelId, outLeaf, inLeaves, claim, c.part, part, opened, witness)) {
            revert NotRefuted();
        }
        _challengerWins(id, d);
    }

    /// @dev Dispute `id`'s claim, at `stage`, with the node's `outLeaf`, `inLeaves`, `claim`.
    function _claimed(
        uint256 id,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata claim,
        ClaimStage stage
    ) private view returns (Claim storage c) {
        c = claims[id];
        if (c.stage == ClaimStage.None) revert NoClaim(id);
        if (c.stage != stage) revert ClaimStageIs(id, c.stage);
        if (keccak256(abi.encode(outLeaf, inLeaves, claim)) != c.hash) revert ClaimDiffers(id);
    }

    /// @dev The dispute's sampling parameters packed for `IRefutableStep.checkClaim`.
    function _sampling(Dispute storage d) private view returns (uint256) {
        return uint256(d.temperatureMilli) | uint256(d.topK) << 32 | uint256(d.topPMilli) << 64
            | uint256(d.seed) << 96 | uint256(d.promptTokens) << 160;
    }

    /// @dev Reverts once the node made a claim in dispute `id`.
    function _noClaim(uint256 id) private view {
        if (claims[id].stage != ClaimStage.None) revert ClaimUnderway(id);
    }

    /// @notice Node's last move at a step whose operator has no step verifier in the registry
    ///         (the `PROMPT` leaf), or one whose verifier
    ///         says it cannot prove it within a transaction (`IStepLimit`: attention over a long
    ///         context) (docs/PROTOCOL.md §10): `outLeaf` is leaf `agreeSize` of the
    ///         disputed prefix, at the index the trace layout gives its key. Neither side can show
    ///         who is right on chain: the node is not slashed and the batch goes on to finality;
    ///         the challenger, who showed no wrong step, pays for the game as in a node win
    ///         (`winnerBps` of the bond to the node, the rest to the treasury), so steering a
    ///         frivolous dispute here costs the bond. Without it, a challenger could steer the
    ///         bisection to such a step and win by the node's timeout.
    function declareUnprovable(uint256 id, bytes calldata outLeaf, bytes32[] calldata outPath) external {
        Dispute storage d = _move(id, Phase.NodeToMove, true);
        _noMatVec(id);
        _noClaim(id);
        if (d.disagreeSize != d.agreeSize + 1) revert NotOneStep(d.agreeSize, d.disagreeSize);
        Codec.TraceKey memory k = _oneStep(d, outLeaf, outPath);
        (bool has, address v) = _hasStepProof(d.modelId, k, outLeaf, d.temperatureMilli);
        if (has) revert HasStepVerifier(k.stage, k.op, v);
        _settleForNode(d, Phase.NoContest);
        emit NoContest(id, d.agreeSize, k.stage, k.op);
    }

    /// @notice Leaf index of step `(pos, stage, op)` in the trace of a run with `promptTokens`
    ///         prompt tokens on a model of `numLayers` layers (engine `trace::layout_index`);
    ///         false when no run has such a step. Leaf 0 is `PROMPT`; each fed position `p` has
    ///         `EMBED` and `16 numLayers` layer steps, positions `p >= promptTokens - 1` also the
    ///         three head steps: `1 + p (1 + 16 numLayers) + 3 max(0, p - promptTokens + 1) +
    ///         offset(stage, op)`.
    function layoutIndex(uint32 pos, uint16 stage, uint8 op, uint32 promptTokens, uint16 numLayers)
        public
        pure
        returns (bool, uint64)
    {
        return TraceLayout.index(pos, stage, op, promptTokens, numLayers);
    }

    /// @notice After a missed move deadline: the side that moved last wins.
    function timeout(uint256 id) external {
        Dispute storage d = disputes[id];
        if (d.phase != Phase.NodeToMove && d.phase != Phase.ChallengerToMove) revert WrongPhase(id, d.phase);
        uint256 dl = deadline(id);
        if (block.timestamp < dl) revert TooEarly(dl);
        if (d.phase == Phase.NodeToMove) _challengerWins(id, d);
        else _nodeWins(id, d);
    }

    /// @notice Settles a receipt whose model is not registered, inactive, or whose weights root
    ///         is not the registered one (a downgraded model), with no game: the node is slashed
    ///         and the bond returned. Reverts if the model matches.
    function challengeModel(BatchProof.ReceiptRef calldata r) external payable returns (uint256 slashed) {
        if (msg.value < minBond) revert BondTooSmall(msg.value, minBond);
        BatchProof.Included memory inc = _include(r);
        if (registry.attributes(inc.receipt.modelId, inc.receipt.weightsRoot)) revert ModelMatches(inc.receipt.modelId);
        if (fraudProven[inc.receiptHash]) revert AlreadyProven(inc.receiptHash);
        if (!settlement.inWindow(r.batchIndex)) revert WindowClosed(r.batchIndex);
        fraudProven[inc.receiptHash] = true;
        slashed = staking.slash(inc.header.node, slashAmount, msg.sender, winnerBps);
        settlement.onFraudProven(r.batchIndex, slashed);
        staking.creditTo{value: msg.value}(msg.sender);
        emit ModelFraud(r.batchIndex, inc.receiptHash, slashed);
    }

    /// @notice Settles, with no game, a receipt whose `traceSteps` is not the trace layout's
    ///         count for its `promptTokens` and `completionTokens` (`layoutSteps`): a node could
    ///         otherwise claim more tokens than its trace computes (a trace that stops early agrees
    ///         with an honest re-execution leaf by leaf up to its end, and the game would end at a
    ///         correct last leaf). The node is slashed and the bond returned; reverts
    ///         `LayoutMatches` when the count is right.
    function challengeLayout(BatchProof.ReceiptRef calldata r) external payable returns (uint256 slashed) {
        if (msg.value < minBond) revert BondTooSmall(msg.value, minBond);
        BatchProof.Included memory inc = _include(r);
        uint64 want = layoutSteps(
            inc.receipt.promptTokens, inc.receipt.completionTokens, registry.model(inc.receipt.modelId).numLayers
        );
        if (inc.receipt.traceSteps == want) revert LayoutMatches(want);
        if (fraudProven[inc.receiptHash]) revert AlreadyProven(inc.receiptHash);
        if (!settlement.inWindow(r.batchIndex)) revert WindowClosed(r.batchIndex);
        fraudProven[inc.receiptHash] = true;
        slashed = staking.slash(inc.header.node, slashAmount, msg.sender, winnerBps);
        settlement.onFraudProven(r.batchIndex, slashed);
        staking.creditTo{value: msg.value}(msg.sender);
        emit LayoutFraud(r.batchIndex, inc.receiptHash, inc.receipt.traceSteps, want);
    }

    /// @notice The number of trace leaves of a run with `promptTokens` prompt and
    ///         `completionTokens` completion tokens on `numLayers` layers (engine
    ///         `trace::layout_steps`): the `PROMPT` leaf, `1 + 16 numLayers` per fed position
    ///         (`promptTokens + completionTokens - 1`: the last sampled token is not fed) and three
    ///         head steps per sampled token. 0 (no run) when either count is 0.
    function layoutSteps(uint32 promptTokens, uint32 completionTokens, uint16 numLayers)
        public
        pure
        returns (uint64)
    {
        return TraceLayout.steps(promptTokens, completionTokens, numLayers);
    }

    function _include(BatchProof.ReceiptRef calldata r) private view returns (BatchProof.Included memory) {
        Settlement.Batch memory b = settlement.batch(r.batchIndex);
        return BatchProof.check(r, b.root, b.headerCount);
    }

    /// @dev Checks the caller may move now and starts the next move's clock.
    function _move(uint256 id, Phase phase, bool byNode) private returns (Dispute storage d) {
        d = disputes[id];
        if (d.phase != phase) revert WrongPhase(id, d.phase);
        if (msg.sender != (byNode ? d.node : d.challenger)) revert NotYourMove(msg.sender);
        uint256 dl = deadline(id);
        if (block.timestamp >= dl) revert MoveTooLate(dl);
        d.lastMoveAt = uint64(block.timestamp);
    }

    /// @notice Whether the registry names a step verifier for the step of trace leaf `outLeaf`
    ///         of a `modelId` receipt with sampling temperature `temperatureMilli` that can decide
    ///         it within a transaction (`IStepLimit`): the steps a dispute cannot end at with
    ///         `declareUnprovable`.
    function hasStepProof(bytes32 modelId, bytes calldata outLeaf, uint32 temperatureMilli)
        external
        view
        returns (bool has)
    {
        (has,) = _hasStepProof(modelId, Codec.traceKey(outLeaf), outLeaf, temperatureMilli);
    }

    /// @dev The step verifier the registry names for step `k` and whether it can prove it.
    function _hasStepProof(bytes32 modelId, Codec.TraceKey memory k, bytes calldata outLeaf, uint32 temperatureMilli)
        private
        view
        returns (bool, address v)
    {
        v = registry.stepVerifier(modelId, k.stage, k.op);
        return (v != address(0) && _provable(v, modelId, outLeaf, temperatureMilli), v);
    }

    /// @dev A verifier without `IStepLimit.provable` proves every step.
    function _provable(address v, bytes32 modelId, bytes calldata outLeaf, uint32 temperatureMilli)
        private
        view
        returns (bool)
    {
        if (v.code.length == 0) return true;
        try IStepLimit(v).provable(modelId, outLeaf, temperatureMilli) returns (bool ok) {
            return ok;
        } catch {
            return true;
        }
    }

    /// @dev The disputed leaf (leaf `agreeSize` of the disputed prefix) opened, its key at the
    ///      index the trace layout gives it.
    function _oneStep(Dispute storage d, bytes calldata outLeaf, bytes32[] calldata outPath)
        private
        view
        returns (Codec.TraceKey memory k)
    {
        k = Codec.traceKey(outLeaf);
        Rfc6962.verifyInclusion(Rfc6962.leafHashOf(outLeaf), d.agreeSize, d.disagreeSize, outPath, d.disagreeRoot);
        (bool ok, uint64 idx) =
            layoutIndex(k.pos, k.stage, k.op, d.promptTokens, registry.model(d.modelId).numLayers);
        if (!ok || idx != d.agreeSize) revert NotInLayout(k.pos, k.stage, k.op, d.agreeSize);
    }

    /// @dev Reverts while dispute `id` is in the three moves of a matrix-vector step.
    function _noMatVec(uint256 id) private view {
        MatVecStage s = matVecs[id].stage;
        if (s != MatVecStage.None) revert MatVecUnderway(id, s);
    }

    function _nodeWins(uint256 id, Dispute storage d) private {
        _settleForNode(d, Phase.NodeWon);
        emit Resolved(id, true, 0);
    }

    /// @dev Ends dispute `d` in `phase` without a slash: the batch goes on, `winnerBps` of the
    ///      bond to the node, the rest to the treasury (a node win, or no contest).
    function _settleForNode(Dispute storage d, Phase phase) private {
        d.phase = phase;
        openDisputeOf[d.receiptHash] = 0;
        staking.unlockDispute(d.node);
        settlement.onDisputeResolved(d.batchIndex, true, 0);
        uint256 toNode = uint256(d.bond) * winnerBps / 10_000;
        staking.creditTo{value: toNode}(d.node);
        staking.toTreasury{value: d.bond - toNode}();
    }

    function _challengerWins(uint256 id, Dispute storage d) private {
        d.phase = Phase.ChallengerWon;
        openDisputeOf[d.receiptHash] = 0;
        fraudProven[d.receiptHash] = true;
        staking.unlockDispute(d.node);
        uint256 slashed = staking.slash(d.node, slashAmount, d.challenger, winnerBps);
        settlement.onDisputeResolved(d.batchIndex, false, slashed);
        staking.creditTo{value: d.bond}(d.challenger);
        emit Resolved(id, false, slashed);
    }
}
