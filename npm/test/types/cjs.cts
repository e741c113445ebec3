// Type-checks the CommonJS types as a consumer sees them (tsc, module node16).
import verifier = require("@otr/verifier");

export async function main(): Promise<number> {
  const c = await verifier.verifyProof({ vk: "{}", proof: "{}", publicInputs: [] });
  const e = new verifier.OtrError("PROOF_INVALID", "proof", "m");
  return c.public_inputs.length + e.message.length;
}
