// Full GPU evidence (report, chain, RIMs, OCSP) through verifyGpuEvidence: every
// fixtures/gpu case gives its expected verdict or code, and copies of the `ok` case's driver
// RIM and OCSP answers changed in one way each give the code of that defect.
import assert from "node:assert/strict";
import { test } from "node:test";

import { OtrError, verifyGpuEvidence } from "@otr/verifier";
import { caseOptions, cases, gpuEvidence, record, rejectsWith } from "./helpers.mjs";

for (const c of cases("gpu")) {
  test(`GPU fixture ${c.name}: ${c.spec.expected}${c.spec.inner ? ` (${c.spec.inner})` : ""}`, async () => {
    const run = verifyGpuEvidence(gpuEvidence(c), caseOptions(c));
    if (c.spec.expected === "ok") {
      const claims = await run;
      assert.equal(claims.production, false);
      assert.equal(claims.device.nonce, c.spec.nonce);
      assert.equal(claims.rims.length, 2);
      assert.equal(claims.ocsp.length, 9);
      record("ok");
    } else {
      const e = await rejectsWith(assert, OtrError, run, c.spec.expected);
      if (c.spec.inner) assert.match(e.message, /chain is invalid/);
    }
  });
}

const ok = cases("gpu").find((c) => c.name === "ok");
const evidence = gpuEvidence(ok);
const options = caseOptions(ok);
const driver = evidence.rims[0].toString("utf8");
const signature = driver.slice(driver.indexOf("<ds:Signature"), driver.indexOf("</ds:Signature>") + 15);

// (what, code, edit of the driver RIM's text or bytes). All of these are found before the
// signature is checked; edits of the signed content itself give RIM_DIGEST_MISMATCH.
const RIM_EDITS = [
  ["a second ds:Signature", "RIM_MULTIPLE_SIGNATURES",
    (s) => s.replace("</SoftwareIdentity>", signature + "</SoftwareIdentity>")],
  ["a byte that is not UTF-8", "RIM_XML_ENCODING",
    (s) => Buffer.concat([Buffer.from(s.slice(0, 100)), Buffer.from([0xff]), Buffer.from(s.slice(101))])],
  ["an undeclared namespace prefix", "RIM_XML_NAMESPACE", (s) => s.replace("<ns0:Payload>", "<ns0:Payload><zz:x/>")],
  ["an unknown entity reference", "RIM_XML_REFERENCE", (s) => s.replace('name="GH100"', 'name="GH&foo;100"')],
  ["300 nested elements", "RIM_XML_LIMIT",
    (s) => s.replace("<ns0:Payload>", "<ns0:Payload>" + "<a>".repeat(300) + "</a>".repeat(300))],
  ["2.2 MB long", "RIM_TOO_LARGE", (s) => s.replace("<ns0:Payload>", "<ns0:Payload><!--" + "x".repeat(2_200_000) + "-->")],
  ["an unknown canonicalization method", "RIM_UNSUPPORTED_ALGORITHM",
    (s) => s.replace('http://www.w3.org/2006/12/xml-c14n11"', 'http://example.invalid/c14n"')],
  ["ecdsa-sha1 as signature method", "RIM_UNSUPPORTED_ALGORITHM",
    (s) => s.replace("xmldsig-more#ecdsa-sha384", "xmldsig-more#ecdsa-sha1")],
  ["SHA-1 as digest method", "RIM_UNSUPPORTED_ALGORITHM",
    (s) => s.replace(/<ds:DigestMethod Algorithm="[^"]*"/, '<ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"')],
  ["a SignatureValue of 3 bytes", "RIM_SIGNATURE_MALFORMED",
    (s) => s.replace(/<ds:SignatureValue>[^<]*</, "<ds:SignatureValue>AAAA<")],
  ["SignedInfo without its Reference", "RIM_SIGNATURE_MALFORMED",
    (s) => s.replace(/<ds:Reference URI="">.*<\/ds:Reference>/s, "")],
  ["a KeyInfo certificate that is not DER", "RIM_BAD_CERTIFICATE",
    (s) => s.replace("<ds:X509Certificate>MII", "<ds:X509Certificate>AAAAMII")],
  ["an empty KeyInfo", "RIM_NO_CERTIFICATE", (s) => s.replace(/<ds:KeyInfo>.*<\/ds:KeyInfo>/s, "<ds:KeyInfo></ds:KeyInfo>")],
  ["the root element renamed (signed content)", "RIM_DIGEST_MISMATCH",
    (s) => s.replace("<SoftwareIdentity ", "<SoftwareIdentityX ").replace("</SoftwareIdentity>", "</SoftwareIdentityX>")],
];
for (const [what, code, edit] of RIM_EDITS) {
  test(`driver RIM with ${what}: ${code}`, async () => {
    const rims = [Buffer.from(edit(driver)), evidence.rims[1]];
    await rejectsWith(assert, OtrError, verifyGpuEvidence({ ...evidence, rims }, options), code);
  });
}

test("OCSP answers: one too large, 40 of them, one not DER or base64, one missing", async () => {
  const [first, ...rest] = evidence.ocsp;
  const run = (ocsp) => verifyGpuEvidence({ ...evidence, ocsp }, options);
  await rejectsWith(assert, OtrError, run([...rest, Buffer.concat([first, Buffer.alloc(200_000)])]), "OCSP_TOO_LARGE");
  await rejectsWith(assert, OtrError, run(Array(40).fill(first)), "INPUT_TOO_MANY");
  await rejectsWith(assert, OtrError, run([...evidence.ocsp, "!!!!"]), "OCSP_DECODE");
  await rejectsWith(assert, OtrError, run(rest), "POLICY_MISSING_OCSP");
});

test("policy and time against the ok evidence", async () => {
  const run = (o) => verifyGpuEvidence(evidence, { ...options, ...o });
  await rejectsWith(assert, OtrError, run({ policy: { ...options.policy, accepted_driver_versions: ["1.0"] } }),
    "POLICY_DRIVER_VERSION");
  await rejectsWith(assert, OtrError, run({ policy: { ...options.policy, accepted_vbios_versions: ["1.0"] } }),
    "POLICY_VBIOS_VERSION");
  await rejectsWith(assert, OtrError, run({ policy: {} }), "POLICY_DEV_ROOT");
  await rejectsWith(assert, OtrError, run({ time: "2030-01-01T00:00:00Z" }), "OCSP_STALE");
  await rejectsWith(assert, OtrError, run({ time: "2019-01-01T00:00:00Z" }), "CHAIN_NOT_YET_VALID");
  const chain = evidence.chain.toString().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n";
  await rejectsWith(assert, OtrError, verifyGpuEvidence({ ...evidence, chain }, options), "CHAIN_WRONG_LENGTH");
});

test("a report that is neither raw SPDM bytes nor hex text: INPUT_REPORT_ENCODING", async () => {
  const run = (report) => verifyGpuEvidence({ ...evidence, report }, options);
  await rejectsWith(assert, OtrError, run("zz"), "INPUT_REPORT_ENCODING", "input");
  // Raw bytes must start with SPDM 1.1's version byte 0x11; other bytes are read as hex text.
  await rejectsWith(assert, OtrError, run(new Uint8Array([0x10, 0xe0, 0x00])), "INPUT_REPORT_ENCODING", "input");
});
