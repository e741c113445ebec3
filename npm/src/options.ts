// The options every call takes. Plain objects; passed to the WebAssembly layer as they are,
// except `time`, which defaults to "now" here (the Rust core never reads a clock).

/** Bytes or text: a Uint8Array, an ArrayBuffer or a string. */
export type BytesLike = Uint8Array | ArrayBuffer | string;

/**
 * The verifier's policy: the same fields as `otr verify --policy FILE` (snake_case JSON).
 * Anything left out keeps the strict default.
 */
export interface Policy {
  /** Accepted driver versions, e.g. `["550.90.07"]` (empty: any). */
  accepted_driver_versions?: string[];
  /** Accepted VBIOS versions in NVIDIA's notation, e.g. `["96.00.9F.00.01"]` (empty: any). */
  accepted_vbios_versions?: string[];
  /** Require both reference manifests and a full golden-measurement match. Default true. */
  require_rims?: boolean;
  /** Require a GOOD OCSP answer for every CA certificate of every chain. Default true. */
  require_ocsp?: boolean;
  /**
   * How OCSP answers are checked against time. `strict` (default): thisUpdate..nextUpdate
   * around the verification time; `at_produced_at`: valid when produced (historic evidence);
   * `ignore`: NVIDIA's Python verifier's behaviour (no freshness check).
   */
  ocsp_freshness?: "strict" | "at_produced_at" | "ignore";
  /** Seconds of clock skew allowed around OCSP thisUpdate/nextUpdate. Default 300. */
  ocsp_skew_secs?: number;
  /** Accept OCSP `certificateHold` as not revoked. Default false. */
  allow_ocsp_hold?: boolean;
  /** Bytes after the report signature. Default `reject`. */
  trailing_bytes?: "reject" | "allow";
  /** Require the report to carry an FWID. Default false (NVIDIA skips the check without one). */
  require_fwid?: boolean;
  /**
   * Accept evidence chained to a development root. NEVER in production: such evidence proves
   * nothing about hardware. Default false.
   */
  allow_dev_roots?: boolean;
}

/** Trust anchors, PEM text (one string may hold several certificates). */
export interface TrustAnchors {
  /** Replace NVIDIA's device identity root (built in by default). */
  deviceRoots?: string | string[];
  /** Replace NVIDIA's CoRIM signing root (built in by default). */
  rimRoots?: string | string[];
  /**
   * Add development roots (for device and manifest chains). Evidence chained to them is marked
   * `dev_root: true`, `production: false`, and is accepted only with `policy.allow_dev_roots`.
   */
  devRoots?: string | string[];
}

/** A verification time: RFC 3339 text, a Date, or Unix seconds. */
export type TimeInput = string | Date | number;

/**
 * Who checks the ECDSA P-384 signatures. `auto` (default): the platform's WebCrypto where it
 * exists (Node, browsers, workers), confirming signatures the Rust verifier then accepts, with
 * anything WebCrypto rejects or cannot do decided by the pure-Rust `p384` code (so error codes
 * are the same either way); `wasm`: the pure-Rust code only.
 */
export type CryptoChoice = "auto" | "wasm";

export interface EvidenceOptions {
  /** Verification time. Default: now (read in JavaScript, at the call). */
  time?: TimeInput;
  /** Signature primitive; default `auto` (WebCrypto where available). */
  crypto?: CryptoChoice;
  /** Policy fields; default strict. */
  policy?: Policy;
  /** Trust anchors; default NVIDIA's two public roots. */
  trustAnchors?: TrustAnchors;
}

export interface BundleOptions extends EvidenceOptions {
  /**
   * Verifying keys of the spot-check circuits, snarkjs `verification_key.json` (text or object).
   * A bundle proof for a circuit with no key here fails with `PROOF_UNKNOWN_CIRCUIT`.
   */
  verifyingKeys?: Array<string | object>;
  /** The client's own request hash (32 bytes: hex or Uint8Array); the receipt must carry it. */
  expectedRequestHash?: string | Uint8Array;
  /** The weights root of the model paid for (32 bytes); the receipt must carry it. */
  expectedWeightsRoot?: string | Uint8Array;
  /**
   * The sampling temperature the request asked for, in thousandths (0 = greedy, as
   * `temperature: 0`); the receipt must record it (`RECEIPT_SAMPLING_MISMATCH`). A greedy answer's
   * tokens are refuted on chain with a larger logit, a sampled one's are not, so a node must not
   * record a temperature the request did not ask for.
   */
  expectedTemperatureMilli?: number;
  /**
   * The prompt the client sent, as the node runs it (for a chat request, with the model's chat
   * template applied; for a completion, the prompt itself), as a string or its UTF-8 bytes:
   * compared with the text of the trace's `PROMPT` leaf the bundle opens
   * (`RECEIPT_PROMPT_MISMATCH`: the node answered another prompt; `PROMPT_NOT_OPENED`: the bundle
   * opens no such leaf). The chain makes the leaf's tokens answer for that text.
   */
  expectedPrompt?: string | Uint8Array;
  /**
   * The model's matrix root (the registry's `poseidonRoot`, 32 bytes): every spot-check proof
   * must carry its statement (`ZK_STATEMENT_MISSING`) and its matrix commitment must open to this
   * root (`ZK_STATEMENT_MATRIX_ROOT`), binding the proof to the registered model.
   */
  expectedMatrixRoot?: string | Uint8Array;
  /**
   * A block you trust: the bundle's stapled light-client section (`chain_proof`) must prove its
   * batch under it, and the result's `chain` then holds the proven claims. Without it a stapled
   * section is reported as `unverified`; with it, a bundle without one fails
   * (`LIGHT_NO_CHAIN_PROOF`).
   */
  trustedCheckpoint?: TrustedCheckpoint;
}

/** What the verifier trusts about the settlement chain. */
export interface TrustedCheckpoint {
  /** The network (EIP-155 chain id) the block is on. */
  chainId: number | bigint;
  /** The trusted block's hash (32 bytes: hex or Uint8Array); any stapled header may be it. */
  blockHash: string | Uint8Array;
  /** The settlement contract (20 bytes: hex or Uint8Array); the proof must be about it. */
  settlement?: string | Uint8Array;
  /** The contract's challenge window in seconds; the stapled one must equal it. */
  challengeWindowSecs?: number | bigint;
  /** The contract's runtime-code hash; the proven account must have it. */
  codeHash?: string | Uint8Array;
}

/** One GPU's evidence, in the forms NVIDIA's tools write it. */
export interface GpuEvidence {
  /** The SPDM GET_MEASUREMENTS request + response: raw bytes or hex text. */
  report: BytesLike;
  /** The device certificate chain, PEM, leaf first. */
  chain: BytesLike;
  /** Reference integrity manifests (SWID XML): the driver and the VBIOS RIM. */
  rims?: BytesLike[];
  /** Stapled OCSP answers, DER bytes or base64 text. */
  ocsp?: BytesLike[];
  /** The nonce the report must carry (32 bytes: hex or Uint8Array); without it, not checked. */
  nonce?: string | Uint8Array;
}

/** An RFC 6962 inclusion proof. */
export interface InclusionInput {
  /** The leaf data (hashed as `SHA-256(0x00 || leaf)`): bytes, or hex text. */
  leaf: Uint8Array | string;
  index: number | bigint;
  size: number | bigint;
  /** Sibling hashes, nearest the leaf first (hex or 32-byte Uint8Array each). */
  path: Array<string | Uint8Array>;
  root: string | Uint8Array;
}

/** A bundle's light-client section and what to check it against (`verifyChainProof`). */
export interface ChainProofInput {
  /** The bundle's `chain_proof` (parsed object or JSON text). */
  chainProof: string | object;
  batchIndex: number | bigint;
  trustedCheckpoint: TrustedCheckpoint;
}

/** A Groth16 proof in snarkjs JSON forms (text or parsed objects). */
export interface ProofInput {
  vk: string | object;
  proof: string | object;
  publicInputs: string | string[];
}

/** One chat message, as sent to a node's `/v1/chat/completions` (`chatPrompt`). */
export interface ChatMessage {
  role: string;
  /** The text, or OpenAI-style content parts (their `text` fields are joined). */
  content: string | { text?: string; type?: string }[];
}
