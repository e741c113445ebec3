// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title What a step verifier can decide within a transaction's gas.
/// @notice Optional for a step verifier: `provable(modelId, outLeaf, temperatureMilli)` is false
///         for a step it cannot decide: attention over more visible positions than the verifier
///         was deployed for (`AttnStepVerifier`). `temperatureMilli` is the disputed receipt's
///         sampling temperature (a verifier may decide greedy and sampled steps differently). `DisputeGame.declareUnprovable` treats such a step
///         like one without a verifier; a verifier without this function decides every step.
interface IStepLimit {
    function provable(bytes32 modelId, bytes calldata outLeaf, uint32 temperatureMilli) external view returns (bool);
}
