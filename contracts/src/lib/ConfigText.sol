// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Fields of a model's canonical config text (engine `Config::canonical`:
///        `arch=<name>;n_layers=<n>;...;`), read by the step verifiers that need the model's shape.
library ConfigText {
    /// @notice Whether `c` starts with `p`.
    function startsWith(bytes memory c, bytes memory p) internal pure returns (bool) {
        if (c.length < p.length) return false;
        for (uint256 i = 0; i < p.length; ++i) {
            if (c[i] != p[i]) return false;
        }
        return true;
    }

    /// @notice The decimal value after `key` (`;name=`), up to the next `;`. False when absent,
    ///         empty, not decimal, longer than 18 digits or unterminated.
    function uintField(bytes memory c, bytes memory key) internal pure returns (bool, uint256) {
        uint256 len = c.length;
        uint256 kl = key.length;
        for (uint256 i = 0; i + kl <= len; ++i) {
            bool hit = true;
            for (uint256 k = 0; k < kl; ++k) {
                if (c[i + k] != key[k]) {
                    hit = false;
                    break;
                }
            }
            if (!hit) continue;
            uint256 v;
            uint256 j = i + kl;
            uint256 start = j;
            for (; j < len && c[j] != ";"; ++j) {
                uint8 ch = uint8(c[j]);
                if (ch < 0x30 || ch > 0x39 || j - start >= 18) return (false, 0);
                v = v * 10 + (ch - 0x30);
            }
            if (j == start || j == len) return (false, 0);
            return (true, v);
        }
        return (false, 0);
    }
}
