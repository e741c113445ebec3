// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Owned} from "./Owned.sol";

/// @title The registry of models a node may be paid for (DESIGN principle 2).
/// @notice One entry per model id: the architecture config hash, the tokenizer hash, the SHA-256
///         weights root that receipts must carry, the Poseidon weights commitment the circuits
///         open, the ids of its Groth16 verifying keys, and its PoEA cost weight. The owner
///         (governance) also names, per model and operator, the step verifier contract that
///         adjudicates one trace step (a Groth16 adapter or on-chain recomputation).
contract ModelRegistry is Owned {
    /// Stage classes of a trace step key (engine `trace.rs`): embedding, a layer, the head.
    uint8 public constant STAGE_EMBED = 0;
    uint8 public constant STAGE_LAYER = 1;
    uint8 public constant STAGE_HEAD = 2;

    struct Model {
        bytes32 configHash; // SHA-256 of the canonical architecture config
        bytes32 tokenizerHash; // SHA-256 of the tokenizer
        bytes32 weightsRoot; // RFC 6962 root over the converted tensors (receipt field)
        bytes32 poseidonRoot; // Poseidon commitment of the weights, opened in-circuit
        uint64 costWeight; // PoEA reward weight per token
        uint16 numLayers; // maps a trace stage to STAGE_EMBED / STAGE_LAYER / STAGE_HEAD
        bool active;
    }

    /// modelId => entry.
    mapping(bytes32 => Model) internal models;
    /// modelId => ids of its Groth16 verifying keys (SHA-256("OTR/groth16-vk/v1\0" || key)).
    mapping(bytes32 => bytes32[]) internal vkIds;
    /// verifying-key id => generated Groth16 verifier contract.
    mapping(bytes32 => address) public verifierOf;
    /// keccak256(modelId, stageClass, op) => step verifier (IStepVerifier).
    mapping(bytes32 => address) internal stepVerifiers;

    error UnknownModel(bytes32 modelId);
    error ZeroCostWeight();

    event ModelRegistered(bytes32 indexed modelId, bytes32 weightsRoot, uint64 costWeight);
    event ModelDeactivated(bytes32 indexed modelId);
    event VerifyingKeyRegistered(bytes32 indexed vkId, address verifier);
    event StepVerifierSet(bytes32 indexed modelId, uint8 stageClass, uint8 op, address verifier);

    constructor(address owner_) Owned(owner_) {}

    /// @notice Registers (or replaces) a model entry.
    function registerModel(bytes32 modelId, Model calldata m, bytes32[] calldata vks) external onlyOwner {
        if (m.costWeight == 0) revert ZeroCostWeight();
        models[modelId] = m;
        models[modelId].active = true;
        vkIds[modelId] = vks;
        emit ModelRegistered(modelId, m.weightsRoot, m.costWeight);
    }

    function deactivateModel(bytes32 modelId) external onlyOwner {
        if (!models[modelId].active) revert UnknownModel(modelId);
        models[modelId].active = false;
        emit ModelDeactivated(modelId);
    }

    function registerVerifyingKey(bytes32 vkId, address verifier) external onlyOwner {
        verifierOf[vkId] = verifier;
        emit VerifyingKeyRegistered(vkId, verifier);
    }

    function setStepVerifier(bytes32 modelId, uint8 class_, uint8 op, address verifier) external onlyOwner {
        if (!models[modelId].active) revert UnknownModel(modelId);
        stepVerifiers[keccak256(abi.encode(modelId, class_, op))] = verifier;
        emit StepVerifierSet(modelId, class_, op, verifier);
    }

    function model(bytes32 modelId) external view returns (Model memory) {
        return models[modelId];
    }

    function verifyingKeys(bytes32 modelId) external view returns (bytes32[] memory) {
        return vkIds[modelId];
    }

    /// @notice True when `modelId` is registered, active and its weights root is `weightsRoot`:
    ///         the PoEA attribution check of a receipt.
    function attributes(bytes32 modelId, bytes32 weightsRoot) public view returns (bool) {
        Model storage m = models[modelId];
        return m.active && m.weightsRoot == weightsRoot;
    }

    /// @notice Cost weight of an attributed receipt, 0 when the model or weights do not match.
    function costWeightOf(bytes32 modelId, bytes32 weightsRoot) external view returns (uint64) {
        return attributes(modelId, weightsRoot) ? models[modelId].costWeight : 0;
    }

    /// @notice The stage class of trace stage `stage` for this model.
    function stageClass(bytes32 modelId, uint16 stage) public view returns (uint8) {
        uint16 n = models[modelId].numLayers;
        if (stage == 0) return STAGE_EMBED;
        if (stage <= n) return STAGE_LAYER;
        return STAGE_HEAD;
    }

    /// @notice The step verifier for operator `op` at trace stage `stage` (0 when none).
    function stepVerifier(bytes32 modelId, uint16 stage, uint8 op) external view returns (address) {
        return stepVerifiers[keccak256(abi.encode(modelId, stageClass(modelId, stage), op))];
    }
}
