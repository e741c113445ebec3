// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IStepVerifier} from "../IStepVerifier.sol";
import {IStepLimit} from "../IStepLimit.sol";
import {IRefutableStep} from "../IRefutableStep.sol";
import {Codec} from "../lib/Codec.sol";
import {Rfc6962} from "../lib/Rfc6962.sol";

/// @title The trace's `PROMPT` leaf, settled by refutation (`IRefutableStep`; docs/PROTOCOL.md
///        §10, "The prompt").
/// @notice Leaf 0 `(0, 0, PROMPT)` commits `u32le(len(text)) || text || ids` (u32le each): the
///         prompt's text as its tokens say it (engine `Tokenizer::prompt_text`) and the token ids
///         every prompt position's `EMBED` reads. A client compares the text with its request;
///         this verifier makes the ids answer for the text. The node's claim is
///         `abi.encode(bytes prompt, bytes ends)`: the leaf's output (SHA-256 = the leaf's
///         digest, `promptTokens` ids, each below `vocab`) and, per token after a leading BOS
///         (`bos`, when the vocabulary adds one), the u32le end of its piece in the text:
///         non-decreasing, the last one the text's length. The challenger refutes it in one of
///         two ways, with pieces opened against `piecesRoot` (RFC 6962 over the vocabulary, leaf
///         `"OTR/vocab-piece/v2\0" || u32be(id) || u8 kind || surface`, engine
///         `Tokenizer::pieces_root`):
///         - a *wrong piece*: one token whose piece is not the text between its start and end;
///         - a *mergeable pair*: two adjacent tokens whose texts, both of mergeable pieces
///           (`kind` 1, engine `Tokenizer::piece_kind`), together are a third mergeable piece:
///           the tokenizer merges adjacent symbols until no two make a token, so its output
///           never has such a pair, and a node that split the prompt's text into other pieces
///           to run the model on other tokens than the text's is caught at that pair.
///         Right pieces at every token make the text their concatenation, and the honest
///         tokenization has no mergeable pair, so a right claim has no counterexample, and the
///         honest node wins at the challenger's deadline.
///
///         What it does not decide: that ids with neither fault are the tokenizer's (another
///         tokenization where no two adjacent tokens merge, `he|l|lo` for `he|llo`'s text when
///         `hel` and `llo` are no tokens, stands), nor that special tokens' texts were matched
///         as specials.
///
///         Deployed per tokenizer: `piecesRoot`, `vocab` (the tree's size), `bos` (the BOS id a
///         leading token is skipped as, or `type(uint256).max` for none).
contract PromptStepVerifier is IStepVerifier, IStepLimit, IRefutableStep {
    uint8 internal constant PROMPT = 0;
    /// @dev The piece kind (engine `PIECE_MERGEABLE`) a mergeable pair's three pieces have.
    uint8 internal constant MERGEABLE = 1;

    bytes32 public immutable piecesRoot;
    uint256 public immutable vocab;
    uint256 public immutable bos;

    error UseClaimMoves();
    error NotThePromptStep(uint32 pos, uint16 stage, uint8 op);
    error NoInputs();
    error ClaimMismatch();
    error PromptMalformed();
    error TokenCount(uint256 got, uint256 expected);
    error TokenOutOfRange(uint256 index, uint256 token);
    error EndsMalformed(uint256 index);
    error NoParts();

    constructor(bytes32 piecesRoot_, uint256 vocab_, uint256 bos_) {
        piecesRoot = piecesRoot_;
        vocab = vocab_;
        bos = bos_;
    }

    /// @notice Every prompt can be refuted within a transaction (one token at a time).
    function provable(bytes32, bytes calldata, uint32) external pure returns (bool) {
        return true;
    }

    /// @notice The `PROMPT` step has no one-move proof (`DisputeGame.claimStep` instead).
    function verifyStep(bytes32, bytes32, bytes calldata, bytes[] calldata, bytes calldata)
        external
        pure
        returns (bool)
    {
        revert UseClaimMoves();
    }

    function checkClaim(bytes32, uint256 sampling, bytes calldata outLeaf, bytes[] calldata inLeaves, bytes calldata claim)
        external
        view
    {
        Codec.TraceKey memory out = Codec.traceKey(outLeaf);
        if (out.pos != 0 || out.stage != 0 || out.op != PROMPT) revert NotThePromptStep(out.pos, out.stage, out.op);
        if (inLeaves.length != 0) revert NoInputs();
        (bytes memory prompt, bytes memory ends) = abi.decode(claim, (bytes, bytes));
        if (sha256(prompt) != out.digest) revert ClaimMismatch();
        (uint256 textLen, uint256 idsAt, uint256 n) = shape(prompt);
        uint256 promptTokens = uint32(sampling >> 160);
        if (n != promptTokens) revert TokenCount(n, promptTokens);
        uint256 v = vocab;
        uint256 bad;
        assembly ("memory-safe") {
            // Four bytes little-endian from a 32-byte word's top four.
            function le32(w) -> x {
                w := shr(224, w)
                x := or(or(shl(24, and(w, 0xff)), shl(8, and(w, 0xff00))), or(shr(8, and(w, 0xff0000)), shr(24, w)))
            }
            let p := add(add(prompt, 0x20), idsAt)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                if iszero(lt(le32(mload(add(p, shl(2, i)))), v)) {
                    bad := add(i, 1)
                    break
                }
            }
        }
        if (bad != 0) revert TokenOutOfRange(bad - 1, readU32(prompt, idsAt + 4 * (bad - 1)));
        uint256 m = n - skipped(prompt, idsAt, n);
        if (ends.length != 4 * m) revert EndsMalformed(type(uint256).max);
        uint256 last;
        assembly ("memory-safe") {
            function le32(w) -> x {
                w := shr(224, w)
                x := or(or(shl(24, and(w, 0xff)), shl(8, and(w, 0xff00))), or(shr(8, and(w, 0xff0000)), shr(24, w)))
            }
            let p := add(ends, 0x20)
            for { let k := 0 } lt(k, m) { k := add(k, 1) } {
                let e := le32(mload(add(p, shl(2, k))))
                if lt(e, last) {
                    bad := add(k, 1)
                    break
                }
                last := e
            }
        }
        if (bad != 0) revert EndsMalformed(bad - 1);
        if (last != textLen) revert EndsMalformed(m);
    }

    /// @notice A prompt claim has no parts to reveal.
    function parts(bytes32, bytes calldata) external pure returns (uint256) {
        return 0;
    }

    function checkPart(bytes32, bytes calldata, bytes[] calldata, bytes calldata, uint256, bytes calldata)
        external
        pure
    {
        revert NoParts();
    }

    /// @notice `witness` is one of (tokens `k` counted after a skipped BOS; token `k` stands
    ///         between the claim's end of token `k - 1`, 0 for the first, and its end of `k`):
    ///         - `abi.encode(uint256 0, uint256 k, uint8 kind, bytes surface, bytes32[] path)`:
    ///           true when token `k`'s piece is `(kind, surface)` (opened at its id) and
    ///           `surface` is not its text;
    ///         - `abi.encode(uint256 1, uint256 k, uint256 merged, bytes32[] pathA, bytes32[]
    ///           pathB, bytes32[] pathM)`: true when tokens `k` and `k + 1` are mergeable pieces
    ///           whose surfaces are their texts (`pathA`, `pathB` open them at their ids with
    ///           those texts) and piece `merged` is a mergeable piece whose surface is the two
    ///           texts together (`pathM`).
    function refutes(
        bytes32,
        bytes calldata,
        bytes[] calldata,
        bytes calldata claim,
        uint256,
        bytes calldata,
        bytes[] calldata,
        bytes calldata witness
    ) external view returns (bool) {
        (bytes memory prompt, bytes memory ends) = abi.decode(claim, (bytes, bytes));
        if (witness.length < 32) return false;
        uint256 form = abi.decode(witness[:32], (uint256));
        if (form == 0) return wrongPiece(prompt, ends, witness);
        if (form == 1) return mergeablePair(prompt, ends, witness);
        return false;
    }

    function wrongPiece(bytes memory prompt, bytes memory ends, bytes calldata witness) internal view returns (bool) {
        (, uint256 k, uint8 kind, bytes memory surface, bytes32[] memory path) =
            abi.decode(witness, (uint256, uint256, uint8, bytes, bytes32[]));
        (, uint256 idsAt, uint256 n) = shape(prompt);
        uint256 skip = skipped(prompt, idsAt, n);
        if (k >= n - skip) return false;
        if (!opens(readU32(prompt, idsAt + 4 * (skip + k)), kind, surface, path)) return false;
        uint256 start = k == 0 ? 0 : readU32(ends, 4 * (k - 1));
        uint256 end = readU32(ends, 4 * k);
        if (end - start != surface.length) return true;
        bytes32 a;
        bytes32 b;
        assembly ("memory-safe") {
            a := keccak256(add(add(prompt, 0x24), start), mload(surface))
            b := keccak256(add(surface, 0x20), mload(surface))
        }
        return a != b;
    }

    function mergeablePair(bytes memory prompt, bytes memory ends, bytes calldata witness) internal view returns (bool) {
        (, uint256 k, uint256 merged, bytes32[] memory pathA, bytes32[] memory pathB, bytes32[] memory pathM) =
            abi.decode(witness, (uint256, uint256, uint256, bytes32[], bytes32[], bytes32[]));
        (, uint256 idsAt, uint256 n) = shape(prompt);
        uint256 skip = skipped(prompt, idsAt, n);
        if (n - skip < 2 || k >= n - skip - 1) return false;
        uint256 start = k == 0 ? 0 : readU32(ends, 4 * (k - 1));
        uint256 mid = readU32(ends, 4 * k);
        uint256 end = readU32(ends, 4 * (k + 1));
        uint256 idAt = idsAt + 4 * (skip + k);
        return opens(readU32(prompt, idAt), MERGEABLE, slice(prompt, 4 + start, 4 + mid), pathA)
            && opens(readU32(prompt, idAt + 4), MERGEABLE, slice(prompt, 4 + mid, 4 + end), pathB)
            && opens(merged, MERGEABLE, slice(prompt, 4 + start, 4 + end), pathM);
    }

    /// @dev Whether `(kind, surface)` is piece `id` of `piecesRoot` (`path` its audit path).
    function opens(uint256 id, uint8 kind, bytes memory surface, bytes32[] memory path) internal view returns (bool) {
        if (id >= vocab) return false;
        bytes32 leaf = sha256(abi.encodePacked(bytes1(0x00), "OTR/vocab-piece/v2\x00", uint32(id), kind, surface));
        (bool ok, bytes32 root) = Rfc6962.rootFromPathMemory(leaf, id, vocab, path);
        return ok && root == piecesRoot;
    }

    /// @dev `b[from:to]` (the claim's ends are non-decreasing and end at the text's length, so
    ///      within the text).
    function slice(bytes memory b, uint256 from, uint256 to) internal pure returns (bytes memory out) {
        uint256 len = to - from;
        out = new bytes(len);
        assembly ("memory-safe") {
            mcopy(add(out, 0x20), add(add(b, 0x20), from), len)
        }
    }

    /// @dev The text's length, where the ids start and how many there are, of a `PROMPT`
    ///      output; reverts `PromptMalformed` when it is not of that form.
    function shape(bytes memory prompt) internal pure returns (uint256 textLen, uint256 idsAt, uint256 n) {
        if (prompt.length < 4) revert PromptMalformed();
        textLen = readU32(prompt, 0);
        idsAt = 4 + textLen;
        if (idsAt > prompt.length || (prompt.length - idsAt) % 4 != 0) revert PromptMalformed();
        n = (prompt.length - idsAt) / 4;
    }

    /// @dev 1 when the first id is the BOS the vocabulary adds (it stands for no text), else 0.
    function skipped(bytes memory prompt, uint256 idsAt, uint256 n) internal view returns (uint256) {
        return n > 0 && readU32(prompt, idsAt) == bos ? 1 : 0;
    }

    function readU32(bytes memory b, uint256 off) internal pure returns (uint256) {
        return uint256(uint8(b[off])) | uint256(uint8(b[off + 1])) << 8 | uint256(uint8(b[off + 2])) << 16
            | uint256(uint8(b[off + 3])) << 24;
    }
}
