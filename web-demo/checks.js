// The verification panel's checks, in the order the verifier runs them, and which check an
// error code belongs to. Pure functions: tested in Node (test/checks.test.mjs).

export const CHECKS = [
  { id: "header", title: "Micro-batch signature", what: "the node's secp256k1 key signed the micro-batch header" },
  { id: "inclusion", title: "Receipt inclusion", what: "the receipt is a leaf of the signed micro-batch (and of the rollup batch when posted)" },
  { id: "prompt", title: "Prompt", what: "the trace ran the prompt you sent: its PROMPT leaf (leaf 0 of the receipt's trace) says exactly it, and a dispute refutes tokens that are not that text" },
  { id: "chain", title: "Device certificate chain", what: "the GPU's 5-certificate chain ends at the pinned root at this time" },
  { id: "report", title: "Report signature", what: "the GPU's attestation key signed the SPDM measurement report" },
  { id: "nonce", title: "Nonce binding", what: "the report's nonce is the micro-batch header hash: the GPU signed over the receipts" },
  { id: "revocation", title: "Revocation (OCSP)", what: "stapled OCSP answers say no certificate is revoked" },
  { id: "measurements", title: "Measurements vs manifests", what: "every golden measurement of NVIDIA's signed driver and VBIOS manifests matches" },
  { id: "proof", title: "Spot-check proof", what: "the Groth16 proofs attached to the bundle verify" },
  { id: "finality", title: "Finality", what: "provisional (attested), in the challenge window, or final" },
];

/** The check an error code fails. */
export function checkOf(code) {
  if (/^HEADER_/.test(code) || code === "BUNDLE_RECEIPT_AFTER_HEADER") return "header";
  if (/^PROMPT_/.test(code) || code === "RECEIPT_PROMPT_MISMATCH") return "prompt";
  if (/^(INCLUSION_|BUNDLE_|RECEIPT_)/.test(code)) return "inclusion";
  if (/^CHAIN_/.test(code) || code === "POLICY_DEV_ROOT") return "chain";
  if (/^SPDM_/.test(code) || /^REPORT_(SIGNATURE|BAD_LEAF)/.test(code)) return "report";
  if (/^REPORT_(NONCE|FWID)/.test(code) || /^POLICY_(DRIVER|VBIOS)/.test(code)) return "nonce";
  if (/^OCSP_/.test(code) || code === "POLICY_MISSING_OCSP") return "revocation";
  if (/^(RIM_|MEASUREMENT_)/.test(code) || code === "POLICY_MISSING_RIMS") return "measurements";
  if (/^(PROOF_|ZK_STATEMENT_)/.test(code)) return "proof";
  if (/^FINALITY_/.test(code)) return "finality";
  return "inclusion";
}

function short(hex, n = 12) {
  return typeof hex === "string" && hex.length > n ? `${hex.slice(0, n)}…` : String(hex ?? "");
}

/**
 * Turns a verification outcome into one row per check: {id, title, state: ok|fail|skip|pending,
 * detail, code}. `claims` is the VerifiedBundle on success; `error` an OtrError on failure.
 */
export function rows(claims, error) {
  if (!claims && !error) return CHECKS.map((c) => ({ ...c, state: "pending", detail: "no answer verified yet" }));
  const failed = error ? checkOf(error.code) : null;
  const failedAt = failed ? CHECKS.findIndex((c) => c.id === failed) : -1;
  return CHECKS.map((c, i) => {
    if (error) {
      if (i < failedAt) return { ...c, state: "ok", detail: "passed before the failure" };
      if (i === failedAt) return { ...c, state: "fail", code: error.code, detail: error.message };
      return { ...c, state: "pending", detail: "not reached" };
    }
    const g = claims.gpu;
    const d = g.device;
    switch (c.id) {
      case "header":
        return { ...c, state: "ok", detail: `node 0x${short(claims.structure.node_address, 40)}, micro-batch #${claims.structure.sequence}` };
      case "inclusion": {
        const b = claims.structure.batch;
        return { ...c, state: "ok", detail: `leaf ${claims.structure.receipt_index} of ${claims.structure.receipt_count}` + (b ? `; batch #${b.batch_index}` : "; not posted yet") };
      }
      case "prompt":
        if (claims.prompt_verified) return { ...c, state: "ok", detail: `${claims.prompt.tokens} tokens; the text is the prompt sent` };
        return claims.prompt
          ? { ...c, state: "skip", detail: `opened (${claims.prompt.tokens} tokens), not compared with a prompt` }
          : { ...c, state: "skip", detail: "the bundle opens no PROMPT leaf" };
      case "chain":
        return { ...c, state: "ok", detail: `${d.hwmodel ?? "device"}, ueid ${short(d.ueid, 16)}; root ${d.dev_root ? "DEV (not production)" : "NVIDIA"}` };
      case "report":
        return { ...c, state: "ok", detail: `driver ${d.driver_version}, VBIOS ${d.vbios_version}, ${d.measurements.length} measurement blocks` + (d.fwid_verified ? ", FWID bound" : "") };
      case "nonce":
        return { ...c, state: "ok", detail: `nonce ${short(d.nonce, 16)} = header hash` };
      case "revocation":
        return g.ocsp.length
          ? { ...c, state: "ok", detail: `${g.ocsp.length} OCSP answers GOOD` }
          : { ...c, state: "skip", detail: "no OCSP answers stapled (allowed by this policy)" };
      case "measurements":
        return g.measurements
          ? { ...c, state: "ok", detail: `${g.measurements.matched} of ${g.measurements.golden} match` + (g.measurements.skipped ? `, ${g.measurements.skipped} not applicable` : "") }
          : { ...c, state: "skip", detail: "no reference manifests stapled (allowed by this policy)" };
      case "proof":
        return claims.proofs.length
          ? {
              ...c,
              state: "ok",
              detail: `${claims.proofs.length} proof(s) verified` + claims.proofs
                .filter((p) => p.bound)
                .map((p) => `; rows ${p.bound.row_start}..${p.bound.row_start + p.bound.unit_rows - 1} of ${p.bound.matrix} at trace step ${p.bound.step_index}, bound to this answer (matrix root ${short(p.bound.matrix_root, 12)})`)
                .join(""),
            }
          : { ...c, state: "skip", detail: "this receipt was not sampled for a spot-check" };
      case "finality": {
        const f = claims.finality;
        const text = f.state === "in_window" ? `in the challenge window until ${f.ends_at}` : f.state;
        return { ...c, state: "ok", detail: text };
      }
      default:
        return { ...c, state: "skip", detail: "" };
    }
  });
}

/** Flips one bit of a base64 field; returns the new base64. */
function flipBase64(b64, at) {
  const bin = atob(b64);
  const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  bytes[Math.min(at, bytes.length - 1)] ^= 1;
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Flips one hex digit of a 0x-prefixed hex field. */
function flipHex(hex) {
  const i = hex.length - 1;
  const c = parseInt(hex[i], 16) ^ 1;
  return hex.slice(0, i) + c.toString(16);
}

/** A copy of the bundle JSON object with the chosen parts tampered. */
export function tamper(bundle, which) {
  const b = structuredClone(bundle);
  if (which.has("report")) b.evidence.report = flipBase64(b.evidence.report, 60); // inside measurement block 1's value
  if (which.has("receipt")) b.receipt.output_hash = flipHex(b.receipt.output_hash);
  if (which.has("header")) b.header.timestamp = Number(b.header.timestamp) + 1;
  if (which.has("prompt") && b.prompt) b.prompt.prompt = flipBase64(b.prompt.prompt, 8); // a byte of the text
  if (which.has("proof") && b.zk_proofs && b.zk_proofs.length) b.zk_proofs[0].proof = flipBase64(b.zk_proofs[0].proof, 10);
  return b;
}
