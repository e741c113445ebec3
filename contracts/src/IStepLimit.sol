// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title What a step verifier can prove within a transaction's gas.
/// @notice Optional for an `IStepVerifier`: `provable(modelId, outLeaf)` is false for a step
///         whose proof would not fit a transaction (attention over more visible positions than
///         the verifier was deployed for). `DisputeGame.declareUnprovable` treats such a step
///         like one without a verifier; a verifier without this function proves every step.
interface IStepLimit {
    function provable(bytes32 modelId, bytes calldata outLeaf) external view returns (bool);
}
