//! Phase 1 of the setup: a multi-party powers-of-tau ceremony (the Bowe–Gabizon–Miers
//! construction, as in the perpetual powers of tau and snarkjs `powersoftau`), and the
//! derivation of the circuit's initial Groth16 key from its result (`zk/README.md`, "Setup").
//!
//! **State** for size `n = 2^k`: `[tau^i]G1` for `i < 2n-1`, `[tau^i]G2`, `[alpha tau^i]G1`,
//! `[beta tau^i]G1` for `i < n`, and `[beta]G2`. It starts at `tau = alpha = beta = 1` (the
//! generators).
//!
//! **Contribution** `j`: the contributor draws `t, a, b` (OS randomness, zeroized after use),
//! multiplies `[tau^i] *= t^i`, `[alpha tau^i] *= a t^i`, `[beta tau^i] *= b t^i`,
//! `[beta]G2 *= b`, and publishes, for each secret `x` of `t, a, b`, a proof of knowledge
//! `x G1`, `x R_x` with
//! `R_x = hash_to_g2(SHA-256("OTR/zk/phase1-pok/v1\0" || h_{j-1} || which || x G1 || name))`,
//! the new `[tau]G1`, `[tau]G2`, `[alpha]G1`, `[beta]G1`, `[beta]G2`, the previous transcript
//! hash `h_{j-1}` and the SHA-256 of the new state. The transcript hash becomes
//! `h_j = SHA-256("OTR/zk/phase1/v1\0" || h_{j-1} || record)`, with
//! `h_0 = SHA-256("OTR/zk/phase1/v1\0" || u32le k)`.
//!
//! **Verification** ([`verify`]): each record names the hash it follows (a reordered or
//! dropped record fails, [`Phase1Fault::Chain`]); each proof of knowledge
//! `e(x G1, R_x) = e(G1, x R_x)` ([`Phase1Fault::Pok`]); each update is the previous value
//! times the proven secret: `e(tau_j, R_t) = e(tau_{j-1}, t R_t)` and likewise for alpha,
//! beta ([`Phase1Fault::Update`]); the state's leading elements are the last record's; and the
//! powers are consistent, by random linear combinations with 128-bit Fiat–Shamir coefficients
//! from the final state and transcript:
//! `e(sum rho_i [tau^{i+1}]G1 + ..alpha.. + ..beta.., G2) = e(sum rho_i [tau^i]G1 + .., [tau]G2)`
//! and `e(G1, sum rho_i [tau^{i+1}]G2) = e([tau]G1, sum rho_i [tau^i]G2)`
//! ([`Phase1Fault::Powers`]). As long as one contributor's secrets are unknown, `tau`,
//! `alpha` and `beta` are unknown.
//!
//! **Derivation** ([`derive_initial_key`]): the circuit's key with `gamma = delta = 1`, exactly
//! as `ark_groth16::Groth16::generate_parameters_with_qap` (libsnark reduction) would compute it
//! for these `tau, alpha, beta`: Lagrange bases `[L_i(tau)]` by an inverse FFT over the group
//! on the constraint system's radix-2 domain, the A/B/C queries as sums over the constraint
//! matrices (plus the input-consistency constraints `L_{m+i}` on A), the H-query
//! `[tau^i Z(tau)] = [tau^{i+n}] - [tau^i]` and the L-query. Phase 2 (`ceremony`) then
//! randomizes delta.

use std::io::{Read, Write};

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, VariableBaseMSM};
use ark_ff::{Field, One, PrimeField, UniformRand, Zero};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::r1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode,
};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use ark_std::rand::{CryptoRng, RngCore};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::ceremony::hash_to_g2;
use crate::error::ZkError;

/// Magic bytes of a phase-1 file.
pub const PHASE1_MAGIC: &[u8; 16] = b"OTR-ZK-PHASE1\0\0\0";
/// Version of the phase-1 file.
pub const PHASE1_VERSION: u32 = 1;
/// Tag of the phase-1 transcript hash.
pub const PHASE1_TRANSCRIPT_TAG: &[u8] = b"OTR/zk/phase1/v1\0";
/// Tag of the phase-1 proof-of-knowledge base points.
pub const PHASE1_POK_TAG: &[u8] = b"OTR/zk/phase1-pok/v1\0";
/// Largest size (`log2 n`) a phase-1 file may have (bounds file sizes: about 400 MB).
pub const MAX_LOG_SIZE: u32 = 20;
/// Longest contributor name.
pub const MAX_NAME: usize = 128;
/// Most contributions in one transcript.
pub const MAX_CONTRIBUTIONS: usize = 1024;

const G1_LEN: usize = 64;
const G2_LEN: usize = 128;
const POK_LEN: usize = G1_LEN + G2_LEN;
const CHUNK: usize = 1 << 14;

/// Why a phase-1 file or transcript is rejected; each kind has its own stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase1Fault {
    /// Not a phase-1 file, wrong version, bad point encoding, out-of-bound sizes.
    Format,
    /// The file ends early.
    Truncated,
    /// A record does not follow the previous one (reordered, dropped or inserted).
    Chain,
    /// A proof of knowledge fails.
    Pok,
    /// A record's new value is not the previous one times the proven secret.
    Update,
    /// The powers are not consistent powers of the transcript's secrets.
    Powers,
}

impl Phase1Fault {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            Phase1Fault::Format => "ZK_PHASE1_FORMAT",
            Phase1Fault::Truncated => "ZK_PHASE1_TRUNCATED",
            Phase1Fault::Chain => "ZK_PHASE1_CHAIN",
            Phase1Fault::Pok => "ZK_PHASE1_POK",
            Phase1Fault::Update => "ZK_PHASE1_UPDATE",
            Phase1Fault::Powers => "ZK_PHASE1_POWERS",
        }
    }
}

fn fault(f: Phase1Fault, m: impl Into<String>) -> ZkError {
    ZkError::Phase1(f, m.into())
}

/// A proof of knowledge of a secret `x`: `x G1` and `x R`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pok {
    pub s_g1: G1Affine,
    pub r_g2: G2Affine,
}

/// One contribution's public record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phase1Contribution {
    /// Free text chosen by the contributor (UTF-8, at most 128 bytes).
    pub name: String,
    /// The transcript hash this contribution follows.
    pub prev_hash: [u8; 32],
    /// Proofs of knowledge of the tau, alpha and beta factors.
    pub tau_pok: Pok,
    pub alpha_pok: Pok,
    pub beta_pok: Pok,
    /// `[tau]G1`, `[tau]G2`, `[alpha]G1`, `[beta]G1`, `[beta]G2` after the contribution.
    pub tau_g1: G1Affine,
    pub tau_g2: G2Affine,
    pub alpha_g1: G1Affine,
    pub beta_g1: G1Affine,
    pub beta_g2: G2Affine,
    /// SHA-256 of the state after the contribution ([`Powers::hash`]).
    pub state_hash: [u8; 32],
}

fn ser<T: CanonicalSerialize>(b: &mut Vec<u8>, p: &T) {
    let _ = p.serialize_uncompressed(b);
}

impl Phase1Contribution {
    fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&(self.name.len() as u16).to_le_bytes());
        b.extend_from_slice(self.name.as_bytes());
        b.extend_from_slice(&self.prev_hash);
        for p in [&self.tau_pok, &self.alpha_pok, &self.beta_pok] {
            ser(&mut b, &p.s_g1);
            ser(&mut b, &p.r_g2);
        }
        ser(&mut b, &self.tau_g1);
        ser(&mut b, &self.tau_g2);
        ser(&mut b, &self.alpha_g1);
        ser(&mut b, &self.beta_g1);
        ser(&mut b, &self.beta_g2);
        b.extend_from_slice(&self.state_hash);
        b
    }
}

/// The powers of tau.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Powers {
    /// `log2 n`.
    pub log_n: u32,
    /// `[tau^i]G1`, `i < 2n-1`.
    pub tau_g1: Vec<G1Affine>,
    /// `[tau^i]G2`, `i < n`.
    pub tau_g2: Vec<G2Affine>,
    /// `[alpha tau^i]G1`, `i < n`.
    pub alpha_g1: Vec<G1Affine>,
    /// `[beta tau^i]G1`, `i < n`.
    pub beta_g1: Vec<G1Affine>,
    /// `[beta]G2`.
    pub beta_g2: G2Affine,
}

fn g1_bytes(points: &[G1Affine]) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = points
        .par_chunks(CHUNK)
        .map(|c| {
            let mut b = Vec::with_capacity(c.len() * G1_LEN);
            for p in c {
                ser(&mut b, p);
            }
            b
        })
        .collect();
    parts.concat()
}

fn g2_bytes(points: &[G2Affine]) -> Vec<u8> {
    let parts: Vec<Vec<u8>> = points
        .par_chunks(CHUNK)
        .map(|c| {
            let mut b = Vec::with_capacity(c.len() * G2_LEN);
            for p in c {
                ser(&mut b, p);
            }
            b
        })
        .collect();
    parts.concat()
}

impl Powers {
    /// The starting state of size `2^log_n` (all secrets 1).
    pub fn new(log_n: u32) -> Result<Powers, ZkError> {
        if log_n == 0 || log_n > MAX_LOG_SIZE {
            return Err(fault(
                Phase1Fault::Format,
                format!("size 2^{log_n} out of range 2^1..2^{MAX_LOG_SIZE}"),
            ));
        }
        let n = 1usize << log_n;
        let g1 = G1Affine::generator();
        let g2 = G2Affine::generator();
        Ok(Powers {
            log_n,
            tau_g1: vec![g1; 2 * n - 1],
            tau_g2: vec![g2; n],
            alpha_g1: vec![g1; n],
            beta_g1: vec![g1; n],
            beta_g2: g2,
        })
    }

    /// `n`.
    pub fn size(&self) -> usize {
        1 << self.log_n
    }

    /// SHA-256 of the state as the file stores it.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.log_n.to_le_bytes());
        h.update(g1_bytes(&self.tau_g1));
        h.update(g2_bytes(&self.tau_g2));
        h.update(g1_bytes(&self.alpha_g1));
        h.update(g1_bytes(&self.beta_g1));
        let mut b = Vec::new();
        ser(&mut b, &self.beta_g2);
        h.update(b);
        h.finalize().into()
    }

    fn lengths_ok(&self) -> bool {
        let n = self.size();
        self.tau_g1.len() == 2 * n - 1
            && self.tau_g2.len() == n
            && self.alpha_g1.len() == n
            && self.beta_g1.len() == n
    }
}

/// A phase-1 ceremony: the transcript and the current powers.
#[derive(Clone, Debug)]
pub struct Phase1 {
    pub powers: Powers,
    pub contributions: Vec<Phase1Contribution>,
}

/// What a successful [`verify`] established.
#[derive(Clone, Debug)]
#[allow(clippy::manual_non_exhaustive)]
pub struct VerifiedPhase1 {
    /// `log2 n`.
    pub log_n: u32,
    /// Names of the contributors, in order, with the transcript hash after each.
    pub contributors: Vec<(String, [u8; 32])>,
    /// Final transcript hash (phase 2 binds to it).
    pub transcript_hash: [u8; 32],
    _sealed: (),
}

/// `h_0`.
pub fn transcript_start(log_n: u32) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(PHASE1_TRANSCRIPT_TAG);
    h.update(log_n.to_le_bytes());
    h.finalize().into()
}

fn next_hash(prev: &[u8; 32], c: &Phase1Contribution) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(PHASE1_TRANSCRIPT_TAG);
    h.update(prev);
    h.update(c.bytes());
    h.finalize().into()
}

/// `R_x` for the secret `which` (`b't'`, `b'a'`, `b'b'`) of a contribution after `prev`.
pub fn pok_base(prev: &[u8; 32], which: u8, s_g1: &G1Affine, name: &str) -> G2Affine {
    let mut h = Sha256::new();
    h.update(PHASE1_POK_TAG);
    h.update(prev);
    h.update([which]);
    let mut b = Vec::new();
    ser(&mut b, s_g1);
    h.update(b);
    h.update(name.as_bytes());
    hash_to_g2(&h.finalize().into())
}

/// `start * x^i` for `i` in `0..len`, in parallel chunks.
fn scalar_powers(x: Fr, start: Fr, len: usize) -> Vec<Fr> {
    let mut out = vec![Fr::zero(); len];
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, part)| {
        let mut acc = start * x.pow([(c * CHUNK) as u64]);
        for v in part {
            *v = acc;
            acc *= x;
        }
    });
    out
}

fn scale_g1(points: &mut [G1Affine], scalars: &[Fr]) {
    let proj: Vec<G1Projective> = points
        .par_iter()
        .zip(scalars)
        .map(|(p, s)| p.mul_bigint(s.into_bigint()))
        .collect();
    points.copy_from_slice(&G1Projective::normalize_batch(&proj));
}

fn scale_g2(points: &mut [G2Affine], scalars: &[Fr]) {
    let proj: Vec<G2Projective> = points
        .par_iter()
        .zip(scalars)
        .map(|(p, s)| p.mul_bigint(s.into_bigint()))
        .collect();
    points.copy_from_slice(&G2Projective::normalize_batch(&proj));
}

/// A progress callback: (what, done, total).
pub type Progress<'a> = &'a (dyn Fn(&str, usize, usize) + Sync);

fn scale_g1_progress(points: &mut [G1Affine], x: Fr, start: Fr, what: &str, progress: Progress) {
    let total = points.len();
    let step = CHUNK * 8;
    for (c, part) in points.chunks_mut(step).enumerate() {
        let mut s = scalar_powers(x, start * x.pow([(c * step) as u64]), part.len());
        scale_g1(part, &s);
        s.zeroize();
        progress(what, (c * step + part.len()).min(total), total);
    }
}

fn scale_g2_progress(points: &mut [G2Affine], x: Fr, what: &str, progress: Progress) {
    let total = points.len();
    let step = CHUNK * 4;
    for (c, part) in points.chunks_mut(step).enumerate() {
        let mut s = scalar_powers(x, x.pow([(c * step) as u64]), part.len());
        scale_g2(part, &s);
        s.zeroize();
        progress(what, (c * step + part.len()).min(total), total);
    }
}

fn nonzero<R: RngCore + CryptoRng>(rng: &mut R) -> Fr {
    loop {
        let x = Fr::rand(rng);
        if !x.is_zero() {
            return x;
        }
    }
}

fn no_progress(_: &str, _: usize, _: usize) {}

impl Phase1 {
    /// A new ceremony of size `2^log_n`.
    pub fn init(log_n: u32) -> Result<Phase1, ZkError> {
        Ok(Phase1 {
            powers: Powers::new(log_n)?,
            contributions: Vec::new(),
        })
    }

    /// The smallest `log2 n` that holds a circuit with this many constraints plus inputs.
    pub fn log_size_for(constraints_plus_inputs: usize) -> u32 {
        constraints_plus_inputs
            .max(2)
            .next_power_of_two()
            .trailing_zeros()
    }

    /// The current transcript hash.
    pub fn transcript_hash(&self) -> [u8; 32] {
        self.contributions
            .iter()
            .fold(transcript_start(self.powers.log_n), |h, c| next_hash(&h, c))
    }

    /// Adds a contribution with fresh secrets from `rng` (which the caller then drops).
    pub fn contribute<R: RngCore + CryptoRng>(
        &mut self,
        name: &str,
        rng: &mut R,
        progress: Option<Progress>,
    ) -> Result<&Phase1Contribution, ZkError> {
        let mut t = nonzero(rng);
        let mut a = nonzero(rng);
        let mut b = nonzero(rng);
        let r = self.apply(name, t, a, b, progress.unwrap_or(&no_progress));
        t.zeroize();
        a.zeroize();
        b.zeroize();
        r
    }

    /// A contribution with the given secrets. Only for tests that compare the derived key with
    /// arkworks' own generator for known toxic waste: a real contribution uses
    /// [`Phase1::contribute`].
    #[doc(hidden)]
    pub fn contribute_known_secrets_for_tests(
        &mut self,
        name: &str,
        tau: Fr,
        alpha: Fr,
        beta: Fr,
    ) -> Result<&Phase1Contribution, ZkError> {
        self.apply(name, tau, alpha, beta, &no_progress)
    }

    fn apply(
        &mut self,
        name: &str,
        t: Fr,
        a: Fr,
        b: Fr,
        progress: Progress,
    ) -> Result<&Phase1Contribution, ZkError> {
        if name.len() > MAX_NAME {
            return Err(fault(
                Phase1Fault::Format,
                format!("contributor name longer than {MAX_NAME} bytes"),
            ));
        }
        if self.contributions.len() >= MAX_CONTRIBUTIONS {
            return Err(fault(Phase1Fault::Format, "too many contributions"));
        }
        if t.is_zero() || a.is_zero() || b.is_zero() {
            return Err(fault(Phase1Fault::Format, "a secret is zero"));
        }
        let prev = self.transcript_hash();
        let pok = |x: Fr, which: u8| {
            let s_g1 = (G1Affine::generator() * x).into_affine();
            let r_g2 = (pok_base(&prev, which, &s_g1, name) * x).into_affine();
            Pok { s_g1, r_g2 }
        };
        let (tau_pok, alpha_pok, beta_pok) = (pok(t, b't'), pok(a, b'a'), pok(b, b'b'));
        let p = &mut self.powers;
        scale_g1_progress(&mut p.tau_g1, t, Fr::one(), "tau G1", progress);
        scale_g2_progress(&mut p.tau_g2, t, "tau G2", progress);
        scale_g1_progress(&mut p.alpha_g1, t, a, "alpha tau G1", progress);
        scale_g1_progress(&mut p.beta_g1, t, b, "beta tau G1", progress);
        p.beta_g2 = (p.beta_g2 * b).into_affine();
        let state_hash = p.hash();
        self.contributions.push(Phase1Contribution {
            name: name.to_string(),
            prev_hash: prev,
            tau_pok,
            alpha_pok,
            beta_pok,
            tau_g1: p.tau_g1[1],
            tau_g2: p.tau_g2[1],
            alpha_g1: p.alpha_g1[0],
            beta_g1: p.beta_g1[0],
            beta_g2: p.beta_g2,
            state_hash,
        });
        Ok(self.contributions.last().expect("just pushed"))
    }

    /// Writes the file: magic, `u32le` version, `u32le log2 n`, `u32le` count, the records
    /// (`u16le` name length, name, previous hash, 3 x (`s_g1`, `r_g2`), `tau_g1`, `tau_g2`,
    /// `alpha_g1`, `beta_g1`, `beta_g2`, state hash), then the powers (`tau_g1`, `tau_g2`,
    /// `alpha_g1`, `beta_g1`, `beta_g2`); points uncompressed (arkworks).
    pub fn write(&self, out: &mut impl Write) -> Result<(), ZkError> {
        let io = |e: std::io::Error| ZkError::Io(e.to_string());
        out.write_all(PHASE1_MAGIC).map_err(io)?;
        out.write_all(&PHASE1_VERSION.to_le_bytes()).map_err(io)?;
        out.write_all(&self.powers.log_n.to_le_bytes())
            .map_err(io)?;
        out.write_all(&(self.contributions.len() as u32).to_le_bytes())
            .map_err(io)?;
        for c in &self.contributions {
            out.write_all(&c.bytes()).map_err(io)?;
        }
        let p = &self.powers;
        out.write_all(&g1_bytes(&p.tau_g1)).map_err(io)?;
        out.write_all(&g2_bytes(&p.tau_g2)).map_err(io)?;
        out.write_all(&g1_bytes(&p.alpha_g1)).map_err(io)?;
        out.write_all(&g1_bytes(&p.beta_g1)).map_err(io)?;
        let mut b = Vec::new();
        ser(&mut b, &p.beta_g2);
        out.write_all(&b).map_err(io)
    }

    /// Reads a phase-1 file; every point is checked to be on the curve and in its subgroup.
    /// Never panics on hostile input; memory grows only with the bytes actually present.
    pub fn read(input: &mut impl Read) -> Result<Phase1, ZkError> {
        let fmt = |m: &str| fault(Phase1Fault::Format, m);
        let mut take = |n: usize| -> Result<Vec<u8>, ZkError> {
            let mut b = Vec::new();
            input
                .take(n as u64)
                .read_to_end(&mut b)
                .map_err(|e| ZkError::Io(e.to_string()))?;
            if b.len() != n {
                return Err(fault(Phase1Fault::Truncated, "the file ends early"));
            }
            Ok(b)
        };
        if take(16)? != PHASE1_MAGIC {
            return Err(fmt("not a phase-1 file (magic)"));
        }
        if take(4)? != PHASE1_VERSION.to_le_bytes() {
            return Err(fmt("unsupported version"));
        }
        let u32le = |b: Vec<u8>| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let log_n = u32le(take(4)?);
        if log_n == 0 || log_n > MAX_LOG_SIZE {
            return Err(fmt("size out of range"));
        }
        let count = u32le(take(4)?) as usize;
        if count > MAX_CONTRIBUTIONS {
            return Err(fmt("too many contributions"));
        }
        let g1 = |b: &[u8], what: &str| {
            G1Affine::deserialize_with_mode(b, Compress::No, Validate::Yes)
                .map_err(|_| fmt(&format!("{what} is not a valid G1 point")))
        };
        let g2 = |b: &[u8], what: &str| {
            G2Affine::deserialize_with_mode(b, Compress::No, Validate::Yes)
                .map_err(|_| fmt(&format!("{what} is not a valid G2 point")))
        };
        let mut contributions = Vec::with_capacity(count.min(16));
        for _ in 0..count {
            let l = take(2)?;
            let len = u16::from_le_bytes([l[0], l[1]]) as usize;
            if len > MAX_NAME {
                return Err(fmt("contributor name too long"));
            }
            let name = String::from_utf8(take(len)?).map_err(|_| fmt("name is not UTF-8"))?;
            let prev_hash: [u8; 32] = take(32)?.try_into().expect("32 bytes");
            let mut poks = Vec::with_capacity(3);
            for _ in 0..3 {
                let b = take(POK_LEN)?;
                poks.push(Pok {
                    s_g1: g1(&b[..G1_LEN], "s_g1")?,
                    r_g2: g2(&b[G1_LEN..], "r_g2")?,
                });
            }
            let b = take(3 * G1_LEN + 2 * G2_LEN)?;
            let tau_g1 = g1(&b[..64], "tau_g1")?;
            let tau_g2 = g2(&b[64..192], "tau_g2")?;
            let alpha_g1 = g1(&b[192..256], "alpha_g1")?;
            let beta_g1 = g1(&b[256..320], "beta_g1")?;
            let beta_g2 = g2(&b[320..448], "beta_g2")?;
            let state_hash: [u8; 32] = take(32)?.try_into().expect("32 bytes");
            contributions.push(Phase1Contribution {
                name,
                prev_hash,
                tau_pok: poks[0],
                alpha_pok: poks[1],
                beta_pok: poks[2],
                tau_g1,
                tau_g2,
                alpha_g1,
                beta_g1,
                beta_g2,
                state_hash,
            });
        }
        let n = 1usize << log_n;
        let g1s = |b: Vec<u8>, what: &str| -> Result<Vec<G1Affine>, ZkError> {
            b.par_chunks(G1_LEN)
                .map(|c| g1(c, what))
                .collect::<Result<Vec<_>, _>>()
        };
        let tau_g1 = g1s(take((2 * n - 1) * G1_LEN)?, "a tau G1 power")?;
        let tau_g2 = take(n * G2_LEN)?
            .par_chunks(G2_LEN)
            .map(|c| g2(c, "a tau G2 power"))
            .collect::<Result<Vec<_>, _>>()?;
        let alpha_g1 = g1s(take(n * G1_LEN)?, "an alpha power")?;
        let beta_g1 = g1s(take(n * G1_LEN)?, "a beta power")?;
        let beta_g2 = g2(&take(G2_LEN)?, "beta_g2")?;
        let mut rest = [0u8; 1];
        if input
            .read(&mut rest)
            .map_err(|e| ZkError::Io(e.to_string()))?
            != 0
        {
            return Err(fmt("trailing bytes after the powers"));
        }
        Ok(Phase1 {
            powers: Powers {
                log_n,
                tau_g1,
                tau_g2,
                alpha_g1,
                beta_g1,
                beta_g2,
            },
            contributions,
        })
    }
}

fn pairing_eq(a: G1Affine, b: G2Affine, c: G1Affine, d: G2Affine) -> bool {
    Bn254::multi_pairing([a, -c], [b, d]).is_zero()
}

fn rho(rng: &mut ChaCha20Rng, n: usize) -> Vec<Fr> {
    (0..n)
        .map(|_| {
            let mut x = [0u8; 16];
            rand_chacha::rand_core::RngCore::fill_bytes(rng, &mut x);
            Fr::from(u128::from_le_bytes(x))
        })
        .collect()
}

/// Verifies a phase-1 transcript and its powers (module docs).
pub fn verify(p: &Phase1) -> Result<VerifiedPhase1, ZkError> {
    let w = &p.powers;
    if !w.lengths_ok() {
        return Err(fault(
            Phase1Fault::Format,
            "power vectors have the wrong length",
        ));
    }
    let g1 = G1Affine::generator();
    let g2 = G2Affine::generator();
    let mut h = transcript_start(w.log_n);
    let (mut tau, mut alpha, mut beta) = (g1, g1, g1);
    let mut contributors = Vec::new();
    for (j, c) in p.contributions.iter().enumerate() {
        let who = format!("contribution {j} ({:?})", c.name);
        if c.prev_hash != h {
            return Err(fault(
                Phase1Fault::Chain,
                format!("{who} does not follow the transcript so far (reordered or dropped)"),
            ));
        }
        let pts_g1 = [c.tau_g1, c.alpha_g1, c.beta_g1];
        if pts_g1.iter().any(|x| x.is_zero()) || c.tau_g2.is_zero() || c.beta_g2.is_zero() {
            return Err(fault(
                Phase1Fault::Update,
                format!("{who} has a point at infinity"),
            ));
        }
        let mut bases = Vec::with_capacity(3);
        for (which, k) in [
            (b't', &c.tau_pok),
            (b'a', &c.alpha_pok),
            (b'b', &c.beta_pok),
        ] {
            if k.s_g1.is_zero() || k.r_g2.is_zero() {
                return Err(fault(Phase1Fault::Pok, format!("{who}: a zero secret")));
            }
            let r = pok_base(&h, which, &k.s_g1, &c.name);
            if !pairing_eq(k.s_g1, r, g1, k.r_g2) {
                return Err(fault(
                    Phase1Fault::Pok,
                    format!("{who}: the proof of knowledge of {} fails", which as char),
                ));
            }
            bases.push(r);
        }
        let upd = |new: G1Affine, old: G1Affine, r: G2Affine, k: &Pok, what: &str| {
            if pairing_eq(new, r, old, k.r_g2) {
                Ok(())
            } else {
                Err(fault(
                    Phase1Fault::Update,
                    format!("{who}: {what} is not the previous one times the proven secret"),
                ))
            }
        };
        upd(c.tau_g1, tau, bases[0], &c.tau_pok, "[tau]G1")?;
        upd(c.alpha_g1, alpha, bases[1], &c.alpha_pok, "[alpha]G1")?;
        upd(c.beta_g1, beta, bases[2], &c.beta_pok, "[beta]G1")?;
        if !pairing_eq(c.tau_g1, g2, g1, c.tau_g2) || !pairing_eq(c.beta_g1, g2, g1, c.beta_g2) {
            return Err(fault(
                Phase1Fault::Update,
                format!("{who}: its G2 elements differ from its G1 elements"),
            ));
        }
        tau = c.tau_g1;
        alpha = c.alpha_g1;
        beta = c.beta_g1;
        h = next_hash(&h, c);
        contributors.push((c.name.clone(), h));
    }
    // The state's leading elements are the last record's (or the generators).
    let lead_ok = match p.contributions.last() {
        Some(c) => {
            w.tau_g1[1] == c.tau_g1
                && w.tau_g2[1] == c.tau_g2
                && w.alpha_g1[0] == c.alpha_g1
                && w.beta_g1[0] == c.beta_g1
                && w.beta_g2 == c.beta_g2
        }
        None => w.tau_g1[1] == g1 && w.alpha_g1[0] == g1 && w.beta_g1[0] == g1 && w.beta_g2 == g2,
    };
    if !lead_ok {
        return Err(fault(
            Phase1Fault::Chain,
            "the powers are not the last contribution's output (a contribution is missing)",
        ));
    }
    if w.tau_g1[0] != g1 || w.tau_g2[0] != g2 {
        return Err(fault(Phase1Fault::Powers, "tau^0 is not the generator"));
    }
    if w.tau_g1.par_iter().any(|x| x.is_zero())
        || w.alpha_g1.par_iter().any(|x| x.is_zero())
        || w.beta_g1.par_iter().any(|x| x.is_zero())
        || w.tau_g2.par_iter().any(|x| x.is_zero())
    {
        return Err(fault(
            Phase1Fault::Powers,
            "a power is the point at infinity",
        ));
    }
    let state_hash = w.hash();
    if let Some(c) = p.contributions.last() {
        if c.state_hash != state_hash {
            // Checked after the powers below would report the same; keep the specific reason.
            powers_consistent(w, &h, &state_hash)?;
            return Err(fault(
                Phase1Fault::Powers,
                "the powers differ from those the last contributor published",
            ));
        }
    }
    powers_consistent(w, &h, &state_hash)?;
    Ok(VerifiedPhase1 {
        log_n: w.log_n,
        contributors,
        transcript_hash: h,
        _sealed: (),
    })
}

fn powers_consistent(w: &Powers, h: &[u8; 32], state_hash: &[u8; 32]) -> Result<(), ZkError> {
    let g1 = G1Affine::generator();
    let g2 = G2Affine::generator();
    let mut seed = Sha256::new();
    seed.update(b"OTR/zk/phase1-rlc/v1\0");
    seed.update(h);
    seed.update(state_hash);
    let mut rng = ChaCha20Rng::from_seed(seed.finalize().into());
    let n = w.size();
    let bad = || {
        fault(
            Phase1Fault::Powers,
            "the powers are not consistent powers of one tau (random linear combination)",
        )
    };
    // G1: tau, alpha tau, beta tau, each i -> i+1, against [tau]G2.
    let rt = rho(&mut rng, 2 * n - 2);
    let ra = rho(&mut rng, n - 1);
    let rb = rho(&mut rng, n - 1);
    let hi: Vec<G1Affine> = w.tau_g1[1..]
        .iter()
        .chain(&w.alpha_g1[1..])
        .chain(&w.beta_g1[1..])
        .copied()
        .collect();
    let lo: Vec<G1Affine> = w.tau_g1[..2 * n - 2]
        .iter()
        .chain(&w.alpha_g1[..n - 1])
        .chain(&w.beta_g1[..n - 1])
        .copied()
        .collect();
    let r: Vec<Fr> = rt.into_iter().chain(ra).chain(rb).collect();
    let a = G1Projective::msm(&hi, &r).map_err(|_| bad())?.into_affine();
    let b = G1Projective::msm(&lo, &r).map_err(|_| bad())?.into_affine();
    if !pairing_eq(a, g2, b, w.tau_g2[1]) {
        return Err(bad());
    }
    // G2: tau powers against [tau]G1.
    let r2 = rho(&mut rng, n - 1);
    let a2 = G2Projective::msm(&w.tau_g2[1..], &r2)
        .map_err(|_| bad())?
        .into_affine();
    let b2 = G2Projective::msm(&w.tau_g2[..n - 1], &r2)
        .map_err(|_| bad())?
        .into_affine();
    if !pairing_eq(g1, a2, w.tau_g1[1], b2) {
        return Err(bad());
    }
    if !pairing_eq(w.beta_g1[0], g2, g1, w.beta_g2) {
        return Err(fault(Phase1Fault::Powers, "[beta]G1 and [beta]G2 differ"));
    }
    Ok(())
}

/// `constraints + inputs` of a circuit (what sizes its domain).
pub fn constraints_plus_inputs<C: ConstraintSynthesizer<Fr>>(circuit: C) -> Result<usize, ZkError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    Ok(cs.num_constraints() + cs.num_instance_variables())
}

/// Sparse sum `sum c_j P[j]` in G1 or G2 (with the `1` coefficients added directly; an MSM
/// for long sums).
fn lc<G: CurveGroup<ScalarField = Fr> + VariableBaseMSM>(
    terms: &[(Fr, usize)],
    bases: &[G::Affine],
) -> G {
    if terms.len() > 64 {
        let (s, b): (Vec<Fr>, Vec<G::Affine>) = terms.iter().map(|(c, j)| (*c, bases[*j])).unzip();
        return G::msm_unchecked(&b, &s);
    }
    let mut acc = G::zero();
    for (c, j) in terms {
        if c.is_one() {
            acc += bases[*j];
        } else {
            acc += bases[*j].mul_bigint(c.into_bigint());
        }
    }
    acc
}

fn lc_g1(terms: &[(Fr, usize)], bases: &[G1Affine]) -> G1Projective {
    lc(terms, bases)
}

fn lc_g2(terms: &[(Fr, usize)], bases: &[G2Affine]) -> G2Projective {
    lc(terms, bases)
}

/// The circuit's initial Groth16 key (`gamma = delta = 1`) from verified phase-1 powers: what
/// `Groth16::generate_parameters_with_qap(circuit, alpha, beta, 1, 1, G1, G2, _)` returns when
/// its sampled evaluation point is `tau` (module docs). The powers must be verified first.
pub fn derive_initial_key<C: ConstraintSynthesizer<Fr>>(
    powers: &Powers,
    circuit: C,
    progress: Option<Progress>,
) -> Result<ProvingKey<Bn254>, ZkError> {
    let progress = progress.unwrap_or(&no_progress);
    if !powers.lengths_ok() {
        return Err(fault(
            Phase1Fault::Format,
            "power vectors have the wrong length",
        ));
    }
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    let m = cs
        .to_matrices()
        .ok_or_else(|| ZkError::Synthesis("no constraint matrices".into()))?;
    let nc = cs.num_constraints();
    let ni = cs.num_instance_variables();
    let nv = ni + cs.num_witness_variables();
    let domain = GeneralEvaluationDomain::<Fr>::new(nc + ni)
        .ok_or_else(|| ZkError::Synthesis("constraint system too large for a domain".into()))?;
    let n = domain.size();
    if n > powers.size() {
        return Err(ZkError::Shape(format!(
            "the circuit needs phase-1 size {n} (constraints + inputs = {}), the file has {}",
            nc + ni,
            powers.size()
        )));
    }
    // Lagrange bases [L_i(tau)] = IFFT of [tau^j], j < n (in G1, alpha G1, beta G1, G2).
    let lag_g1 = |src: &[G1Affine], what: &str| -> Vec<G1Affine> {
        progress(what, 0, 1);
        let v: Vec<G1Projective> = src[..n].par_iter().map(|p| p.into_group()).collect();
        let out = G1Projective::normalize_batch(&domain.ifft(&v));
        progress(what, 1, 1);
        out
    };
    let l1 = lag_g1(&powers.tau_g1, "Lagrange basis [L_i(tau)]G1");
    let la = lag_g1(&powers.alpha_g1, "Lagrange basis [alpha L_i(tau)]G1");
    let lb = lag_g1(&powers.beta_g1, "Lagrange basis [beta L_i(tau)]G1");
    progress("Lagrange basis [L_i(tau)]G2", 0, 1);
    let v2: Vec<G2Projective> = powers.tau_g2[..n]
        .par_iter()
        .map(|p| p.into_group())
        .collect();
    let l2 = G2Projective::normalize_batch(&domain.ifft(&v2));
    drop(v2);
    progress("Lagrange basis [L_i(tau)]G2", 1, 1);
    // Columns of A, B, C: for each variable, its (coefficient, constraint) terms.
    let mut ca: Vec<Vec<(Fr, usize)>> = vec![Vec::new(); nv];
    let mut cb: Vec<Vec<(Fr, usize)>> = vec![Vec::new(); nv];
    let mut cc: Vec<Vec<(Fr, usize)>> = vec![Vec::new(); nv];
    for (mat, cols) in [(&m.a, &mut ca), (&m.b, &mut cb), (&m.c, &mut cc)] {
        for (row, terms) in mat.iter().enumerate().take(nc) {
            for (coeff, var) in terms {
                if *var >= nv {
                    return Err(ZkError::Synthesis("variable index out of range".into()));
                }
                cols[*var].push((*coeff, row));
            }
        }
    }
    // Input-consistency constraints: a_i += L_{nc+i} for the instance variables.
    for (i, col) in ca.iter_mut().enumerate().take(ni) {
        col.push((Fr::one(), nc + i));
    }
    progress("A, B, C, L queries", 0, nv);
    let a_q: Vec<G1Projective> = (0..nv)
        .into_par_iter()
        .map(|k| lc_g1(&ca[k], &l1))
        .collect();
    let b1_q: Vec<G1Projective> = (0..nv)
        .into_par_iter()
        .map(|k| lc_g1(&cb[k], &l1))
        .collect();
    let b2_q: Vec<G2Projective> = (0..nv)
        .into_par_iter()
        .map(|k| lc_g2(&cb[k], &l2))
        .collect();
    // beta A_k + alpha B_k + C_k.
    let abc: Vec<G1Projective> = (0..nv)
        .into_par_iter()
        .map(|k| lc_g1(&ca[k], &lb) + lc_g1(&cb[k], &la) + lc_g1(&cc[k], &l1))
        .collect();
    progress("A, B, C, L queries", nv, nv);
    // H: [tau^i Z(tau)] = [tau^{i+n}] - [tau^i], i < n-1.
    let h_q: Vec<G1Projective> = (0..n - 1)
        .into_par_iter()
        .map(|i| powers.tau_g1[i + n].into_group() - powers.tau_g1[i])
        .collect();
    let abc = G1Projective::normalize_batch(&abc);
    let vk = VerifyingKey::<Bn254> {
        alpha_g1: powers.alpha_g1[0],
        beta_g2: powers.beta_g2,
        gamma_g2: G2Affine::generator(),
        delta_g2: G2Affine::generator(),
        gamma_abc_g1: abc[..ni].to_vec(),
    };
    Ok(ProvingKey {
        vk,
        beta_g1: powers.beta_g1[0],
        delta_g1: G1Affine::generator(),
        a_query: G1Projective::normalize_batch(&a_q),
        b_g1_query: G1Projective::normalize_batch(&b1_q),
        b_g2_query: G2Projective::normalize_batch(&b2_q),
        h_query: G1Projective::normalize_batch(&h_q),
        l_query: abc[ni..].to_vec(),
    })
}
