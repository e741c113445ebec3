//! Keys as a ceremony's `finalize` writes them (`pk.bin`, `vk.bin`, `verification_key.json`,
//! `transcript.json`), loaded for proving and verification.

use std::path::Path;

use ark_bn254::Bn254;
use ark_groth16::ProvingKey;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use otr_core::zk::PreparedVk;

use crate::error::ZkError;
use crate::unit::UnitShape;

/// A finalized setup: the proving key, the core's prepared verifying key and the shape.
pub struct Keys {
    pub pk: ProvingKey<Bn254>,
    pub vk: PreparedVk,
    pub shape: UnitShape,
    /// `otr_core::zk::PreparedVk::key_id`: the bundle's `circuit_id` of these proofs.
    pub key_id: [u8; 32],
}

fn read(p: &Path) -> Result<Vec<u8>, ZkError> {
    std::fs::read(p).map_err(|e| ZkError::Io(format!("{}: {e}", p.display())))
}

/// The shape recorded in a ceremony's `transcript.json`.
pub fn transcript_shape(dir: &Path) -> Result<UnitShape, ZkError> {
    let p = dir.join("transcript.json");
    let v: serde_json::Value = serde_json::from_slice(&read(&p)?)
        .map_err(|e| ZkError::CeremonyFormat(format!("{}: {e}", p.display())))?;
    let get = |k: &str| {
        v["shape"][k]
            .as_u64()
            .map(|x| x as usize)
            .ok_or_else(|| ZkError::CeremonyFormat(format!("{}: no shape.{k}", p.display())))
    };
    UnitShape::new(get("matrix_rows")?, get("cols")?, get("rows_per_unit")?)
}

impl Keys {
    /// Loads `pk.bin` (arkworks uncompressed; points checked) and `transcript.json` from a
    /// ceremony output directory. The verifying key is the proving key's own; when `vk.bin`
    /// is present it must be the same key.
    pub fn load(dir: &Path) -> Result<Keys, ZkError> {
        let shape = transcript_shape(dir)?;
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
        if pk.vk.gamma_abc_g1.len() != 5 {
            return Err(ZkError::CeremonyInvalid(
                "the key is not for the spot-check circuit (public input count)".into(),
            ));
        }
        let key_id = vk.key_id();
        Ok(Keys {
            pk,
            vk,
            shape,
            key_id,
        })
    }
}
