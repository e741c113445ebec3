// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Rfc6962} from "./Rfc6962.sol";

/// @title The digest of a wide tensor (i64le values) in a trace leaf (docs/PROTOCOL.md §4.2;
///        `otr_core::rollup::tensor`).
/// @notice Up to `CHUNK` values: SHA-256 of the bytes. Longer: the RFC 6962 root over chunks of
///         `CHUNK` values (the last one shorter), each chunk's bytes a leaf. A chunk opens one
///         value of a long tensor (a model's logits) without the rest.
library WideDigest {
    /// Values per chunk.
    uint256 internal constant CHUNK = 4096;

    /// @notice The number of chunks of a tensor of `values` values (at least 1).
    function chunks(uint256 values) internal pure returns (uint256) {
        return values <= CHUNK ? 1 : (values + CHUNK - 1) / CHUNK;
    }

    /// @notice The digest of the tensor with canonical bytes `b`.
    function digest(bytes calldata b) internal view returns (bytes32) {
        if (b.length <= 8 * CHUNK) return sha256(b);
        uint256 n = (b.length + 8 * CHUNK - 1) / (8 * CHUNK);
        bytes32[] memory level = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 end = (i + 1) * 8 * CHUNK;
            if (end > b.length) end = b.length;
            level[i] = Rfc6962.leafHashOf(b[i * 8 * CHUNK:end]);
        }
        return Rfc6962.rootOfLeafHashes(level);
    }

    /// @notice `digest` for bytes in memory.
    function digestMemory(bytes memory b) internal view returns (bytes32) {
        if (b.length <= 8 * CHUNK) return sha256(b);
        return chunkedMemory(b);
    }

    /// @dev The chunked form of `b` in memory (longer than one chunk).
    function chunkedMemory(bytes memory b) private view returns (bytes32) {
        uint256 n = (b.length + 8 * CHUNK - 1) / (8 * CHUNK);
        bytes32[] memory level = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 start = i * 8 * CHUNK;
            uint256 len = b.length - start;
            if (len > 8 * CHUNK) len = 8 * CHUNK;
            bytes32 h;
            assembly ("memory-safe") {
                // SHA-256(0x00 || b[start : start + len]): the byte before the chunk is saved,
                // set to 0x00, hashed from, and restored.
                let p := add(add(b, 0x20), start)
                let before := mload(sub(p, 32))
                mstore8(sub(p, 1), 0x00)
                if iszero(staticcall(gas(), 0x02, sub(p, 1), add(len, 1), 0x00, 0x20)) { revert(0, 0) }
                h := mload(0x00)
                mstore(sub(p, 32), before)
            }
            level[i] = h;
        }
        return Rfc6962.rootOfLeafHashes(level);
    }

    /// @notice Value `value` (an index into the whole tensor) of a tensor of `values` values with
    ///         digest `root`, from the chunk holding it (`value / CHUNK`) and its audit path
    ///         (none for a one-chunk tensor); false when the chunk's length or path does not fit.
    function openValue(bytes32 root, uint256 values, uint256 value, bytes memory chunk, bytes32[] memory path)
        internal
        view
        returns (bool ok, int64 v)
    {
        if (value >= values) return (false, 0);
        uint256 n = chunks(values);
        uint256 index = value / CHUNK;
        uint256 want = values - index * CHUNK;
        if (want > CHUNK) want = CHUNK;
        if (chunk.length != 8 * want) return (false, 0);
        if (n == 1) {
            if (path.length != 0 || sha256(chunk) != root) return (false, 0);
        } else {
            bytes32 leaf;
            assembly ("memory-safe") {
                // SHA-256(0x00 || chunk): the length word's last byte set to 0x00, then restored.
                let len := mload(chunk)
                mstore(chunk, 0)
                if iszero(staticcall(gas(), 0x02, add(chunk, 31), add(len, 1), 0x00, 0x20)) { revert(0, 0) }
                leaf := mload(0x00)
                mstore(chunk, len)
            }
            (bool pathOk, bytes32 got) = Rfc6962.rootFromPathMemory(leaf, index, n, path);
            if (!pathOk || got != root) return (false, 0);
        }
        uint256 off = 8 * (value - index * CHUNK);
        uint64 x = 0;
        for (uint256 i = 0; i < 8; ++i) {
            x |= uint64(uint8(chunk[off + i])) << uint64(8 * i);
        }
        return (true, int64(x));
    }
}
