// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title One-step adjudication of a trace step.
/// @notice Decides whether the step whose 57-byte trace leaf is `outLeaf` follows from the
///         input steps `inLeaves` (each already opened by the caller against a root the caller
///         trusts: the agreed prefix in a dispute, the receipt's trace root in a spot check) and
///         the registered model, given an operator-specific `witness` (the tensors behind the
///         leaf digests, and a Groth16 proof where the operator is not cheap to recompute).
///         Implementations: `Groth16StepVerifier` (a proof through a generated verifier) and
///         on-chain recomputation for element-wise operators (`WideAddStepVerifier`).
interface IStepVerifier {
    function verifyStep(
        bytes32 modelId,
        bytes32 weightsRoot,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata witness
    ) external view returns (bool);
}
