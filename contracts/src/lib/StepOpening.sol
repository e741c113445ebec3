// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Rfc6962} from "./Rfc6962.sol";

/// @title Opening trace leaves against a trace (or trace-prefix) root.
library StepOpening {
    /// One trace leaf (57 bytes) at `index`, with its audit path.
    struct Leaf {
        uint64 index;
        bytes leaf;
        bytes32[] path;
    }

    error InputNotBefore(uint256 index, uint256 limit);

    /// @notice Checks each input leaf is in the tree (`size`, `root`) at an index below `limit`,
    ///         and returns the leaf bytes in order.
    function openInputs(Leaf[] calldata inputs, uint256 size, bytes32 root, uint256 limit)
        internal
        view
        returns (bytes[] memory leaves)
    {
        leaves = new bytes[](inputs.length);
        for (uint256 i = 0; i < inputs.length; ++i) {
            Leaf calldata l = inputs[i];
            if (l.index >= limit) revert InputNotBefore(l.index, limit);
            Rfc6962.verifyInclusion(Rfc6962.leafHashOf(l.leaf), l.index, size, l.path, root);
            leaves[i] = l.leaf;
        }
    }
}
