// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepVerifier} from "../IStepVerifier.sol";
import {IStepLimit} from "../IStepLimit.sol";
import {IRefutableStep} from "../IRefutableStep.sol";
import {ModelRegistry} from "../ModelRegistry.sol";
import {Codec} from "../lib/Codec.sol";
import {WideDigest} from "../lib/WideDigest.sol";

/// @title The greedy `SAMPLE` step of one model's head, settled by refutation
///        (`IRefutableStep`; docs/PROTOCOL.md §10).
/// @notice Greedy decoding (temperature 0, engine `sampling::sample`) picks the largest logit,
///         the smallest id on ties. The node's claim is the step's output, the token `t` (u32le,
///         SHA-256 = the `SAMPLE` leaf's digest, `t < vocab`), with the step's one input leaf
///         `(pos, head, LOGITS)`. The challenger refutes it with a token `j` and the two chunks
///         of the logits holding `t` and `j` (`WideDigest`: 32 KiB each with their paths, so a
///         262,144-entry vocabulary needs no more) where `logit[j] > logit[t]`, or equal with
///         `j < t`. A right pick has no counterexample, so the honest node wins when the
///         challenger's deadline passes. Sampled tokens (temperature > 0) depend on every
///         logit's weight: `provable` is false for them and a dispute there ends with no
///         contest. Deployed per model (its `vocab`); trusts the registry for the layer count.
contract SampleStepVerifier is IStepVerifier, IStepLimit, IRefutableStep {
    uint8 internal constant LOGITS = 1;
    uint8 internal constant SAMPLE = 2;

    ModelRegistry public immutable registry;
    uint256 public immutable vocab;

    error UseClaimMoves();
    error NotGreedy(uint32 temperatureMilli);
    error NotASampleStep(uint32 pos, uint16 stage, uint8 op);
    error WrongInputStep(uint32 pos, uint16 stage, uint8 op);
    error ClaimMismatch();
    error TokenOutOfRange(uint256 token, uint256 vocab);
    error NoParts();

    constructor(ModelRegistry registry_, uint256 vocab_) {
        registry = registry_;
        vocab = vocab_;
    }

    /// @notice A greedy pick can be refuted; a sampled one cannot be decided.
    function provable(bytes32, bytes calldata, uint32 temperatureMilli) external pure returns (bool) {
        return temperatureMilli == 0;
    }

    /// @notice A `SAMPLE` step has no one-move proof (`DisputeGame.claimStep` instead).
    function verifyStep(bytes32, bytes32, bytes calldata, bytes[] calldata, bytes calldata)
        external
        pure
        returns (bool)
    {
        revert UseClaimMoves();
    }

    function checkClaim(
        bytes32 modelId,
        uint32 temperatureMilli,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata claim
    ) external view {
        if (temperatureMilli != 0) revert NotGreedy(temperatureMilli);
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        if (out.stage != uint256(registry.model(modelId).numLayers) + 1 || out.op != SAMPLE) {
            revert NotASampleStep(out.pos, out.stage, out.op);
        }
        if (inLeaves.length != 1) revert WrongInputStep(0, 0, 0);
        Codec.TraceKey memory a = Codec.traceKey(inLeaves[0]);
        if (a.pos != out.pos || a.stage != out.stage || a.op != LOGITS) revert WrongInputStep(a.pos, a.stage, a.op);
        if (claim.length != 4 || sha256(claim) != out.digest) revert ClaimMismatch();
        uint256 t = token(claim);
        if (t >= vocab) revert TokenOutOfRange(t, vocab);
    }

    /// @notice A token claim has no parts to reveal.
    function parts(bytes32, bytes calldata) external pure returns (uint256) {
        return 0;
    }

    function checkPart(bytes32, bytes calldata, bytes[] calldata, bytes calldata, uint256, bytes calldata)
        external
        pure
    {
        revert NoParts();
    }

    /// @notice `witness = abi.encode(uint256 j, bytes chunkT, bytes32[] pathT, bytes chunkJ,
    ///         bytes32[] pathJ)`: true when both chunks open in the logits' digest and
    ///         `logit[j]` beats `logit[t]` (larger, or equal with a smaller id).
    function refutes(
        bytes32,
        bytes calldata,
        bytes[] calldata inLeaves,
        bytes calldata claim,
        uint256,
        bytes calldata,
        bytes calldata witness
    ) external view returns (bool) {
        bytes32 digest = Codec.traceKey(inLeaves[0]).digest;
        uint256 t = token(claim);
        (uint256 j, bytes memory chunkT, bytes32[] memory pathT, bytes memory chunkJ, bytes32[] memory pathJ) =
            abi.decode(witness, (uint256, bytes, bytes32[], bytes, bytes32[]));
        (bool okT, int64 lt) = WideDigest.openValue(digest, vocab, t, chunkT, pathT);
        (bool okJ, int64 lj) = WideDigest.openValue(digest, vocab, j, chunkJ, pathJ);
        if (!okT || !okJ) return false;
        return lj > lt || (lj == lt && j < t);
    }

    /// @dev The u32le token of a 4-byte claim.
    function token(bytes calldata claim) internal pure returns (uint256) {
        return uint256(uint8(claim[0])) | uint256(uint8(claim[1])) << 8 | uint256(uint8(claim[2])) << 16
            | uint256(uint8(claim[3])) << 24;
    }
}
