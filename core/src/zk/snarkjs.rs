//! snarkjs JSON forms (`verification_key.json`, `proof.json`, `public.json`) for Groth16 on
//! BN254 (`bn128` in snarkjs).
//!
//! Numbers are canonical decimal strings (digits only, no leading zeros, below the field
//! modulus). Points are affine with a unit third coordinate: G1 `["x", "y", "1"]`, G2
//! `[["x.c0", "x.c1"], ["y.c0", "y.c1"], ["1", "0"]]` (real part first, as snarkjs writes it;
//! the Solidity calldata form swaps them, this one does not). Points at infinity are rejected.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use ark_bn254::{Bn254, Fq, Fq2, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInt, PrimeField};
use ark_groth16::{Proof, VerifyingKey};
use serde::Deserialize;

use super::groth16::{Groth16Proof, PreparedVk};
use super::{ProofError, MAX_JSON_LEN, MAX_PUBLIC_INPUTS};

/// A canonical decimal string as a 256-bit integer (little-endian limbs).
fn parse_decimal(s: &str) -> Option<BigInt<4>> {
    let canonical = !s.is_empty()
        && s.len() <= 78
        && s.bytes().all(|c| c.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !canonical {
        return None;
    }
    let mut limbs = [0u64; 4];
    for d in s.bytes() {
        let mut carry = (d - b'0') as u128;
        for l in limbs.iter_mut() {
            let v = (*l as u128) * 10 + carry;
            *l = v as u64;
            carry = v >> 64;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(BigInt::new(limbs))
}

fn fq(s: &str, what: &dyn Fn() -> String) -> Result<Fq, ProofError> {
    parse_decimal(s).and_then(Fq::from_bigint).ok_or_else(|| {
        ProofError::Json(format!(
            "{}: {s:?} is not a canonical base-field decimal",
            what()
        ))
    })
}

fn invalid(what: &dyn Fn() -> String) -> ProofError {
    ProofError::PointInvalid {
        what: what(),
        offset: None,
    }
}

fn g1(v: &[String], what: &dyn Fn() -> String) -> Result<G1Affine, ProofError> {
    let [x, y, z] = v else {
        return Err(ProofError::Json(format!("{}: expected [x, y, z]", what())));
    };
    if z != "1" {
        return Err(invalid(what));
    }
    let p = G1Affine::new_unchecked(fq(x, what)?, fq(y, what)?);
    if !p.is_on_curve() || !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(invalid(what));
    }
    Ok(p)
}

fn g2(v: &[Vec<String>], what: &dyn Fn() -> String) -> Result<G2Affine, ProofError> {
    let shape = || {
        ProofError::Json(format!(
            "{}: expected [[x0, x1], [y0, y1], [z0, z1]]",
            what()
        ))
    };
    let [x, y, z] = v else { return Err(shape()) };
    let ([x0, x1], [y0, y1], [z0, z1]) = (x.as_slice(), y.as_slice(), z.as_slice()) else {
        return Err(shape());
    };
    if z0 != "1" || z1 != "0" {
        return Err(invalid(what));
    }
    let p = G2Affine::new_unchecked(
        Fq2::new(fq(x0, what)?, fq(x1, what)?),
        Fq2::new(fq(y0, what)?, fq(y1, what)?),
    );
    if !p.is_on_curve() || !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(invalid(what));
    }
    Ok(p)
}

fn check_len(text: &str) -> Result<(), ProofError> {
    if text.len() > MAX_JSON_LEN {
        return Err(ProofError::TooLarge {
            size: text.len(),
            max: MAX_JSON_LEN,
        });
    }
    Ok(())
}

fn check_system(protocol: Option<&str>, curve: Option<&str>) -> Result<(), ProofError> {
    if let Some(p) = protocol.filter(|p| *p != "groth16") {
        return Err(ProofError::Unsupported(format!("protocol {p:?}")));
    }
    if let Some(c) = curve.filter(|c| *c != "bn128" && *c != "bn254") {
        return Err(ProofError::Unsupported(format!("curve {c:?}")));
    }
    Ok(())
}

fn json_err(e: serde_json::Error) -> ProofError {
    ProofError::Json(e.to_string())
}

#[derive(Deserialize)]
struct VkJson {
    protocol: Option<String>,
    curve: Option<String>,
    #[serde(rename = "nPublic")]
    n_public: u64,
    vk_alpha_1: Vec<String>,
    vk_beta_2: Vec<Vec<String>>,
    vk_gamma_2: Vec<Vec<String>>,
    vk_delta_2: Vec<Vec<String>>,
    #[serde(rename = "IC")]
    ic: Vec<Vec<String>>,
}

#[derive(Deserialize)]
struct ProofJson {
    protocol: Option<String>,
    curve: Option<String>,
    pi_a: Vec<String>,
    pi_b: Vec<Vec<String>>,
    pi_c: Vec<String>,
}

/// Reads `verification_key.json` and prepares it.
pub fn parse_vk(text: &str) -> Result<PreparedVk, ProofError> {
    check_len(text)?;
    let v: VkJson = serde_json::from_str(text).map_err(json_err)?;
    check_system(v.protocol.as_deref(), v.curve.as_deref())?;
    if v.n_public > MAX_PUBLIC_INPUTS as u64 {
        return Err(ProofError::TooManyInputs {
            got: v.n_public,
            max: MAX_PUBLIC_INPUTS,
        });
    }
    if v.ic.len() as u64 != v.n_public + 1 {
        return Err(ProofError::VkMalformed("IC must have nPublic + 1 points"));
    }
    let gamma_abc_g1 =
        v.ic.iter()
            .enumerate()
            .map(|(i, p)| g1(p, &|| format!("vk.IC[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
    PreparedVk::new(VerifyingKey {
        alpha_g1: g1(&v.vk_alpha_1, &|| String::from("vk_alpha_1"))?,
        beta_g2: g2(&v.vk_beta_2, &|| String::from("vk_beta_2"))?,
        gamma_g2: g2(&v.vk_gamma_2, &|| String::from("vk_gamma_2"))?,
        delta_g2: g2(&v.vk_delta_2, &|| String::from("vk_delta_2"))?,
        gamma_abc_g1,
    })
}

/// Reads `proof.json`.
pub fn parse_proof(text: &str) -> Result<Groth16Proof, ProofError> {
    check_len(text)?;
    let p: ProofJson = serde_json::from_str(text).map_err(json_err)?;
    check_system(p.protocol.as_deref(), p.curve.as_deref())?;
    Ok(Groth16Proof(Proof {
        a: g1(&p.pi_a, &|| String::from("pi_a"))?,
        b: g2(&p.pi_b, &|| String::from("pi_b"))?,
        c: g1(&p.pi_c, &|| String::from("pi_c"))?,
    }))
}

/// Reads `public.json` (a list of decimal strings).
pub fn parse_public_inputs(text: &str) -> Result<Vec<Fr>, ProofError> {
    check_len(text)?;
    let v: Vec<String> = serde_json::from_str(text).map_err(json_err)?;
    if v.len() > MAX_PUBLIC_INPUTS {
        return Err(ProofError::TooManyInputs {
            got: v.len() as u64,
            max: MAX_PUBLIC_INPUTS,
        });
    }
    v.iter()
        .enumerate()
        .map(|(index, s)| {
            parse_decimal(s)
                .and_then(Fr::from_bigint)
                .ok_or(ProofError::InputNotCanonical { index })
        })
        .collect()
}

fn g1_json(p: &G1Affine) -> serde_json::Value {
    let (x, y) = p.xy().unwrap_or_default();
    serde_json::json!([x.to_string(), y.to_string(), "1"])
}

fn g2_json(p: &G2Affine) -> serde_json::Value {
    let (x, y) = p.xy().unwrap_or_default();
    serde_json::json!([
        [x.c0.to_string(), x.c1.to_string()],
        [y.c0.to_string(), y.c1.to_string()],
        ["1", "0"]
    ])
}

/// Writes a verifying key as snarkjs `verification_key.json` (without `vk_alphabeta_12`).
pub fn vk_to_json(vk: &VerifyingKey<Bn254>) -> String {
    let ic: Vec<_> = vk.gamma_abc_g1.iter().map(g1_json).collect();
    serde_json::json!({
        "protocol": "groth16",
        "curve": "bn128",
        "nPublic": vk.gamma_abc_g1.len().saturating_sub(1),
        "vk_alpha_1": g1_json(&vk.alpha_g1),
        "vk_beta_2": g2_json(&vk.beta_g2),
        "vk_gamma_2": g2_json(&vk.gamma_g2),
        "vk_delta_2": g2_json(&vk.delta_g2),
        "IC": ic,
    })
    .to_string()
}

/// Writes a proof as snarkjs `proof.json`.
pub fn proof_to_json(proof: &Groth16Proof) -> String {
    serde_json::json!({
        "pi_a": g1_json(&proof.0.a),
        "pi_b": g2_json(&proof.0.b),
        "pi_c": g1_json(&proof.0.c),
        "protocol": "groth16",
        "curve": "bn128",
    })
    .to_string()
}

/// Writes public inputs as snarkjs `public.json`.
pub fn public_inputs_to_json(inputs: &[Fr]) -> String {
    let v: Vec<String> = inputs.iter().map(|x| x.to_string()).collect();
    serde_json::to_string(&v).unwrap_or_default()
}
