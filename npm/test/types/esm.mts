// Type-checks the ES module types as a consumer sees them (tsc, module node16).
import { verifyBundle, OtrError, ERROR_CODES, type ErrorCode, type VerifiedBundle } from "@otr/verifier";

async function main(bytes: Uint8Array): Promise<string> {
  try {
    const claims: VerifiedBundle = await verifyBundle(bytes, {
      time: new Date(),
      policy: { ocsp_freshness: "at_produced_at" },
      trustAnchors: { devRoots: [] },
    });
    return claims.finality.state === "final" ? claims.finality.since : claims.gpu.device.nonce;
  } catch (e) {
    if (e instanceof OtrError) {
      const code: ErrorCode = e.code;
      // @ts-expect-error: not an error code
      const bad: ErrorCode = "NOT_A_CODE";
      // @ts-expect-error: a code of the core that this package never throws (CORE_ONLY_CODES)
      const coreOnly: ErrorCode = "HEADER_SEQUENCE_GAP";
      const thrown: ErrorCode = "LIGHT_SLOT_MISMATCH";
      return `${code} ${e.stage} ${bad} ${coreOnly} ${thrown} ${ERROR_CODES.length}`;
    }
    throw e;
  }
}
export { main };
