// Converts a snarkjs Groth16 proof into the bundle form (docs/PROTOCOL.md §7): arkworks
// compressed points (a: G1, b: G2, c: G1; x little-endian, flags in the top bits of the last
// byte: 0x80 = y is the larger root, 0x40 = infinity) and 32-byte big-endian public inputs.
// Used to put a real proof into a bundle for the tests and the benchmark.

const P = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;

function le32(x) {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

function be32hex(x) {
  return "0x" + BigInt(x).toString(16).padStart(64, "0");
}

/** arkworks: y is "negative" when y > -y (canonical integers). */
const fpNegative = (y) => y > (P - y) % P;
/** Fp2 order compares c1 first, then c0. */
function fp2Negative(c0, c1) {
  const n1 = (P - c1) % P;
  if (c1 !== n1) return c1 > n1;
  return fpNegative(c0);
}

function g1([x, y]) {
  const out = le32(BigInt(x));
  if (fpNegative(BigInt(y))) out[31] |= 0x80;
  return out;
}

function g2([[x0, x1], [y0, y1]]) {
  const out = new Uint8Array(64);
  out.set(le32(BigInt(x0)), 0);
  out.set(le32(BigInt(x1)), 32);
  if (fp2Negative(BigInt(y0), BigInt(y1))) out[63] |= 0x80;
  return out;
}

/** `{ proof (base64), public_inputs (0x hex) }` for a bundle's `zk_proofs` entry. */
export function bundleProof(proofJson, publicJson) {
  const bytes = new Uint8Array(128);
  bytes.set(g1(proofJson.pi_a), 0);
  bytes.set(g2(proofJson.pi_b), 32);
  bytes.set(g1(proofJson.pi_c), 96);
  return {
    proof: Buffer.from(bytes).toString("base64"),
    public_inputs: publicJson.map(be32hex),
  };
}
