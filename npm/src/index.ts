// @otr/verifier: verify OTR answers (NVIDIA H100 attestation, rollup inclusion, Groth16 proofs)
// offline, in Node, browsers and web workers. A small facade over the WebAssembly build of the
// Rust core (verifier-wasm/): it loads the module once from the package's own files, supplies
// "now" when no time is given, and turns thrown errors into `OtrError`s. No network call ever.

import initWasm, * as raw from "../wasm/otr_verifier_wasm.js";
import type { ErrorCode, Stage } from "./codes.js";
import type {
  BundleOptions,
  ChainProofInput,
  ChatMessage,
  EvidenceOptions,
  GpuEvidence,
  InclusionInput,
  ProofInput,
  TimeInput,
} from "./options.js";
import type { ChainClaims, GpuClaims, InclusionClaims, ProofClaims, VerifiedBundle } from "./types.js";

export { ERROR_CODES, STAGES } from "./codes.js";
export type { ErrorCode, Stage } from "./codes.js";
export type * from "./options.js";
export type * from "./types.js";

/** Set by the build: true in the CommonJS bundle (index.cjs), false in the ES module. */
declare const __OTR_CJS__: boolean;
declare const __dirname: string;

/** The file name of the WebAssembly module, next to the package's JavaScript. */
export const WASM_FILE = "otr_verifier_wasm_bg.wasm";

/** A verification failure: `code` is stable (see `ERROR_CODES`), `message` is for people. */
export class OtrError extends Error {
  readonly code: ErrorCode;
  readonly stage: Stage;
  constructor(code: ErrorCode, stage: Stage, message: string) {
    super(message);
    this.name = "OtrError";
    this.code = code;
    this.stage = stage;
  }
}

/** Where the WebAssembly module comes from, for callers that load it themselves. */
export type WasmSource =
  | BufferSource
  | WebAssembly.Module
  | URL
  | Response
  | Promise<Response>;

let ready: Promise<void> | undefined;

interface NodeProcess {
  versions?: { node?: string };
}

function isNode(): boolean {
  const p = (globalThis as { process?: NodeProcess }).process;
  return typeof p?.versions?.node === "string";
}

async function defaultSource(): Promise<WasmSource> {
  if (__OTR_CJS__) {
    const fs = await import("node:fs/promises");
    return fs.readFile(`${__dirname}/${WASM_FILE}`);
  }
  const url = new URL(`./${WASM_FILE}`, import.meta.url);
  if (isNode()) {
    // Node's fetch() cannot read file: URLs; read the package's own file instead.
    const fs = await import(/* webpackIgnore: true */ /* @vite-ignore */ "node:fs/promises");
    return fs.readFile(url);
  }
  // Browsers and workers: the package's own file, next to this module (same origin).
  return url;
}

/**
 * Loads and instantiates the WebAssembly module once. Every verify call awaits it, so calling
 * `init()` is optional; call it early to move the cost out of the first verification, or to
 * give the module yourself (bytes, a compiled `WebAssembly.Module`, a URL or a Response).
 */
export function init(source?: WasmSource): Promise<void> {
  if (!ready) {
    ready = (async () => {
      const module_or_path = source ?? (await defaultSource());
      await initWasm({ module_or_path });
    })();
    // A failed load may be retried (for example with an explicit source).
    ready.catch(() => {
      ready = undefined;
    });
  }
  return ready;
}

function unixSeconds(t: TimeInput | undefined): number | string {
  if (t === undefined) return Math.floor(Date.now() / 1000);
  if (t instanceof Date) return t.getTime() / 1000;
  return t;
}

/** The options for the WebAssembly layer: `time` filled in, `crypto` (handled here) removed. */
function withTime<T extends EvidenceOptions>(options: T | undefined): T {
  if (options === undefined || options === null) return { time: unixSeconds(undefined) } as T;
  // Anything but an options object goes through unchanged, and is refused as INPUT_TYPE.
  if (typeof options !== "object" || Array.isArray(options)) return options;
  const { crypto: _crypto, ...rest } = options;
  return { ...rest, time: unixSeconds(options.time) } as T;
}

/** One P-384 check the WebAssembly layer asks the platform about (see verifier-wasm/src/sigs.rs). */
interface SignatureCheck {
  id: Uint8Array<ArrayBuffer>;
  hash: "SHA-256" | "SHA-384" | "SHA-512";
  key: Uint8Array<ArrayBuffer>;
  msg: Uint8Array<ArrayBuffer>;
  sig: Uint8Array<ArrayBuffer>;
}

type FirstPass<T> = { done: true; claims: T } | { done: false; checks: SignatureCheck[] };

const importedKeys = new Map<string, Promise<CryptoKey | null>>();

function importKey(subtle: SubtleCrypto, raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey | null> {
  let id = "";
  for (const b of raw) id += b.toString(16).padStart(2, "0");
  let key = importedKeys.get(id);
  if (!key) {
    if (importedKeys.size >= 256) importedKeys.clear();
    key = subtle
      .importKey("raw", raw, { name: "ECDSA", namedCurve: "P-384" }, false, ["verify"])
      .catch(() => null);
    importedKeys.set(id, key);
  }
  return key;
}

/** The ids of the checks WebCrypto confirms; anything else is left to the Rust verifier. */
async function webcrypto(subtle: SubtleCrypto, checks: SignatureCheck[]): Promise<Uint8Array<ArrayBuffer>[]> {
  const ok = await Promise.all(
    checks.map(async (c) => {
      const key = await importKey(subtle, c.key);
      if (!key) return null;
      try {
        return (await subtle.verify({ name: "ECDSA", hash: c.hash }, key, c.sig, c.msg)) ? c.id : null;
      } catch {
        return null;
      }
    }),
  );
  return ok.filter((id): id is Uint8Array<ArrayBuffer> => id !== null);
}

function platformCrypto(options: EvidenceOptions | undefined): SubtleCrypto | undefined {
  if (options && typeof options === "object" && options.crypto === "wasm") return undefined;
  return (globalThis as { crypto?: Crypto }).crypto?.subtle;
}

/**
 * Runs an evidence check, with the P-384 signatures confirmed by WebCrypto when available: a
 * first pass lists the checks not already known, WebCrypto answers them, the second pass
 * verifies for real (verifier-wasm/src/sigs.rs explains why the verdicts are the Rust ones).
 */
async function evidenceCall<T>(
  options: EvidenceOptions | undefined,
  f: (platform?: unknown) => unknown,
): Promise<T> {
  const subtle = platformCrypto(options);
  if (!subtle) return call<T>(() => f());
  const first = call<FirstPass<T>>(() => f("collect"));
  if (first.done) return first.claims;
  const verified = await webcrypto(subtle, first.checks);
  return call<T>(() => f({ verified }));
}

interface RawError {
  code?: unknown;
  stage?: unknown;
  message?: unknown;
}

function call<T>(f: () => unknown): T {
  try {
    return f() as T;
  } catch (e) {
    const r = e as RawError;
    if (r && typeof r.code === "string" && typeof r.stage === "string") {
      throw new OtrError(r.code as ErrorCode, r.stage as Stage, String(r.message));
    }
    throw e;
  }
}

/**
 * Verifies an answer bundle completely: the node's signature over the micro-batch header, the
 * receipt's inclusion, rollup inclusion, the GPU attestation (report, device chain, reference
 * manifests, OCSP) with the header hash as its nonce, optional request/model checks, spot-check
 * proofs, and finality. Resolves to the verified claims; rejects with an `OtrError`.
 *
 * @param bundle the binary form (`OTRB...` bytes), JSON text, or the parsed JSON object.
 */
export async function verifyBundle(
  bundle: Uint8Array | ArrayBuffer | string | object,
  options?: BundleOptions,
): Promise<VerifiedBundle> {
  await init();
  const o = withTime(options);
  return evidenceCall(options, (platform) => raw.verifyBundle(bundle, o, platform));
}

/** Verifies one GPU's evidence (report, chain, manifests, OCSP, nonce). */
export async function verifyGpuEvidence(
  evidence: GpuEvidence,
  options?: EvidenceOptions,
): Promise<GpuClaims> {
  await init();
  const o = withTime(options);
  return evidenceCall(options, (platform) => raw.verifyGpuEvidence(evidence, o, platform));
}

/** Verifies an RFC 6962 (SHA-256) Merkle inclusion proof. */
export async function verifyInclusion(proof: InclusionInput): Promise<InclusionClaims> {
  await init();
  return call(() => raw.verifyInclusion(proof));
}

/**
 * Verifies a bundle's stapled light-client section alone (its `chain_proof`) for batch
 * `batchIndex` against `trustedCheckpoint`; resolves to the proven chain claims.
 */
export async function verifyChainProof(input: ChainProofInput): Promise<ChainClaims> {
  await init();
  return call(() => raw.verifyChainProof(input));
}

/** Verifies a Groth16 (BN254) proof given in snarkjs JSON forms. */
export async function verifyProof(input: ProofInput): Promise<ProofClaims> {
  await init();
  return call(() => raw.verifyProof(input));
}

/**
 * Forgets the signatures already verified and the verifying keys already prepared. Verified
 * signatures (same key, message and signature bytes; at most 256) and prepared Groth16 keys (by
 * their JSON text; at most 16) are remembered for the life of the module, so shared certificates,
 * manifests, OCSP answers and keys are processed once; time and policy checks run on every call.
 */
export async function clearCache(): Promise<void> {
  await init();
  raw.clearCache();
}

/**
 * The prompt text a node runs for chat `messages`: Gemma's chat template, exactly as the node
 * applies it (a `system` or `developer` message folded into the next user turn; `assistant` and
 * `model` messages as model turns; `content` a string or an array of parts with `text`). Pass
 * it as `expectedPrompt` to check a chat answer's `PROMPT` leaf. Rejects with `INPUT_TYPE`.
 */
export async function chatPrompt(messages: ChatMessage[]): Promise<string> {
  await init();
  return call(() => raw.chatPrompt(messages));
}

/** The version of the WebAssembly verifier. */
export async function wasmVersion(): Promise<string> {
  await init();
  return raw.version();
}
