// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title RFC 6962 / RFC 9162 Merkle trees over SHA-256 (docs/PROTOCOL.md §3.3).
/// @notice leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right),
///         MTH({}) = SHA-256(""). Leaves are never duplicated: a lone last node is promoted.
///         All hashing goes through the SHA-256 precompile (0x02) on a scratch buffer, so the
///         gas does not grow with memory expansion.
library Rfc6962 {
    /// The most hashes an audit or consistency path may have (PROTOCOL §2.4).
    uint256 internal constant MAX_PATH = 64;
    /// SHA-256("") — the root of the empty tree.
    bytes32 internal constant EMPTY_ROOT =
        0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855;

    error PathTooDeep(uint256 got);
    error IndexOutOfRange(uint256 index, uint256 size);
    error PathLength(uint256 got, uint256 expected);
    error RootMismatch(bytes32 got, bytes32 expected);
    error ConsistencyInvalid();
    error Sha256Failed();

    /// @dev SHA-256(0x00 || data) for 32 bytes of data.
    function leafHash(bytes32 data) internal view returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0x00)
            mstore(add(p, 1), data)
            if iszero(staticcall(gas(), 0x02, p, 33, 0x00, 0x20)) { revert(0, 0) }
            h := mload(0x00)
        }
    }

    /// @dev SHA-256(0x00 || data) for arbitrary calldata bytes (trace leaves are 57 bytes).
    function leafHashOf(bytes calldata data) internal view returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0x00)
            calldatacopy(add(p, 1), data.offset, data.length)
            if iszero(staticcall(gas(), 0x02, p, add(data.length, 1), 0x00, 0x20)) { revert(0, 0) }
            h := mload(0x00)
        }
    }

    /// @dev SHA-256(0x01 || left || right).
    function nodeHash(bytes32 left, bytes32 right) internal view returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0x01)
            mstore(add(p, 1), left)
            mstore(add(p, 33), right)
            if iszero(staticcall(gas(), 0x02, p, 65, 0x00, 0x20)) { revert(0, 0) }
            h := mload(0x00)
        }
    }

    /// @notice MTH over leaves given as leaf hashes; overwrites `level` in place.
    function rootOfLeafHashes(bytes32[] memory level) internal view returns (bytes32) {
        uint256 n = level.length;
        if (n == 0) return EMPTY_ROOT;
        while (n > 1) {
            uint256 half = n >> 1;
            for (uint256 i = 0; i < half; ++i) {
                level[i] = nodeHash(level[2 * i], level[2 * i + 1]);
            }
            if (n & 1 == 1) {
                level[half] = level[n - 1];
                n = half + 1;
            } else {
                n = half;
            }
        }
        return level[0];
    }

    /// @notice Length of the audit path PATH(m, D[0:n]) (requires m < n).
    function expectedPathLength(uint256 m, uint256 n) internal pure returns (uint256 len) {
        // Walk down the RFC 6962 split: each level adds one sibling.
        while (n > 1) {
            uint256 k = largestPow2Below(n);
            if (m < k) {
                n = k;
            } else {
                m -= k;
                n -= k;
            }
            ++len;
        }
    }

    /// @notice Largest power of two strictly smaller than n (n > 1).
    function largestPow2Below(uint256 n) internal pure returns (uint256 k) {
        k = 1;
        while (k << 1 < n) k <<= 1;
    }

    /// @notice Root implied by a leaf hash at index m of a tree of n leaves and its audit path
    ///         (RFC 9162 §2.1.3.2), with PROTOCOL §3.3's checks in order.
    function rootFromPath(bytes32 leaf, uint256 m, uint256 n, bytes32[] calldata path)
        internal
        view
        returns (bytes32 r)
    {
        if (path.length > MAX_PATH) revert PathTooDeep(path.length);
        if (m >= n) revert IndexOutOfRange(m, n);
        uint256 expected = expectedPathLength(m, n);
        if (path.length != expected) revert PathLength(path.length, expected);
        uint256 fn = m;
        uint256 sn = n - 1;
        r = leaf;
        for (uint256 i = 0; i < path.length; ++i) {
            bytes32 p = path[i];
            if (fn & 1 == 1 || fn == sn) {
                r = nodeHash(p, r);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                r = nodeHash(r, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
    }

    /// @notice `rootFromPath` for an audit path in memory; false (no revert) on a malformed path.
    function rootFromPathMemory(bytes32 leaf, uint256 m, uint256 n, bytes32[] memory path)
        internal
        view
        returns (bool, bytes32 r)
    {
        if (path.length > MAX_PATH || m >= n) return (false, r);
        if (path.length != expectedPathLength(m, n)) return (false, r);
        uint256 fn = m;
        uint256 sn = n - 1;
        r = leaf;
        for (uint256 i = 0; i < path.length; ++i) {
            bytes32 p = path[i];
            if (fn & 1 == 1 || fn == sn) {
                r = nodeHash(p, r);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                r = nodeHash(r, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return (true, r);
    }

    /// @notice Reverts unless `leaf` (a leaf hash) is leaf m of the tree of n leaves with `root`.
    function verifyInclusion(bytes32 leaf, uint256 m, uint256 n, bytes32[] calldata path, bytes32 root)
        internal
        view
    {
        bytes32 got = rootFromPath(leaf, m, n, path);
        if (got != root) revert RootMismatch(got, root);
    }

    /// @notice Reverts unless `proof` shows that the tree of `first` leaves with `firstRoot` is a
    ///         prefix of the tree of `second` leaves with `secondRoot` (RFC 9162 §2.1.4.2).
    ///         first = 0 is the empty prefix of every tree and needs an empty proof.
    function verifyConsistency(
        uint256 first,
        uint256 second,
        bytes32 firstRoot,
        bytes32 secondRoot,
        bytes32[] calldata proof
    ) internal view {
        if (proof.length > MAX_PATH) revert PathTooDeep(proof.length);
        if (first > second) revert ConsistencyInvalid();
        if (first == second) {
            if (proof.length != 0 || firstRoot != secondRoot) revert ConsistencyInvalid();
            return;
        }
        if (first == 0) {
            if (proof.length != 0 || firstRoot != EMPTY_ROOT) revert ConsistencyInvalid();
            return;
        }
        // If `first` is a power of two, the proof omits firstRoot: start from it.
        if (proof.length == 0) revert ConsistencyInvalid();
        bool pow2 = first & (first - 1) == 0;
        uint256 start = pow2 ? 0 : 1;
        uint256 fn = first - 1;
        uint256 sn = second - 1;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        bytes32 fr = pow2 ? firstRoot : proof[0];
        bytes32 sr = fr;
        for (uint256 i = start; i < proof.length; ++i) {
            bytes32 c = proof[i];
            if (sn == 0) revert ConsistencyInvalid();
            if (fn & 1 == 1 || fn == sn) {
                fr = nodeHash(c, fr);
                sr = nodeHash(c, sr);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                sr = nodeHash(sr, c);
            }
            fn >>= 1;
            sn >>= 1;
        }
        if (sn != 0 || fr != firstRoot || sr != secondRoot) revert ConsistencyInvalid();
    }
}
