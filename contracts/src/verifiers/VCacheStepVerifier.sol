// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ModelRegistry} from "../ModelRegistry.sol";
import {Codec} from "../lib/Codec.sol";
import {WideDigest} from "../lib/WideDigest.sol";
import {ConfigText} from "../lib/ConfigText.sol";
import {NormStepVerifier} from "./NormStepVerifier.sol";

/// @title On-chain recomputation of the value entered into the KV cache (engine
///        `ops::per_head_act`): the step `V_CACHE` (layer op 6), bit for bit.
/// @notice Step `(pos, stage, V_CACHE)`, `1 <= stage <= numLayers`: leaf 0 must be
///         `(pos, stage, V)`, the wide value projection of `n_kv_heads x head_dim` values. The
///         output is, per kv head, `Act16::from_wide` of the head's `head_dim` values, the heads'
///         canonical Act16 bytes (`i32le(exp) || i16le` values) concatenated.
///
///         Witness = `abi.encode(bytes config, bytes input)`: the canonical config text (its
///         hash with the `"OTR/model-config/v1\0"` prefix must be the registered `configHash`;
///         `n_kv_heads` and `head_dim` are read from it) and the input tensor (i64le; SHA-256 =
///         leaf 0's digest). Trusts only the registry.
contract VCacheStepVerifier is NormStepVerifier {
    uint8 internal constant V = 3;
    uint8 internal constant V_CACHE = 6;

    constructor(ModelRegistry registry_) NormStepVerifier(registry_) {}

    function verifyStep(
        bytes32 modelId,
        bytes32 weightsRoot,
        bytes calldata outLeaf,
        bytes[] calldata inLeaves,
        bytes calldata witness
    ) external view override returns (bool) {
        ModelRegistry.Model memory m = registry.model(modelId);
        if (m.weightsRoot != weightsRoot) return false;
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        if (out.op != V_CACHE || out.stage == 0 || out.stage > m.numLayers || inLeaves.length != 1) return false;
        Codec.TraceKey memory a = Codec.traceKey(inLeaves[0]);
        if (a.pos != out.pos || a.stage != out.stage || a.op != V) return false;
        (bytes memory config, bytes memory input) = abi.decode(witness, (bytes, bytes));
        if (WideDigest.digestMemory(input) != a.digest) return false;
        if (sha256(abi.encodePacked("OTR/model-config/v1\x00", config)) != m.configHash) return false;
        (bool ok, uint256 heads) = ConfigText.uintField(config, ";n_kv_heads=");
        if (!ok || heads == 0) return false;
        uint256 hd;
        (ok, hd) = ConfigText.uintField(config, ";head_dim=");
        if (!ok || hd == 0 || input.length != 8 * heads * hd) return false;
        return sha256(perHeadAct(input, heads)) == out.digest;
    }

    /// @notice Engine `ops::per_head_act`: the wide vector `x` (i64le) split into `heads` equal
    ///         heads, each as its own Act16; the heads' canonical bytes concatenated.
    function perHeadAct(bytes memory x, uint256 heads) public pure returns (bytes memory out) {
        uint256 n = x.length / 8;
        if (heads == 0 || n % heads != 0) revert();
        uint256 hd = n / heads;
        out = new bytes(heads * (4 + 2 * hd));
        for (uint256 h = 0; h < heads; ++h) {
            int256[] memory y = new int256[](hd);
            for (uint256 i = 0; i < hd; ++i) {
                y[i] = readI64(x, 8 * (h * hd + i));
            }
            bytes memory b = act16Bytes(y);
            uint256 len = b.length;
            assembly ("memory-safe") {
                mcopy(add(add(out, 0x20), mul(h, len)), add(b, 0x20), len)
            }
        }
    }
}
