// Every self-made fixture through the ES module entry point: each case gives its expected
// verdict, finality or error code (fixtures/bundles and fixtures/attestation, case.json).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { OtrError, verifyBundle, verifyGpuEvidence } from "@otr/verifier";
import { attestationEvidence, caseOptions, cases, record, rejectsWith } from "./helpers.mjs";

for (const c of cases("bundles")) {
  for (const form of ["bundle.otrb", "bundle.json"]) {
    const file = join(c.path, form);
    if (!existsSync(file)) continue;
    test(`bundle fixture ${c.name} (${form}): ${c.spec.expected}`, async () => {
      const bytes = readFileSync(file);
      const input = form.endsWith(".json") ? bytes.toString("utf8") : new Uint8Array(bytes);
      const run = verifyBundle(input, caseOptions(c));
      if (c.spec.expected === "ok") {
        const claims = await run;
        assert.equal(claims.finality.state, c.spec.finality);
        assert.equal(claims.gpu.production, false, "dev evidence must say production: false");
        assert.equal(claims.gpu.device.dev_root, true);
        assert.equal(claims.gpu.device.nonce_verified, true);
        assert.equal("0x" + claims.gpu.device.nonce, claims.structure.header_hash);
        if (c.spec.expected_prompt !== undefined) {
          assert.equal(claims.prompt_verified, true);
          assert.equal(claims.prompt.text, c.spec.expected_prompt);
        } else {
          assert.equal(claims.prompt_verified, false);
        }
      } else {
        await rejectsWith(assert, OtrError, run, c.spec.expected);
      }
    });
  }
}

test("a bundle given as its parsed JSON object verifies like its text", async () => {
  const c = cases("bundles").find((x) => x.name === "final");
  const obj = JSON.parse(readFileSync(join(c.path, "bundle.json"), "utf8"));
  const claims = await verifyBundle(obj, caseOptions(c));
  assert.equal(claims.finality.state, "final");
});

for (const c of cases("attestation")) {
  test(`attestation fixture ${c.name}: ${c.spec.expected}`, async () => {
    const run = verifyGpuEvidence(attestationEvidence(c), caseOptions(c));
    if (c.spec.expected === "ok") {
      const claims = await run;
      assert.equal(claims.production, false);
      assert.equal(claims.device.dev_root, true);
      assert.equal(claims.device.nonce, c.spec.nonce);
      record("ok");
    } else {
      await rejectsWith(assert, OtrError, run, c.spec.expected);
    }
  });
}
