// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepVerifier} from "../IStepVerifier.sol";
import {IGroth16Verifier} from "../IGroth16Verifier.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {Codec} from "../lib/Codec.sol";

/// @title One-step adjudication by a Groth16 proof (DESIGN principles 6 and 7).
/// @notice Witness = `abi.encode(bytes[] inTensors, bytes outTensor, uint256[8] proof)`. The
///         tensors are tied to the SHA-256 trace outside the circuit: SHA-256 of each must equal
///         the digest of its leaf. The public inputs of the proof are then, in order:
///         - when `bindModel`: the model's Poseidon weights commitment and the step's stage;
///         - each input tensor, then the output tensor, packed 31 bytes per field element
///           (big-endian; a last shorter chunk is the big-endian value of its bytes).
///         The verifier contract is generated from the circuit's verifying key
///         (`otr-contracts gen-verifier`).
contract Groth16StepVerifier is IStepVerifier {
    IGroth16Verifier public immutable verifier;
    ModelRegistry public immutable registry;
    bool public immutable bindModel;

    constructor(IGroth16Verifier verifier_, ModelRegistry registry_, bool bindModel_) {
        verifier = verifier_;
        registry = registry_;
        bindModel = bindModel_;
    }

    function verifyStep(
        bytes32 modelId,
        bytes32,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata witness
    ) external view returns (bool) {
        (bytes[] memory ins, bytes memory out, uint256[8] memory proof) =
            abi.decode(witness, (bytes[], bytes, uint256[8]));
        if (ins.length != inLeaves.length) return false;
        Codec.TraceKey memory k = Codec.traceKey(outLeaf);
        if (sha256(out) != k.digest) return false;
        uint256 count = bindModel ? 2 : 0;
        for (uint256 i = 0; i < ins.length; ++i) {
            if (sha256(ins[i]) != Codec.traceKey(inLeaves[i]).digest) return false;
            count += (ins[i].length + 30) / 31;
        }
        count += (out.length + 30) / 31;
        uint256[] memory inputs = new uint256[](count);
        uint256 j = 0;
        if (bindModel) {
            inputs[0] = uint256(registry.model(modelId).poseidonRoot);
            inputs[1] = k.stage;
            j = 2;
        }
        for (uint256 i = 0; i < ins.length; ++i) {
            j = pack31(ins[i], inputs, j);
        }
        pack31(out, inputs, j);
        return verifier.verifyProof(proof, inputs);
    }

    /// @notice Writes `data` as 31-byte big-endian field elements into `dst` from `j`.
    function pack31(bytes memory data, uint256[] memory dst, uint256 j) public pure returns (uint256) {
        uint256 len = data.length;
        for (uint256 off = 0; off < len; off += 31) {
            uint256 take = len - off < 31 ? len - off : 31;
            uint256 word;
            assembly ("memory-safe") {
                word := shr(sub(256, mul(take, 8)), mload(add(add(data, 0x20), off)))
            }
            dst[j++] = word;
        }
        return j;
    }
}
