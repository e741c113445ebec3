// Verifies a fixture bundle and a tampered copy with the package's ES module. Shared by the
// page and the worker; served from the test server next to /dist and /fixtures.
import { verifyBundle, OtrError } from "/dist/index.js";

async function bytes(path) {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

export async function runAll() {
  const c = await (await fetch("/fixtures/bundles/final/case.json")).json();
  const options = {
    time: c.time,
    policy: c.policy,
    trustAnchors: { devRoots: await (await fetch("/fixtures/attestation/dev-root.pem")).text() },
  };
  const good = await bytes("/fixtures/bundles/final/bundle.otrb");
  // Flip one byte of the GPU report's signature (the last bytes of the report field).
  const json = JSON.parse(new TextDecoder().decode(await bytes("/fixtures/bundles/final/bundle.json")));
  const report = Uint8Array.from(atob(json.evidence.report), (ch) => ch.charCodeAt(0));
  report[report.length - 5] ^= 0x01;
  json.evidence.report = btoa(String.fromCharCode(...report));
  const cases = [
    ["final (binary)", good],
    ["final (JSON object)", JSON.parse(new TextDecoder().decode(await bytes("/fixtures/bundles/final/bundle.json")))],
    ["report signature byte flipped", json],
  ];
  const out = [];
  for (const [name, bundle] of cases) {
    const t0 = performance.now();
    try {
      const claims = await verifyBundle(bundle, options);
      out.push({ name, ok: true, finality: claims.finality.state, production: claims.gpu.production, ms: performance.now() - t0 });
    } catch (e) {
      out.push({ name, ok: false, isOtrError: e instanceof OtrError, isError: e instanceof Error, code: e.code, stage: e.stage, message: e.message });
    }
  }
  return out;
}
