#!/usr/bin/env python3
"""Writes npm/src/codes.ts (the error codes of the npm package @otr/verifier) and the list in
npm/README.md of the core's codes that the package never throws, both from the Rust sources, so
neither drifts from the code.

Every error enum of core/src and verifier-wasm/src implements `ErrorCode`; its codes are the
upper-snake string literals of its `fn code(&self)` body, plus the codes `codec_code!("PREFIX", e)`
expands to (PREFIX + each suffix in the macro's definition). An arm that is not a literal (`e.code()`)
hands the code to the error type(s) in that variant's fields.

The package's codes (`ERROR_CODES`, the `ErrorCode` union) are found mechanically from the types
the WebAssembly entry points throw: the `failure_from!(...)` list in verifier-wasm/src/failure.rs
(every error crosses into JavaScript through it), then every error type a delegating variant of
those holds, and so on. Every code of an enum that this walk does not reach is the core's only.

Some variants of reached enums are still never produced through the package's calls (the node's
header chaining, a comparison with the chain the node does, a budget the bundle decoder always
pre-empts). They are listed by hand in `NOT_THROWN` below, each with its reason and the functions
that construct it (`file:fn`, computed from the sources). `--check` fails when that list is stale:
a listed code that no longer exists or is no longer in a reached enum, or whose constructing
functions changed (a new site may be one the package calls: review the entry and update it).
It also fails when a variant with a code is constructed nowhere (dead code).

Stages come from core's `Stage::as_str`.

    scripts/gen-error-codes.py            # rewrite npm/src/codes.ts and the README block
    scripts/gen-error-codes.py --check    # exit 1 if either is stale or NOT_THROWN is
"""
import pathlib
import re
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = [ROOT / "core" / "src", ROOT / "verifier-wasm" / "src"]
FAILURE = ROOT / "verifier-wasm" / "src" / "failure.rs"
OUT = ROOT / "npm" / "src" / "codes.ts"
README = ROOT / "npm" / "README.md"
README_START = "<!-- core-only:start -->"
README_END = "<!-- core-only:end -->"
LITERAL = re.compile(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"')

# Codes of enums the package's calls do return, for variants those calls never produce. One
# entry per code: (the functions that construct it, as `file:fn`; why the package cannot reach
# it). `--check` recomputes the functions; the reason is the reviewed argument.
NOT_THROWN: dict[str, tuple[list[str], str]] = {
    "BUNDLE_NOT_POSTED": (
        ["core/src/rollup/verify.rs:check_batch", "core/src/verify.rs:verify_bundle_with_chain"],
        "comparing a bundle with the batch read from the settlement contract (`check_batch`: the "
        "node, `otr watch`); `verify_bundle_with_chain` also gives it for a chain section without a "
        "rollup section, which the bundle decoder (binary, and JSON re-encoded) refuses first "
        "(`BUNDLE_CHAIN_STATUS_WITHOUT_ROLLUP`)",
    ),
    "BUNDLE_BATCH_INDEX_MISMATCH": (
        ["core/src/chain/lightclient.rs:check_inclusion", "core/src/rollup/verify.rs:check_batch"],
        "comparing a bundle with the batch read from the settlement contract (`check_batch`: the "
        "node, `otr watch`); `check_inclusion` compares the proven batch with the bundle's, but the "
        "package proves the bundle's own batch index, so the indexes agree by construction (a "
        "section about another batch fails `LIGHT_SLOT_MISMATCH`)",
    ),
    "HEADER_CHAIN_ID_MISMATCH": (
        ["core/src/rollup/header.rs:verify_chain_link"],
        "chaining one node's consecutive headers (the node); a bundle holds one header",
    ),
    "HEADER_NODE_MISMATCH": (
        ["core/src/rollup/header.rs:verify_chain_link"],
        "chaining one node's consecutive headers (the node); a bundle holds one header",
    ),
    "HEADER_PREV_HASH_MISMATCH": (
        ["core/src/rollup/header.rs:verify_chain_link"],
        "chaining one node's consecutive headers (the node); a bundle holds one header",
    ),
    "HEADER_SEQUENCE_GAP": (
        ["core/src/rollup/header.rs:verify_chain_link"],
        "chaining one node's consecutive headers (the node); a bundle holds one header",
    ),
    "HEADER_SEQUENCE_OVERFLOW": (
        ["core/src/rollup/header.rs:verify_chain_link"],
        "chaining one node's consecutive headers (the node); a bundle holds one header",
    ),
    "HEADER_TIMESTAMP_REGRESSION": (
        ["core/src/rollup/header.rs:verify_chain_link"],
        "chaining one node's consecutive headers (the node); a bundle holds one header",
    ),
    "HEADER_SIGNING_FAILED": (
        ["core/src/rollup/header.rs:sign"],
        "the node signing a header; the package only verifies signatures",
    ),
    "HEADER_JSON_INVALID": (
        ["core/src/rollup/header.rs:from_json"],
        "reading a header's JSON alone; inside a bundle's JSON it is `BUNDLE_JSON_INVALID`",
    ),
    "HEADER_TRAILING_BYTES": (
        ["core/src/rollup/header.rs:decode"],
        "decoding a header alone; inside a bundle bytes after it are the next field, and bytes "
        "after the bundle are `BUNDLE_TRAILING_BYTES`",
    ),
    "RECEIPT_JSON_INVALID": (
        ["core/src/rollup/receipt.rs:from_json"],
        "reading a receipt's JSON alone; inside a bundle's JSON it is `BUNDLE_JSON_INVALID`",
    ),
    "RECEIPT_TRAILING_BYTES": (
        ["core/src/rollup/receipt.rs:decode"],
        "decoding a receipt alone; inside a bundle bytes after it are the next field, and bytes "
        "after the bundle are `BUNDLE_TRAILING_BYTES`",
    ),
    "OCSP_NONCE_MISMATCH": (
        ["core/src/ocsp/verify.rs:check_nonce"],
        "checked only when the caller expects an OCSP request nonce; the package checks stapled "
        "answers and sends no request",
    ),
    "OCSP_NO_MATCHING_RESPONSE": (
        ["core/src/ocsp/verify.rs:find_single"],
        "`verify_ocsp` about one certificate and one answer (Rust callers); the GPU check tries "
        "every stapled answer against every certificate and passes over answers about another "
        "one, so a certificate no answer is about is `POLICY_MISSING_OCSP` (or unchecked when the "
        "policy does not require OCSP)",
    ),
    "CHAIN_EXT_KEY_USAGE": (
        ["core/src/x509.rs:verify_chain"],
        "`verify_chain` with a required extended key usage (Rust callers); the package's only such "
        "chain is a delegated OCSP responder's, whose certificate is checked for id-kp-OCSPSigning "
        "first (`OCSP_RESPONDER_UNAUTHORIZED`)",
    ),
    "FINALITY_DISPUTE_WITHOUT_BATCH": (
        ["core/src/rollup/finality.rs:evaluate_finality"],
        "`evaluate_finality` with a dispute but no posting time (Rust callers); a bundle's chain "
        "status always carries its batch's posting time, and without one there is no dispute state",
    ),
    "LIGHT_LAYOUT_INVALID": (
        ["core/src/chain/layout.rs:check", "core/src/chain/layout.rs:validate"],
        "a storage layout a Rust caller builds; the package checks only the settlement contract's "
        "fixed layout (`BatchLayout::settlement`), which is valid (a core test asserts it)",
    ),
    "LIGHT_TOO_MANY_HEADERS": (
        ["core/src/chain/lightclient.rs:verify_header_chain"],
        "the light client's budget for headers a Rust caller fetched (8192); a chain section the "
        "package reads holds at most 256, or it fails `BUNDLE_COUNT_EXCEEDED`",
    ),
    "LIGHT_HEADER_TOO_LARGE": (
        ["core/src/chain/header.rs:decode"],
        "the header decoder's 4 KiB budget; the chain-section decoder applies the same budget "
        "first (`BUNDLE_LENGTH_EXCEEDED`)",
    ),
    "LIGHT_PROOF_TOO_LONG": (
        ["core/src/chain/trie.rs:verify_proof"],
        "the trie verifier's budget of 65 nodes; the chain-section decoder applies the same budget "
        "first (`BUNDLE_COUNT_EXCEEDED`)",
    ),
    "LIGHT_NODE_TOO_LARGE": (
        ["core/src/chain/trie.rs:verify_proof"],
        "the trie verifier's 1 KiB node budget; the chain-section decoder applies the same budget "
        "first (`BUNDLE_LENGTH_EXCEEDED`)",
    ),
}


def is_test(path: pathlib.Path) -> bool:
    return "tests" in path.parts or path.stem == "tests" or path.stem.endswith("_tests") \
        or path.stem.startswith("tests_") or path.stem == "test_support" \
        or path.stem.startswith("test_")


def block_end(text: str, i: int) -> int:
    """The index just past the brace-balanced block that starts at `text[i] == "{"` (`text`: a
    `shape` from `lex`, or text without braces in literals)."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    raise ValueError("unbalanced braces")


def body_after(text: str, start: int) -> str:
    """The brace-balanced block that starts at the first `{` after `start`."""
    i = text.index("{", start)
    return text[i:block_end(text, i)]


def lex(text: str) -> tuple[str, str]:
    """Two copies of Rust source, the same length as `text` so offsets agree: `code` with the
    comments blanked, `shape` with the contents of string and char literals blanked too (for
    matching braces and finding paths)."""
    code, shape = list(text), list(text)
    k, n = 0, len(text)

    def blank(a, b, both):
        for j in range(a, b):
            if text[j] != "\n":
                shape[j] = " "
                if both:
                    code[j] = " "

    while k < n:
        c = text[k]
        if text.startswith("//", k):
            e = text.find("\n", k)
            e = n if e < 0 else e
            blank(k, e, True)
            k = e
        elif text.startswith("/*", k):
            e = text.find("*/", k + 2)
            e = n if e < 0 else e + 2
            blank(k, e, True)
            k = e
        elif re.match(r'b?r#*"', text[k:k + 20]) and not (k and re.match(r"\w", text[k - 1])):
            prefix = re.match(r'(b?r)(#*)"', text[k:])
            hashes = len(prefix.group(2))
            start = k + len(prefix.group(0))
            e = text.index('"' + "#" * hashes, start)
            blank(start, e, False)
            k = e + 1 + hashes
        elif c == '"':
            j = k + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(k + 1, j, False)
            k = j + 1
        elif c == "'":
            if text[k + 1] == "\\":
                e = text.index("'", k + 3)
                blank(k + 1, e, False)
                k = e + 1
            elif k + 2 < n and text[k + 2] == "'":
                blank(k + 1, k + 2, False)
                k += 3
            else:
                k += 1  # a lifetime
        else:
            k += 1
    return "".join(code), "".join(shape)


def sources() -> list[tuple[str, str, str, str]]:
    """(path relative to the repository, text, code, shape) of every non-test source (`lex`)."""
    out = []
    for src in SOURCES:
        for path in sorted(src.rglob("*.rs")):
            if not is_test(path):
                text = path.read_text()
                out.append((str(path.relative_to(ROOT)), text, *lex(text)))
    return out


def codec_suffixes() -> list[str]:
    text = (ROOT / "core" / "src" / "rollup" / "codec.rs").read_text()
    macro = body_after(text, text.index("macro_rules! codec_code"))
    return re.findall(r'concat!\(\$prefix, "(_[A-Z0-9_]+)"\)', macro)


def split_top(text: str) -> list[str]:
    """`text` split at commas outside (), [], {} and <>."""
    parts, depth, cur = [], 0, []
    for c in text:
        if c in "([{<":
            depth += 1
        elif c in ")]}>":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return [p for p in (x.strip() for x in parts) if p]


class ErrorEnum:
    def __init__(self, name: str, file: str, doc: str, variants: dict[str, str], code_body: str):
        self.name = name
        self.file = file
        self.doc = doc
        self.variants = variants  # variant name -> its field text
        self.code_body = code_body
        self.codes: set[str] = set()
        self.variant_codes: dict[str, set[str]] = {}  # variant -> literal codes of its arm
        self.delegates: set[str] = set()  # variants whose arm hands the code on


def parse_enum(text: str, shape: str, name: str) -> tuple[str, dict[str, str]]:
    """The doc comment and the variants (name -> field text) of `pub enum name`."""
    m = re.search(r"pub enum " + name + r"\b[^{]*\{", shape)
    if not m:
        raise SystemExit(f"gen-error-codes: enum {name} not found")
    before = text[:m.start()].rstrip().split("\n")
    doc = []
    for line in reversed(before):
        s = line.strip()
        if s.startswith("#["):
            continue
        if not s.startswith("///"):
            break
        doc.insert(0, s[3:].strip())
    body = shape[m.end() - 1:block_end(shape, m.end() - 1)][1:-1]
    body = re.sub(r"#\[[^\]]*\]", "", body)
    variants = {}
    for part in split_top(body):
        v = re.match(r"(\w+)(.*)", part, re.S)
        variants[v.group(1)] = v.group(2)
    return " ".join(doc), variants


def arms(enum: ErrorEnum):
    """(variant, right-hand side start) of each `Enum::Variant ... =>` in the code body."""
    body = enum.code_body
    for m in re.finditer(enum.name + r"::(\w+)", body):
        arrow = body.index("=>", m.end())
        yield m.group(1), body[arrow + 2:].lstrip()


Source = tuple[str, str, str, str]  # see `sources`


def collect() -> tuple[dict[str, ErrorEnum], list[Source]]:
    suffixes = codec_suffixes()
    if not suffixes:
        sys.exit("gen-error-codes: codec_code! macro not found or changed shape")
    files = sources()
    enums: dict[str, ErrorEnum] = {}
    for rel, text, code, shape in files:
        impls = list(re.finditer(r"impl(?:<[^>]*>)? ErrorCode for (\w+)\s*\{", shape))
        for m in impls:
            name = m.group(1)
            end = block_end(shape, m.end() - 1)
            c = re.compile(r"fn code\(&self\)").search(shape, m.end(), end)
            if not c:
                sys.exit(f"gen-error-codes: {rel}: impl ErrorCode for {name} has no fn code")
            if name in enums:
                sys.exit(f"gen-error-codes: two error enums named {name}")
            doc, variants = parse_enum(text, shape, name)
            i = shape.index("{", c.end())
            body = code[i:block_end(shape, i)]
            enums[name] = ErrorEnum(name, rel, doc, variants, body)
        n_code = len(re.findall(r"fn code\(&self\)[^;{]*\{", shape))
        if n_code != len(impls):
            sys.exit(f"gen-error-codes: {rel}: a `fn code` outside `impl ErrorCode for`")
    for e in enums.values():
        e.codes.update(LITERAL.findall(e.code_body))
        for prefix in re.findall(r'codec_code!\(\s*"([A-Z0-9_]+)"', e.code_body):
            e.codes.update(prefix + s for s in suffixes)
        named = set()
        for variant, rhs in arms(e):
            if variant not in e.variants:
                sys.exit(f"gen-error-codes: {e.name}::{variant} is not a variant")
            named.add(variant)
            lit = LITERAL.match(rhs)
            if lit:
                e.variant_codes.setdefault(variant, set()).add(lit.group(1))
            elif not rhs.startswith("codec_code!"):
                e.delegates.add(variant)
        # A variant no arm names (`self.inner().code()`, a `_` arm) may hand its code on.
        e.delegates.update(set(e.variants) - named)
    return enums, files


def edges(e: ErrorEnum, enums: dict[str, ErrorEnum]) -> set[str]:
    out = set()
    for v in e.delegates:
        out.update(t for t in re.findall(r"\b[A-Z]\w*", e.variants[v]) if t in enums and t != e.name)
    return out


def roots() -> list[str]:
    text = lex(FAILURE.read_text())[0]
    m = re.search(r"failure_from!\((.*?)\);", text, re.S)
    if not m:
        sys.exit("gen-error-codes: failure_from!(...) not found in verifier-wasm/src/failure.rs")
    return [t.split("::")[-1] for t in split_top(m.group(1))]


def reached_types(enums: dict[str, ErrorEnum]) -> list[str]:
    seen, todo = [], list(roots())
    while todo:
        t = todo.pop(0)
        if t in seen:
            continue
        if t not in enums:
            sys.exit(f"gen-error-codes: {t} (thrown by the package) has no `impl ErrorCode`")
        seen.append(t)
        todo.extend(sorted(edges(enums[t], enums)))
    return seen


def enclosing_fns(text: str) -> list[tuple[int, int, str]]:
    """(body start, body end, name) of every fn with a body."""
    out = []
    for m in re.finditer(r"\bfn (\w+)", text):
        depth, k = 0, m.end()
        while k < len(text):
            c = text[k]
            if c in "([":
                depth += 1
            elif c in ")]":
                depth -= 1
            elif depth == 0 and c in "{;":
                break
            k += 1
        if k < len(text) and text[k] == "{":
            out.append((k, block_end(text, k), m.group(1)))
    return out


def is_pattern(text: str, end: int) -> bool:
    """Whether the path ending at `end` is a match pattern (followed by `=>`, `|` or `if`)."""
    k = end
    while k < len(text) and text[k] in " \t\n":
        k += 1
    if k < len(text) and text[k] in "({":
        close = {"(": ")", "{": "}"}[text[k]]
        depth = 0
        for j in range(k, len(text)):
            if text[j] == text[k]:
                depth += 1
            elif text[j] == close:
                depth -= 1
                if depth == 0:
                    k = j + 1
                    break
    while k < len(text) and text[k] in " \t\n)":
        k += 1
    return text.startswith("=>", k) or text.startswith("|", k) and not text.startswith("||", k) \
        or text.startswith("if ", k)


def sites(enum: ErrorEnum, variant: str, files: list[Source]) -> list[str]:
    """`file:fn` of every place that constructs `enum::variant` (match patterns left out)."""
    out = set()
    pat = re.compile(r"\b" + enum.name + "::" + variant + r"\b")
    for rel, _, _, shape in files:
        fns = None
        for m in pat.finditer(shape):
            if is_pattern(shape, m.end()):
                continue
            if fns is None:
                fns = enclosing_fns(shape)
            inner = [f for f in fns if f[0] <= m.start() < f[1]]
            name = max(inner)[2] if inner else "<item>"
            out.add(f"{rel}:{name}")
    return sorted(out)


def analyse():
    enums, files = collect()
    reached = reached_types(enums)
    package = set().union(*(enums[t].codes for t in reached))
    everything = set().union(*(e.codes for e in enums.values()))
    problems = []
    # Codes the hand list takes out, checked against the sources.
    owner = {}
    for e in enums.values():
        for v, codes in e.variant_codes.items():
            for c in codes:
                owner.setdefault(c, []).append((e, v))
    for code, (listed_sites, reason) in sorted(NOT_THROWN.items()):
        if not reason.strip():
            problems.append(f"NOT_THROWN[{code}] has no reason")
        if code not in everything:
            problems.append(f"NOT_THROWN lists {code}, which is no longer an error code")
            continue
        if code not in package:
            problems.append(f"NOT_THROWN lists {code}, whose enum the package no longer returns "
                            "(it is left out mechanically now): remove the entry")
            continue
        if code not in owner:
            problems.append(f"NOT_THROWN lists {code}, which no single variant maps to")
            continue
        found = sorted({s for e, v in owner[code] for s in sites(e, v, files)})
        if found != sorted(listed_sites):
            problems.append(f"NOT_THROWN[{code}]: constructed in {found}, the list says "
                            f"{sorted(listed_sites)}: check the reason still holds, then update it")
    # Variants with a code that nothing constructs are dead.
    for e in enums.values():
        for v in sorted(e.variant_codes):
            if not sites(e, v, files):
                problems.append(f"{e.name}::{v} ({', '.join(sorted(e.variant_codes[v]))}) is "
                                "constructed nowhere: remove it")
    thrown = sorted(package - set(NOT_THROWN))
    core_only = []  # (code, reason), grouped by enum
    for e in sorted(enums.values(), key=lambda x: x.name):
        if e.name not in reached:
            doc = f": {e.doc[0].lower()}{e.doc[1:].rstrip('.')}" if e.doc else ""
            reason = f"`{e.name}` ({e.file}{doc}), which no call of the package returns"
            core_only += [(c, reason) for c in sorted(e.codes - package)]
    core_only += [(c, NOT_THROWN[c][1]) for c in sorted(NOT_THROWN) if c in package]
    missing = everything - set(thrown) - {c for c, _ in core_only}
    if missing:
        problems.append(f"codes in neither list: {sorted(missing)}")
    return thrown, core_only, problems


def stages() -> list[str]:
    text = (ROOT / "core" / "src" / "error.rs").read_text()
    body = body_after(text, text.index("pub fn as_str(self)"))
    return re.findall(r'=> "([a-z_]+)"', body)


def render(codes: list[str], core_only: list[tuple[str, str]], stage_names: list[str]) -> str:
    lines = [
        "// Generated by scripts/gen-error-codes.py from the Rust sources (core/src and",
        "// verifier-wasm/src): do not edit. `npm test` fails when this file is stale.",
        "",
        "/**",
        " * Every error code this package's calls can throw (`OtrError.code`): the codes of the error",
        " * types the WebAssembly entry points return, less those no input through these calls",
        " * produces (`CORE_ONLY_CODES`). The package's tests reach each of them.",
        " */",
        "export const ERROR_CODES = [",
    ]
    lines += [f'  "{c}",' for c in codes]
    lines += [
        "] as const;",
        "",
        "/** One error code. */",
        "export type ErrorCode = (typeof ERROR_CODES)[number];",
        "",
        "/**",
        " * Codes of the Rust core (otr-core) that this package never throws: other callers of the core",
        " * (the node, the `otr` CLI) produce them. Not part of `ErrorCode`; npm/README.md gives each",
        " * one's reason.",
        " */",
        "export const CORE_ONLY_CODES = [",
    ]
    lines += [f'  "{c}",' for c, _ in sorted(core_only)]
    lines += [
        "] as const;",
        "",
        "/** The verification stage an error comes from (`OtrError.stage`). */",
        "export const STAGES = [",
    ]
    lines += [f'  "{s}",' for s in stage_names]
    lines += [
        "] as const;",
        "",
        "/** One stage. */",
        "export type Stage = (typeof STAGES)[number];",
        "",
    ]
    return "\n".join(lines)


def render_readme(readme: str, thrown: list[str], core_only: list[tuple[str, str]]) -> str:
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        sys.exit(f"gen-error-codes: npm/README.md lacks {README_START} ... {README_END}")
    groups: dict[str, list[str]] = {}
    for code, reason in core_only:
        groups.setdefault(reason, []).append(code)
    block = [
        README_START,
        f"`ERROR_CODES` has {len(thrown)} codes, `CORE_ONLY_CODES` {len(core_only)}:",
        "",
    ]
    for reason, codes in groups.items():
        item = ", ".join(f"`{c}`" for c in codes) + ": " + reason + "."
        block.append(textwrap.fill(item, 100, initial_indent="- ", subsequent_indent="  ",
                                   break_on_hyphens=False, break_long_words=False))
    block.append("")
    return readme[:start] + "\n".join(block) + readme[end:]


def main() -> int:
    thrown, core_only, problems = analyse()
    text = render(thrown, core_only, stages())
    readme = README.read_text()
    new_readme = render_readme(readme, thrown, core_only)
    for p in problems:
        print(f"gen-error-codes: {p}", file=sys.stderr)
    if "--check" in sys.argv[1:]:
        current = OUT.read_text() if OUT.exists() else ""
        stale = False
        if current != text:
            print(f"{OUT.relative_to(ROOT)} is stale: run scripts/gen-error-codes.py", file=sys.stderr)
            stale = True
        if readme != new_readme:
            print("npm/README.md's list of core-only codes is stale: run scripts/gen-error-codes.py",
                  file=sys.stderr)
            stale = True
        return 1 if stale or problems else 0
    if problems:
        return 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    README.write_text(new_readme)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(thrown)} codes the package throws, "
          f"{len(core_only)} core-only) and npm/README.md's list", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
