// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Codec} from "./Codec.sol";
import {Rfc6962} from "./Rfc6962.sol";

/// @title The inclusion chain receipt -> micro-batch header -> batch root (PROTOCOL §4.3).
library BatchProof {
    /// Names one receipt of one posted batch, with both audit paths.
    struct ReceiptRef {
        uint64 batchIndex;
        uint32 headerIndex;
        bytes header; // 113 bytes, PROTOCOL §2.2
        bytes32[] headerPath; // audit path of the header hash in the batch tree
        uint32 receiptIndex;
        bytes receipt; // 209 bytes, PROTOCOL §2.1
        bytes32[] receiptPath; // audit path of the receipt hash in the micro-batch tree
    }

    /// What an inclusion check proved.
    struct Included {
        bytes32 headerHash;
        bytes32 receiptHash;
        Codec.Header header;
        Codec.Receipt receipt;
    }

    error HeaderLength(uint256 got);

    /// @notice Checks that `h` is a header of the batch with `batchRoot` and `headerCount` leaves.
    function checkHeader(bytes calldata h, uint256 index, bytes32[] calldata path, bytes32 batchRoot, uint256 headerCount)
        internal
        view
        returns (bytes32 headerHash, Codec.Header memory header)
    {
        if (h.length != Codec.HEADER_LEN) revert HeaderLength(h.length);
        header = Codec.header(h, 0);
        headerHash = Codec.headerHash(h, 0);
        Rfc6962.verifyInclusion(Rfc6962.leafHash(headerHash), index, headerCount, path, batchRoot);
    }

    /// @notice Checks receipt -> header -> batch for a batch with `batchRoot` and `headerCount`.
    function check(ReceiptRef calldata r, bytes32 batchRoot, uint256 headerCount)
        internal
        view
        returns (Included memory inc)
    {
        (inc.headerHash, inc.header) = checkHeader(r.header, r.headerIndex, r.headerPath, batchRoot, headerCount);
        inc.receipt = Codec.receipt(r.receipt);
        inc.receiptHash = Codec.receiptHash(r.receipt, 0);
        Rfc6962.verifyInclusion(
            Rfc6962.leafHash(inc.receiptHash),
            r.receiptIndex,
            inc.header.receiptCount,
            r.receiptPath,
            inc.header.receiptsRoot
        );
    }
}
