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
///         six ways, with pieces opened against `piecesRoot` (RFC 6962 over the vocabulary, leaf
///         `"OTR/vocab-piece/v2\0" || u32be(id) || u8 kind || surface`, engine
///         `Tokenizer::pieces_root`):
///         - a *wrong piece*: one token whose piece is not the text between its start and end;
///         - a *mergeable pair*: two adjacent tokens whose texts, both of mergeable pieces
///           (`kind` 1, engine `Tokenizer::piece_kind`), together are a third mergeable piece:
///           the tokenizer merges adjacent symbols until no two make a token, so its output
///           never has such a pair, and a node that split the prompt's text into other pieces
///           to run the model on other tokens than the text's is caught at that pair;
///         - a *non-canonical pair*: two adjacent mergeable tokens that the tokenizer's merges,
///           replayed here on their text alone with every lookup opened in `textsRoot`, do not
///           end as (`he|l|lo` for `hello`: replayed on `llo` the tokenizer gives `ll|o`). Two
///           adjacent symbols of the honest tokenization were only ever merged within each,
///           each merge the best of all pairs then and so of the pairs within the two: replayed
///           alone they end the same;
///         - a *misplaced byte*: a byte token (`kind` 2) whose character is a token (opened in
///           `textsRoot`): the tokenizer emits byte tokens only for a character that is none;
///         - a *spelled special*: a special token's text (`kind` 3, control or user-defined,
///           no space) occurring where every token it overlaps is a mergeable piece: the
///           tokenizer splits every occurrence out as a special token;
///         - a *non-canonical pair* whose one side (or both) is the byte tokens of one character
///           (`ab` fed as `<0x61>|b` when `a` is no token but `ab` is), replayed the same way.
///         Right pieces at every token make the text their concatenation, and the honest
///         tokenization has none of the others, so a right claim has no counterexample, and
///         the honest node wins at the challenger's deadline.
///
///         What it does not decide: which of two overlapping special texts was split out, a
///         special whose text has a space, a pair too long to replay in one transaction; and it
///         relies on the tokenization being the tokenizer's when each adjacent pair is (true of
///         merge-list BPE; only the converse, argued above, makes it safe).
///
///         Deployed per tokenizer: `piecesRoot`, `vocab` (the tree's size), `bos` (the BOS id a
///         leading token is skipped as, or `type(uint256).max` for none), `textsRoot`, `texts`.
contract PromptStepVerifier is IStepVerifier, IStepLimit, IRefutableStep {
    uint8 internal constant PROMPT = 0;
    /// @dev The piece kind (engine `PIECE_MERGEABLE`) a mergeable pair's three pieces have.
    uint8 internal constant MERGEABLE = 1;
    /// @dev The piece kinds of the byte token `encode` emits for its byte and of a special
    ///      token it always splits out (engine `PIECE_BYTE`, `PIECE_SPECIAL`).
    uint8 internal constant BYTE = 2;
    uint8 internal constant SPECIAL = 3;

    bytes32 public immutable piecesRoot;
    uint256 public immutable vocab;
    uint256 public immutable bos;
    /// @notice RFC 6962 root over the texts the tokenizer merges into, sorted by their bytes
    ///         (leaf `"OTR/vocab-text/v1\0" || u32be(id) || u32be(scoreKey) || text`, engine
    ///         `Tokenizer::text_tree`), and its size.
    bytes32 public immutable textsRoot;
    uint256 public immutable texts;

    /// @dev One leaf of the text tree opened (`index` in text order).
    struct TextOpening {
        uint256 index;
        uint256 id;
        uint256 scoreKey;
        bytes text;
        bytes32[] path;
    }

    error UseClaimMoves();
    error NotThePromptStep(uint32 pos, uint16 stage, uint8 op);
    error NoInputs();
    error ClaimMismatch();
    error PromptMalformed();
    error TokenCount(uint256 got, uint256 expected);
    error TokenOutOfRange(uint256 index, uint256 token);
    error EndsMalformed(uint256 index);
    error NoParts();

    constructor(bytes32 piecesRoot_, uint256 vocab_, uint256 bos_, bytes32 textsRoot_, uint256 texts_) {
        piecesRoot = piecesRoot_;
        vocab = vocab_;
        bos = bos_;
        textsRoot = textsRoot_;
        texts = texts_;
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
    ///           texts together (`pathM`);
    ///         - form 2, a non-canonical pair (`nonCanonicalPair`), 3, a misplaced byte
    ///           (`misplacedByte`), 4, a spelled special (`spelledSpecial`), 5, a non-canonical
    ///           pair with a byte side (`nonCanonicalUnits`): encodings in docs/PROTOCOL.md §10.
    ///         Any other form refutes nothing; a witness that does not decode as its form's
    ///         reverts.
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
        if (form == 2) return nonCanonicalPair(prompt, ends, witness);
        if (form == 3) return misplacedByte(prompt, ends, witness);
        if (form == 4) return spelledSpecial(prompt, ends, witness);
        if (form == 5) return nonCanonicalUnits(prompt, ends, witness);
        return false;
    }

    function nonCanonicalUnits(bytes memory prompt, bytes memory ends, bytes calldata witness)
        internal
        view
        returns (bool)
    {
        (, uint256 k, uint256 ra, uint256 rb, bytes32[][] memory paths, TextOpening[] memory os) =
            abi.decode(witness, (uint256, uint256, uint256, uint256, bytes32[][], TextOpening[]));
        (, uint256 idsAt, uint256 n) = shape(prompt);
        uint256 skip = skipped(prompt, idsAt, n);
        if (ra == 0 || rb == 0 || paths.length != ra + rb || k + ra + rb > n - skip) return false;
        (bool okA, bytes memory rawA) = unitRaw(prompt, ends, idsAt + 4 * skip, k, ra, paths, 0);
        if (!okA) return false;
        (bool okB, bytes memory rawB) = unitRaw(prompt, ends, idsAt + 4 * skip, k + ra, rb, paths, ra);
        if (!okB) return false;
        (bool ok, uint256 firstEnd, uint256 count) = replay(bytes.concat(rawA, rawB), os);
        return ok && !(count == 2 && firstEnd == rawA.length);
    }

    /// @dev Tokens `t .. t + r - 1` as one symbol of the replay (engine `Tokenizer::units`): one
    ///      mergeable piece (its text, spaces back to `U+2581`), or the byte tokens of one
    ///      character from its lead byte (its bytes); `paths` from `p0` open them.
    function unitRaw(
        bytes memory prompt,
        bytes memory ends,
        uint256 idsAt,
        uint256 t,
        uint256 r,
        bytes32[][] memory paths,
        uint256 p0
    ) internal view returns (bool, bytes memory) {
        (uint256 s,) = span(ends, t);
        (, uint256 e) = span(ends, t + r - 1);
        if (e <= s) return (false, "");
        bytes memory text = slice(prompt, 4 + s, 4 + e);
        if (r == 1 && opens(readU32(prompt, idsAt + 4 * t), MERGEABLE, text, paths[p0])) return (true, toRaw(text));
        uint8 lead = uint8(text[0]);
        uint256 len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
        if (len != r || e - s != r) return (false, "");
        for (uint256 q = 0; q < r; q++) {
            (uint256 sq, uint256 eq) = span(ends, t + q);
            if (eq != sq + 1 || !opens(readU32(prompt, idsAt + 4 * (t + q)), BYTE, slice(prompt, 4 + sq, 4 + eq), paths[p0 + q])) {
                return (false, "");
            }
        }
        return (true, text);
    }

    /// @dev Token `k`'s `[start, end)` in the text.
    function span(bytes memory ends, uint256 k) internal pure returns (uint256 start, uint256 end) {
        start = k == 0 ? 0 : readU32(ends, 4 * (k - 1));
        end = readU32(ends, 4 * k);
    }

    function misplacedByte(bytes memory prompt, bytes memory ends, bytes calldata witness)
        internal
        view
        returns (bool)
    {
        (, uint256 k, bytes32[] memory path, TextOpening memory c) =
            abi.decode(witness, (uint256, uint256, bytes32[], TextOpening));
        (uint256 textLen, uint256 idsAt, uint256 n) = shape(prompt);
        uint256 skip = skipped(prompt, idsAt, n);
        if (k >= n - skip) return false;
        (uint256 start, uint256 end) = span(ends, k);
        if (end != start + 1) return false;
        if (!opens(readU32(prompt, idsAt + 4 * (skip + k)), BYTE, slice(prompt, 4 + start, 4 + end), path)) {
            return false;
        }
        // The character around the byte (engine `Tokenizer::char_around`).
        uint256 s = start;
        while (s > 0 && start - s < 3 && uint8(prompt[4 + s]) & 0xC0 == 0x80) s--;
        uint8 lead = uint8(prompt[4 + s]);
        uint256 len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
        if (len == 0 || s + len <= start || s + len > textLen) return false;
        return textOpens(c) && compare(c.text, slice(prompt, 4 + s, 4 + s + len)) == 0;
    }

    function spelledSpecial(bytes memory prompt, bytes memory ends, bytes calldata witness)
        internal
        view
        returns (bool)
    {
        (, uint256 i, uint256 p, uint256 len, uint256 sid, bytes32[] memory pathS, bytes32[][] memory paths) =
            abi.decode(witness, (uint256, uint256, uint256, uint256, uint256, bytes32[], bytes32[][]));
        (uint256 textLen, uint256 idsAt, uint256 n) = shape(prompt);
        uint256 skip = skipped(prompt, idsAt, n);
        if (paths.length == 0 || len == 0 || i + paths.length > n - skip || p + len > textLen) return false;
        uint256 j = i + paths.length - 1;
        (uint256 si, uint256 ei) = span(ends, i);
        (uint256 sj, uint256 ej) = span(ends, j);
        if (!(si <= p && p < ei && sj < p + len && p + len <= ej)) return false;
        if (!opens(sid, SPECIAL, slice(prompt, 4 + p, 4 + p + len), pathS)) return false;
        for (uint256 t = i; t <= j; t++) {
            (uint256 st, uint256 et) = span(ends, t);
            if (!opens(readU32(prompt, idsAt + 4 * (skip + t)), MERGEABLE, slice(prompt, 4 + st, 4 + et), paths[t - i])) {
                return false;
            }
        }
        return true;
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

    function nonCanonicalPair(bytes memory prompt, bytes memory ends, bytes calldata witness)
        internal
        view
        returns (bool)
    {
        (, uint256 k, bytes32[] memory pathA, bytes32[] memory pathB, TextOpening[] memory os) =
            abi.decode(witness, (uint256, uint256, bytes32[], bytes32[], TextOpening[]));
        (, uint256 idsAt, uint256 n) = shape(prompt);
        uint256 skip = skipped(prompt, idsAt, n);
        if (n - skip < 2 || k >= n - skip - 1) return false;
        uint256 mid = readU32(ends, 4 * k);
        bytes memory a = slice(prompt, 4 + (k == 0 ? 0 : readU32(ends, 4 * (k - 1))), 4 + mid);
        bytes memory b = slice(prompt, 4 + mid, 4 + readU32(ends, 4 * (k + 1)));
        uint256 idAt = idsAt + 4 * (skip + k);
        if (!opens(readU32(prompt, idAt), MERGEABLE, a, pathA)) return false;
        if (!opens(readU32(prompt, idAt + 4), MERGEABLE, b, pathB)) return false;
        bytes memory rawA = toRaw(a);
        (bool ok, uint256 firstEnd, uint256 count) = replay(bytes.concat(rawA, toRaw(b)), os);
        return ok && !(count == 2 && firstEnd == rawA.length);
    }

    /// @dev The tokenizer's merges on `raw` (engine `Tokenizer::merge_replay`): every adjacent
    ///      pair of UTF-8 characters looked up left to right, then the best pair (highest
    ///      score, leftmost on ties) merged and its new left and right pairs looked up, until
    ///      no pair is a token. Each lookup reads the next openings of `os` (the text's own
    ///      leaf, or the leaves around where it would sit). Returns whether every lookup was
    ///      shown and `os` used up, the first symbol's end and the number of symbols.
    function replay(bytes memory raw, TextOpening[] memory os)
        internal
        view
        returns (bool ok, uint256 firstEnd, uint256 count)
    {
        uint256 len = raw.length;
        uint256[] memory st = new uint256[](len);
        uint256 n;
        for (uint256 i = 0; i < len; i++) {
            if (uint8(raw[i]) & 0xC0 != 0x80) st[n++] = i;
        }
        if (n == 0) return (os.length == 0, 0, 0);
        uint256[] memory en = new uint256[](n);
        uint256[] memory nx = new uint256[](n); // next + 1, 0 for none
        uint256[] memory pv = new uint256[](n); // prev + 1, 0 for none
        uint256[] memory pr = new uint256[](n); // the pair starting here: scoreKey + 1, 0 for none
        for (uint256 i = 0; i < n; i++) {
            en[i] = i + 1 < n ? st[i + 1] : len;
            nx[i] = i + 1 < n ? i + 2 : 0;
            pv[i] = i;
        }
        uint256 q;
        for (uint256 i = 0; i + 1 < n; i++) {
            (ok, q, pr[i]) = lookup(slice(raw, st[i], en[i + 1]), os, q);
            if (!ok) return (false, 0, 0);
        }
        while (true) {
            uint256 best;
            uint256 l;
            for (uint256 i = 0;;) {
                if (pr[i] > best) (best, l) = (pr[i], i);
                if (nx[i] == 0) break;
                i = nx[i] - 1;
            }
            if (best == 0) break;
            uint256 r = nx[l] - 1;
            en[l] = en[r];
            nx[l] = nx[r];
            if (nx[r] != 0) pv[nx[r] - 1] = l + 1;
            pr[r] = 0;
            if (pv[l] != 0) {
                uint256 p = pv[l] - 1;
                (ok, q, pr[p]) = lookup(slice(raw, st[p], en[l]), os, q);
                if (!ok) return (false, 0, 0);
            }
            if (nx[l] != 0) {
                (ok, q, pr[l]) = lookup(slice(raw, st[l], en[nx[l] - 1]), os, q);
                if (!ok) return (false, 0, 0);
            } else {
                pr[l] = 0;
            }
        }
        for (uint256 i = 0;;) {
            count++;
            if (nx[i] == 0) break;
            i = nx[i] - 1;
        }
        return (q == os.length, en[0], count);
    }

    /// @dev Looks `x` up in the text tree with the openings of `os` from `q`: its leaf (a
    ///      token: its scoreKey + 1), or the two adjacent leaves around it, or the first or last
    ///      leaf when it sorts before or after every text (no token: 0).
    function lookup(bytes memory x, TextOpening[] memory os, uint256 q)
        internal
        view
        returns (bool ok, uint256 next, uint256 value)
    {
        if (q >= os.length || !textOpens(os[q])) return (false, q, 0);
        TextOpening memory o = os[q];
        int256 c = compare(o.text, x);
        if (c == 0) return (true, q + 1, o.scoreKey + 1);
        if (c > 0) return (o.index == 0, q + 1, 0);
        if (o.index + 1 == texts) return (true, q + 1, 0);
        if (q + 1 >= os.length || !textOpens(os[q + 1])) return (false, q, 0);
        TextOpening memory h = os[q + 1];
        return (h.index == o.index + 1 && compare(h.text, x) > 0, q + 2, 0);
    }

    function textOpens(TextOpening memory o) internal view returns (bool) {
        if (o.id > type(uint32).max || o.scoreKey > type(uint32).max || o.index >= texts) return false;
        bytes32 leaf = sha256(
            abi.encodePacked(bytes1(0x00), "OTR/vocab-text/v1\x00", uint32(o.id), uint32(o.scoreKey), o.text)
        );
        (bool ok, bytes32 root) = Rfc6962.rootFromPathMemory(leaf, o.index, texts, o.path);
        return ok && root == textsRoot;
    }

    /// @dev Byte-wise order of `x` and `y`: negative, 0 or positive.
    function compare(bytes memory x, bytes memory y) internal pure returns (int256) {
        uint256 m = x.length < y.length ? x.length : y.length;
        for (uint256 i = 0; i < m; i++) {
            if (x[i] != y[i]) return uint8(x[i]) < uint8(y[i]) ? -1 : int256(1);
        }
        return x.length == y.length ? int256(0) : (x.length < y.length ? -1 : int256(1));
    }

    /// @dev A mergeable piece's text from its surface: each space back to `U+2581`.
    function toRaw(bytes memory s) internal pure returns (bytes memory out) {
        uint256 spaces;
        for (uint256 i = 0; i < s.length; i++) {
            if (s[i] == 0x20) spaces++;
        }
        out = new bytes(s.length + 2 * spaces);
        uint256 j;
        for (uint256 i = 0; i < s.length; i++) {
            if (s[i] == 0x20) {
                (out[j], out[j + 1], out[j + 2]) = (0xE2, 0x96, 0x81);
                j += 3;
            } else {
                out[j++] = s[i];
            }
        }
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
