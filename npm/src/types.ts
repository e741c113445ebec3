// The shapes of the verified claims, as the Rust core serialises them (snake_case field names,
// hashes as lower-case hex, times as RFC 3339 UTC text). Written by hand from core's types
// (core/src/verify.rs, attestation/gpu.rs, attestation/evidence.rs, ocsp/mod.rs,
// rim/measurements.rs, rollup/*.rs); the tests compare them with real output.

/** RFC 3339 UTC text, second precision, e.g. `2025-06-01T00:00:00Z`. */
export type Rfc3339 = string;
/** Lower-case hex; rollup values carry a `0x` prefix, attestation values do not. */
export type Hex = string;

export interface MeasurementClaim {
  /** 1-based SPDM block index (RIM index + 1). */
  index: number;
  value: Hex;
}

export interface DeviceClaims {
  arch: string;
  /** The request nonce (hex). In OTR it is a micro-batch header hash. */
  nonce: Hex;
  /** Whether the nonce was compared with a caller-given value. */
  nonce_verified: boolean;
  driver_version: string | null;
  vbios_version: string | null;
  hwmodel: string | null;
  /** The leaf certificate's serial number, decimal (NVIDIA's `ueid`). */
  ueid: string;
  fwid: Hex | null;
  fwid_verified: boolean;
  project: string | null;
  project_sku: string | null;
  chip_sku: string | null;
  board_id: number | null;
  nvdec0_status: number | null;
  protected_pcie_status: number | null;
  feature_flag: number | null;
  /** Earliest expiry across the device chain. */
  chain_expires: Rfc3339;
  /** SHA-256 fingerprints of the device chain as validated (leaf first, anchor last). */
  chain_fingerprints: Hex[];
  /** True when the chain ends at a development root: NOT production evidence. */
  dev_root: boolean;
  measurements: MeasurementClaim[];
  /** Every opaque record by NVIDIA name, decoded where known. */
  opaque: Record<string, string>;
}

export type RimKind = "driver" | "vbios";

export interface RimClaim {
  kind: RimKind;
  tag_id: string;
  version: string;
  signer: string;
  digest: Hex;
  chain_expires: Rfc3339;
  dev_root: boolean;
}

export interface MeasurementResult {
  /** RIM index (SPDM block index + 1). */
  index: number;
  kind: RimKind;
  verdict: "match" | "mismatch" | "skipped";
  got: Hex | null;
  expected: Hex[];
}

export interface MeasurementClaims {
  matched: number;
  skipped: number;
  golden: number;
  results: MeasurementResult[];
}

export interface OcspVerdict {
  status: string;
  revocation_time?: Rfc3339;
  produced_at: Rfc3339;
  this_update: Rfc3339;
  next_update: Rfc3339 | null;
  responder_subject: string;
  responder: string;
  responder_checked_at: Rfc3339;
  cert_serial_hex: Hex;
}

export interface OcspClaim {
  chain: "device" | "driver_rim" | "vbios_rim";
  /** Index of the certificate in its chain (0 = leaf). */
  index: number;
  subject: string;
  verdict: OcspVerdict;
}

/** Everything one GPU's evidence proved (`verifyGpuEvidence`, and `gpu` of a bundle). */
export interface GpuClaims {
  /** False when any part chains to a development root: then this proves nothing about hardware. */
  production: boolean;
  time: Rfc3339;
  device: DeviceClaims;
  rims: RimClaim[];
  measurements: MeasurementClaims | null;
  ocsp: OcspClaim[];
}

export interface SamplingParams {
  temperature_milli: number;
  top_k: number;
  top_p_milli: number;
  max_tokens: number;
  /** Decimal text (a u64). */
  seed: string;
}

export interface Receipt {
  version: number;
  model_id: Hex;
  weights_root: Hex;
  request_hash: Hex;
  output_hash: Hex;
  prompt_tokens: number;
  completion_tokens: number;
  sampling: SamplingParams;
  trace_root: Hex;
  trace_steps: number;
  created_at: number;
}

export interface BatchInclusion {
  /**
   * A u64 from the bundle, unproven without a light-client section: a BigInt when above
   * `Number.MAX_SAFE_INTEGER` (any 64-bit integer of the claims is; all others are numbers).
   */
  batch_index: number | bigint;
  batch_root: Hex;
  batch_size: number;
  header_index: number;
}

export interface VerifiedStructure {
  receipt_hash: Hex;
  /** The header hash: the node signed it, and the GPU report carries it as its nonce. */
  header_hash: Hex;
  node_address: Hex;
  chain_id: number;
  sequence: number;
  receipts_root: Hex;
  receipt_index: number;
  receipt_count: number;
  /** Present when the bundle carried a rollup section and its audit path verified. */
  batch: BatchInclusion | null;
}

export type Finality =
  | { state: "provisional" }
  | { state: "in_window"; posted_at: Rfc3339; ends_at: Rfc3339 }
  | { state: "final"; since: Rfc3339 }
  | { state: "disputed" }
  | { state: "slashed"; slashed_wei: string };

export interface ProofClaim {
  circuit_id: Hex;
  public_inputs: number;
  /**
   * What the proof is about in this receipt's trace, when the bundle carries its statement
   * (absent: the proof is valid but not bound to this answer).
   */
  bound?: BoundClaim;
}

/** A spot-check proof bound to its answer: the step, unit and matrix it proves. */
export interface BoundClaim {
  /** The proved step's index in the receipt's trace, and its key. */
  step_index: number;
  step: { pos: number; stage: number; op: number };
  /** The matrix's name in the converted weights, e.g. `blk.0.ffn_down.weight`. */
  matrix: string;
  row_start: number;
  unit_rows: number;
  rows: number;
  /** The root the matrix commitment opens to (hex, no `0x`): compare with the registry's `poseidonRoot`, or pass `expectedMatrixRoot`. */
  matrix_root: Hex;
}

/** What a verified answer bundle proves (`verifyBundle`). */
export interface VerifiedBundle {
  receipt: Receipt;
  structure: VerifiedStructure;
  gpu: GpuClaims;
  proofs: ProofClaim[];
  finality: Finality;
  /** True when the request hash was compared with `expectedRequestHash`. */
  request_verified: boolean;
  /** True when the weights root was compared with `expectedWeightsRoot`. */
  model_verified: boolean;
  /** True when the sampling temperature was compared with `expectedTemperatureMilli`. */
  sampling_verified: boolean;
  /**
   * The trace's `PROMPT` leaf, when the bundle opens it (checked to be leaf 0 of the receipt's
   * trace): the text the prompt's tokens say (a dispute refutes a leaf whose tokens are not its
   * text) and the token count.
   */
  prompt?: { text: string; tokens: number };
  /** True when that text was compared with `expectedPrompt`. */
  prompt_verified: boolean;
  /** The stapled light-client section: absent, unverified (no `trustedCheckpoint`), or verified. */
  chain: ChainCheck;
}

export type ChainCheck =
  | { status: "absent" }
  | { status: "unverified" }
  | { status: "verified"; claims: ChainClaims };

/** What a stapled light-client section proved against the trusted checkpoint. */
export interface ChainClaims {
  chain_id: number;
  checkpoint_hash: Hex;
  checkpoint_number: number;
  /** The block whose state the storage proofs are against. */
  block_number: number;
  block_hash: Hex;
  block_timestamp: number;
  /** How many blocks the checkpoint is above the proven block. */
  confirmations: number;
  contract: Hex;
  batch_index: number;
  batch_root: Hex;
  /** Unix seconds of the posting block. */
  posted_at: number;
  posted_block: number | null;
  node?: Hex;
  header_count: number | null;
  challenge_window_secs: number;
  /** `posted_at + challenge_window_secs`. */
  window_end: number;
  /** The dispute state at the proven block. */
  dispute_state:
    | { state: "none" }
    | { state: "open" }
    | { state: "resolved_node_won" }
    | { state: "resolved_node_lost"; slashed_wei: string };
}

/** What a verified inclusion proof proves (`verifyInclusion`). */
export interface InclusionClaims {
  /** `SHA-256(0x00 || leaf)`, hex. */
  leaf_hash: Hex;
  index: number;
  size: number;
  root: Hex;
}

/** What a verified Groth16 proof proves (`verifyProof`). */
export interface ProofClaims {
  /** The key's id (`SHA-256("OTR/groth16-vk/v1\0" || compressed key)`): the circuit id bundles use. */
  key_id: Hex;
  /** Public inputs, decimal text (snarkjs `public.json` form). */
  public_inputs: string[];
}
