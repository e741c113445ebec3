// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title A step settled by refutation (claim, then counterexample) instead of a proof.
/// @notice Some steps are cheap to refute and expensive to prove: greedy sampling picks the
///         largest of a vocabulary's logits, and one larger logit shows a wrong pick, where
///         showing a right one takes every logit. At such a step the node's move is a claim
///         (`DisputeGame.claimStep`): `checkClaim` checks its form (reverts, typed, when it is
///         malformed). The challenger then has one move (`DisputeGame.refuteStep`) to show a
///         counterexample: `refutes` true and the node is slashed; no counterexample before the
///         deadline and the node wins.
interface IRefutableStep {
    /// @notice Checks the node's claim `claim` for step `outLeaf` with inputs `inLeaves` (opened
    ///         by the caller in the agreed prefix) of a receipt whose sampling parameters are
    ///         `sampling`, packed: `temperatureMilli | topK << 32 | topPMilli << 64 | seed << 96 |
    ///         promptTokens << 160`. Reverts when it is not a well-formed claim of this verifier.
    ///         (A verifier that needs them in `refutes` binds them into the claim.)
    function checkClaim(
        bytes32 modelId,
        uint256 sampling,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata claim
    ) external view;

    /// @notice How many parts the claim has that the challenger may ask the node to reveal
    ///         before refuting (`DisputeGame.namePart`, `revealPart`): 0 when a refutation needs
    ///         none (a `SAMPLE` claim), the logits' chunks for a `LOGITS` claim.
    function parts(bytes32 modelId, bytes calldata claim) external view returns (uint256);

    /// @notice Checks the node's revealed part `index` of its claim (reverts, typed, when it is
    ///         not that part).
    function checkPart(
        bytes32 modelId,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata claim,
        uint256 index,
        bytes calldata part
    ) external view;

    /// @notice Whether `witness` shows the claim (already checked by `checkClaim`) is wrong,
    ///         given its revealed part `index` (`part` empty when the claim has no parts).
    ///         `opened`: more leaves of the agreed prefix, opened by the caller for the
    ///         challenger (an `ATTN` part's keys and values; empty for the other verifiers).
    function refutes(
        bytes32 modelId,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata claim,
        uint256 index,
        bytes calldata part,
        bytes[] calldata opened,
        bytes calldata witness
    ) external view returns (bool);
}
