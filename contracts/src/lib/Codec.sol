// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title Decoding and hashing of OTR wire types read from calldata (docs/PROTOCOL.md §2).
/// @notice All integers are big-endian. Field offsets are those of PROTOCOL §2.1 (receipt,
///         209 bytes) and §2.2 (micro-batch header, 113 bytes); trace leaves follow the engine
///         (`"OTR/trace-step/v1\0" || u32 pos || u16 stage || u8 op || SHA-256(output)`).
library Codec {
    uint256 internal constant HEADER_LEN = 113;
    uint256 internal constant RECEIPT_LEN = 209;
    uint256 internal constant TRACE_LEAF_LEN = 57;
    uint8 internal constant VERSION = 1;

    /// "OTR/microbatch-header/v1\0" (25 bytes), left-aligned.
    bytes32 internal constant HEADER_TAG = "OTR/microbatch-header/v1\x00";
    uint256 internal constant HEADER_TAG_LEN = 25;
    /// "OTR/receipt/v1\0" (15 bytes), left-aligned.
    bytes32 internal constant RECEIPT_TAG = "OTR/receipt/v1\x00";
    uint256 internal constant RECEIPT_TAG_LEN = 15;
    /// "OTR/trace-step/v1\0" (18 bytes), left-aligned.
    bytes32 internal constant TRACE_TAG = "OTR/trace-step/v1\x00";
    uint256 internal constant TRACE_TAG_LEN = 18;

    error HeaderLength(uint256 got);
    error ReceiptLength(uint256 got);
    error TraceLeafLength(uint256 got);
    error TraceLeafTag();
    error UnsupportedVersion(uint8 got);

    struct Header {
        uint64 chainId;
        address node;
        uint64 sequence;
        bytes32 prevHeaderHash;
        bytes32 receiptsRoot;
        uint32 receiptCount;
        uint64 timestamp;
    }

    struct Receipt {
        bytes32 modelId;
        bytes32 weightsRoot;
        uint32 promptTokens;
        uint32 completionTokens;
        bytes32 traceRoot;
        uint64 traceSteps;
        uint64 createdAt;
        uint32 temperatureMilli; // the sampling parameters' first field
        uint32 topK;
        uint32 topPMilli;
        uint64 seed;
    }

    struct TraceKey {
        uint32 pos;
        uint16 stage;
        uint8 op;
        bytes32 digest;
    }

    /// @notice Decodes the header at `h[off : off + 113]`; checks the version only.
    function header(bytes calldata h, uint256 off) internal pure returns (Header memory r) {
        if (h.length < off + HEADER_LEN) revert HeaderLength(h.length);
        uint8 version;
        assembly ("memory-safe") {
            let p := add(h.offset, off)
            version := shr(248, calldataload(p))
            mstore(r, shr(192, calldataload(add(p, 1))))
            mstore(add(r, 0x20), shr(96, calldataload(add(p, 9))))
            mstore(add(r, 0x40), shr(192, calldataload(add(p, 29))))
            mstore(add(r, 0x60), calldataload(add(p, 37)))
            mstore(add(r, 0x80), calldataload(add(p, 69)))
            mstore(add(r, 0xa0), shr(224, calldataload(add(p, 101))))
            mstore(add(r, 0xc0), shr(192, calldataload(add(p, 105))))
        }
        if (version != VERSION) revert UnsupportedVersion(version);
    }

    /// @notice SHA-256("OTR/microbatch-header/v1\0" || h[off : off + 113]).
    function headerHash(bytes calldata h, uint256 off) internal view returns (bytes32 d) {
        if (h.length < off + HEADER_LEN) revert HeaderLength(h.length);
        d = _taggedHash(HEADER_TAG, HEADER_TAG_LEN, h, off, HEADER_LEN);
    }

    /// @notice Decodes a standalone 209-byte receipt; checks length and version.
    function receipt(bytes calldata b) internal pure returns (Receipt memory r) {
        if (b.length != RECEIPT_LEN) revert ReceiptLength(b.length);
        return receiptAt(b, 0);
    }

    /// @notice Decodes the receipt at `b[off : off + 209]` (caller checked the length).
    function receiptAt(bytes calldata b, uint256 off) internal pure returns (Receipt memory r) {
        uint8 version;
        assembly ("memory-safe") {
            let p := add(b.offset, off)
            version := shr(248, calldataload(p))
            mstore(r, calldataload(add(p, 1)))
            mstore(add(r, 0x20), calldataload(add(p, 33)))
            mstore(add(r, 0x40), shr(224, calldataload(add(p, 129))))
            mstore(add(r, 0x60), shr(224, calldataload(add(p, 133))))
            mstore(add(r, 0x80), calldataload(add(p, 161)))
            mstore(add(r, 0xa0), shr(192, calldataload(add(p, 193))))
            mstore(add(r, 0xc0), shr(192, calldataload(add(p, 201))))
            mstore(add(r, 0xe0), shr(224, calldataload(add(p, 137))))
            mstore(add(r, 0x100), shr(224, calldataload(add(p, 141))))
            mstore(add(r, 0x120), shr(224, calldataload(add(p, 145))))
            mstore(add(r, 0x140), shr(192, calldataload(add(p, 153))))
        }
        if (version != VERSION) revert UnsupportedVersion(version);
    }

    /// @notice SHA-256("OTR/receipt/v1\0" || b[off : off + 209]).
    function receiptHash(bytes calldata b, uint256 off) internal view returns (bytes32) {
        if (b.length < off + RECEIPT_LEN) revert ReceiptLength(b.length);
        return _taggedHash(RECEIPT_TAG, RECEIPT_TAG_LEN, b, off, RECEIPT_LEN);
    }

    /// @notice Reads a 57-byte trace leaf: checks its tag, returns its step key and digest.
    function traceKey(bytes calldata leaf) internal pure returns (TraceKey memory k) {
        if (leaf.length != TRACE_LEAF_LEN) revert TraceLeafLength(leaf.length);
        bytes32 tag;
        assembly ("memory-safe") {
            let p := leaf.offset
            // The first 18 bytes, the rest of the word masked off.
            tag := and(calldataload(p), not(sub(shl(112, 1), 1)))
            mstore(k, shr(224, calldataload(add(p, 18))))
            mstore(add(k, 0x20), shr(240, calldataload(add(p, 22))))
            mstore(add(k, 0x40), shr(248, calldataload(add(p, 24))))
            mstore(add(k, 0x60), calldataload(add(p, 25)))
        }
        if (tag != TRACE_TAG) revert TraceLeafTag();
    }

    /// @dev SHA-256(tag[0:tagLen] || b[off : off + len]) through the precompile.
    function _taggedHash(bytes32 tag, uint256 tagLen, bytes calldata b, uint256 off, uint256 len)
        private
        view
        returns (bytes32 d)
    {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, tag)
            calldatacopy(add(p, tagLen), add(b.offset, off), len)
            if iszero(staticcall(gas(), 0x02, p, add(tagLen, len), 0x00, 0x20)) { revert(0, 0) }
            d := mload(0x00)
        }
    }
}
