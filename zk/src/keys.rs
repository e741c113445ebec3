//! Keys as a ceremony's `finalize` writes them (`pk.bin`, `vk.bin`, `verification_key.json`,
//! `transcript.json`), loaded for proving and verification: [`CircuitKeys`] for any unit circuit
//! (the kind and shape from `transcript.json`), [`Keys`] for the matvec unit (keys of another
//! kind are refused, `ZK_CIRCUIT_KIND`).

use std::path::Path;

use ark_bn254::Bn254;
use ark_groth16::ProvingKey;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use otr_core::zk::PreparedVk;

use crate::ceremony::{Ceremony, VerifiedCeremony};
use crate::error::ZkError;
use crate::kind::{CircuitKind, CircuitShape};
use crate::unit::UnitShape;

/// A finalized setup: the proving key, the core's prepared verifying key and the shape.
pub struct Keys {
    pub pk: ProvingKey<Bn254>,
    pub vk: PreparedVk,
    pub shape: UnitShape,
    /// `otr_core::zk::PreparedVk::key_id`: the bundle's `circuit_id` of these proofs.
    pub key_id: [u8; 32],
}

/// Writes a verified ceremony's keys to `out_dir` (created if needed): `pk.bin` (arkworks,
/// uncompressed), `vk.bin` (compressed), `verification_key.json` (snarkjs) and
/// `transcript.json` (`circuit`: the kind's version string, `kind`, `shape`, the
/// contributions, `transcript_hash`, `key_id`, and `phase1`, given by the caller).
pub fn write_dir(
    out_dir: &Path,
    c: &Ceremony,
    report: &VerifiedCeremony,
    phase1: &serde_json::Value,
) -> Result<(), ZkError> {
    let io = |p: &Path, e: std::io::Error| ZkError::Io(format!("{}: {e}", p.display()));
    let (pk, vk) = (&c.pk, &c.pk.vk);
    std::fs::create_dir_all(out_dir).map_err(|e| io(out_dir, e))?;
    let mut pk_bytes = Vec::new();
    pk.serialize_uncompressed(&mut pk_bytes)
        .map_err(|e| ZkError::Io(e.to_string()))?;
    let mut vk_bytes = Vec::new();
    vk.serialize_compressed(&mut vk_bytes)
        .map_err(|e| ZkError::Io(e.to_string()))?;
    let transcript = serde_json::json!({
        "circuit": c.shape.kind().version(),
        "kind": c.shape.kind().name(),
        "shape": c.shape.shape_json(),
        "contributions": report.contributors.iter()
            .map(|(n, h)| serde_json::json!({"name": n, "transcript_hash": hex::encode(h)}))
            .collect::<Vec<_>>(),
        "transcript_hash": hex::encode(report.transcript_hash),
        "key_id": hex::encode(report.key_id),
        "phase1": phase1,
    });
    for (name, bytes) in [
        ("pk.bin", pk_bytes),
        ("vk.bin", vk_bytes),
        (
            "verification_key.json",
            otr_core::zk::snarkjs::vk_to_json(vk).into_bytes(),
        ),
        ("transcript.json", transcript.to_string().into_bytes()),
    ] {
        let p = out_dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| io(&p, e))?;
    }
    Ok(())
}

fn read(p: &Path) -> Result<Vec<u8>, ZkError> {
    std::fs::read(p).map_err(|e| ZkError::Io(format!("{}: {e}", p.display())))
}

/// A finalized setup of any unit circuit.
pub struct CircuitKeys {
    pub pk: ProvingKey<Bn254>,
    pub vk: PreparedVk,
    /// The circuit and shape from `transcript.json`.
    pub shape: CircuitShape,
    /// `otr_core::zk::PreparedVk::key_id`: the bundle's `circuit_id` of these proofs.
    pub key_id: [u8; 32],
}

/// The circuit and shape recorded in a ceremony's `transcript.json` (files without a `kind`
/// are matvec setups).
pub fn transcript_circuit(dir: &Path) -> Result<CircuitShape, ZkError> {
    let p = dir.join("transcript.json");
    let v: serde_json::Value = serde_json::from_slice(&read(&p)?)
        .map_err(|e| ZkError::CeremonyFormat(format!("{}: {e}", p.display())))?;
    CircuitShape::from_transcript_json(&v).map_err(|e| match e {
        ZkError::CeremonyFormat(m) => ZkError::CeremonyFormat(format!("{}: {m}", dir.display())),
        e => e,
    })
}

/// The matvec shape recorded in a ceremony's `transcript.json` (`ZK_CIRCUIT_KIND` for keys of
/// another circuit).
pub fn transcript_shape(dir: &Path) -> Result<UnitShape, ZkError> {
    transcript_circuit(dir)?.matvec()
}

impl Keys {
    /// Loads the keys of a matvec setup ([`CircuitKeys::load`]); keys of another circuit are
    /// [`ZkError::WrongCircuit`].
    pub fn load(dir: &Path) -> Result<Keys, ZkError> {
        let k = CircuitKeys::load_kind(dir, CircuitKind::MatVec)?;
        Ok(Keys {
            shape: k.shape.matvec()?,
            pk: k.pk,
            vk: k.vk,
            key_id: k.key_id,
        })
    }
}

impl CircuitKeys {
    /// [`CircuitKeys::load`], refusing keys of another circuit than `kind`
    /// ([`ZkError::WrongCircuit`]) before reading the proving key.
    pub fn load_kind(dir: &Path, kind: CircuitKind) -> Result<CircuitKeys, ZkError> {
        transcript_circuit(dir)?.expect_kind(kind)?;
        Self::load(dir)
    }

    /// Loads `pk.bin` (arkworks uncompressed; points checked) and `transcript.json` from a
    /// ceremony output directory. The verifying key is the proving key's own; when `vk.bin`
    /// is present it must be the same key.
    pub fn load(dir: &Path) -> Result<CircuitKeys, ZkError> {
        let shape = transcript_circuit(dir)?;
        let p = dir.join("pk.bin");
        let bytes = read(&p)?;
        let pk =
            ProvingKey::<Bn254>::deserialize_with_mode(&bytes[..], Compress::No, Validate::Yes)
                .map_err(|e| ZkError::CeremonyFormat(format!("{}: {e}", p.display())))?;
        let vk = PreparedVk::new(pk.vk.clone())?;
        let vk_path = dir.join("vk.bin");
        if vk_path.exists() {
            let mut own = Vec::new();
            pk.vk
                .serialize_compressed(&mut own)
                .map_err(|e| ZkError::Io(e.to_string()))?;
            if read(&vk_path)? != own {
                return Err(ZkError::CeremonyInvalid(format!(
                    "{} is not the verifying key of {}",
                    vk_path.display(),
                    p.display()
                )));
            }
        }
        if pk.vk.gamma_abc_g1.len() != crate::prove::PUBLIC_INPUTS + 1 {
            return Err(ZkError::CeremonyInvalid(
                "the key is not for a unit circuit (public input count)".into(),
            ));
        }
        let key_id = vk.key_id();
        Ok(CircuitKeys {
            pk,
            vk,
            shape,
            key_id,
        })
    }
}
