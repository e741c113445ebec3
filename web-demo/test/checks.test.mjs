// The panel logic without a browser: every error code lands on a check, and order is respected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CHECKS, checkOf, rows } from "../checks.js";

test("every error code of the verifier maps to a check", () => {
  const codes = readFileSync(new URL("../../npm/src/codes.ts", import.meta.url), "utf8").match(/"[A-Z][A-Z0-9_]+"/g) ?? [];
  assert.ok(codes.length > 50, "codes.ts lists the error codes");
  const ids = new Set(CHECKS.map((c) => c.id));
  for (const q of codes) assert.ok(ids.has(checkOf(q.slice(1, -1))), q);
  assert.equal(checkOf("REPORT_SIGNATURE_INVALID"), "report");
  assert.equal(checkOf("REPORT_NONCE_MISMATCH"), "nonce");
  assert.equal(checkOf("INCLUSION_ROOT_MISMATCH"), "inclusion");
  assert.equal(checkOf("HEADER_SIGNER_MISMATCH"), "header");
  assert.equal(checkOf("PROOF_INVALID"), "proof");
  assert.equal(checkOf("RECEIPT_PROMPT_MISMATCH"), "prompt");
  assert.equal(checkOf("PROMPT_OPENING_INVALID"), "prompt");
  assert.equal(checkOf("RECEIPT_SAMPLING_MISMATCH"), "inclusion");
});

test("a failure marks earlier checks passed and later ones not reached", () => {
  const r = rows(null, { code: "REPORT_SIGNATURE_INVALID", stage: "report", message: "bad" });
  const states = Object.fromEntries(r.map((x) => [x.id, x.state]));
  assert.equal(states.chain, "ok");
  assert.equal(states.report, "fail");
  assert.equal(states.nonce, "pending");
  assert.equal(r.find((x) => x.id === "report").code, "REPORT_SIGNATURE_INVALID");
});
