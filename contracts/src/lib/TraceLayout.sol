// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Where each step sits in a trace (docs/PROTOCOL.md §10, engine `trace::layout_index`).
/// @notice Leaf 0 is `PROMPT` `(0, 0, 0)`; each fed position `p` has `EMBED` `(p, 0, 1)` and the
///         `16 numLayers` layer steps, positions `p >= promptTokens - 1` also the three head
///         steps `(p, numLayers + 1, 0..3)`. A receipt's token counts and the model's layer count
///         fix the key of every index, so a step opened at another index is not the step it
///         claims to be.
library TraceLayout {
    /// @notice Leaf index of step `(pos, stage, op)`: `1 + p (1 + 16 numLayers) +
    ///         3 max(0, p - promptTokens + 1) + offset(stage, op)`; false when no run has it.
    function index(uint32 pos, uint16 stage, uint8 op, uint32 promptTokens, uint16 numLayers)
        internal
        pure
        returns (bool, uint64)
    {
        if (promptTokens == 0) return (false, 0);
        uint256 nl = numLayers;
        uint256 p = pos;
        uint256 firstHead = uint256(promptTokens) - 1;
        uint256 offset;
        if (stage == 0) {
            if (op == 0) return (p == 0, 0); // PROMPT
            if (op != 1) return (false, 0);
            offset = 0; // EMBED
        } else if (stage <= nl) {
            if (op >= 16) return (false, 0);
            offset = 1 + 16 * (uint256(stage) - 1) + op;
        } else if (stage == nl + 1) {
            if (op > 2 || p < firstHead) return (false, 0);
            offset = 1 + 16 * nl + op;
        } else {
            return (false, 0);
        }
        uint256 idx = 1 + p * (1 + 16 * nl) + 3 * (p > firstHead ? p - firstHead : 0) + offset;
        return (true, uint64(idx));
    }

    /// @notice Whether a step with key `(pos, stage, op)` may sit at leaf `leafIndex`.
    function placed(uint32 pos, uint16 stage, uint8 op, uint32 promptTokens, uint16 numLayers, uint256 leafIndex)
        internal
        pure
        returns (bool)
    {
        (bool ok, uint64 idx) = index(pos, stage, op, promptTokens, numLayers);
        return ok && idx == leafIndex;
    }

    /// @notice The number of leaves of a run with `promptTokens` prompt and `completionTokens`
    ///         completion tokens (engine `trace::layout_steps`); 0 when either is 0.
    function steps(uint32 promptTokens, uint32 completionTokens, uint16 numLayers) internal pure returns (uint64) {
        if (promptTokens == 0 || completionTokens == 0) return 0;
        uint256 fed = uint256(promptTokens) + completionTokens - 1;
        return uint64(1 + fed * (1 + 16 * uint256(numLayers)) + 3 * uint256(completionTokens));
    }
}
