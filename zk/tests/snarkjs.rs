//! Independent cross-check: our proof, exported in snarkjs JSON by `otr_core::zk::snarkjs`,
//! verifies with `snarkjs groth16 verify` (npm `snarkjs`, pinned in `zk/js/package-lock.json`),
//! and a changed public input is rejected by snarkjs too.
//! Skipped with a loud message when Node/npm is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ark_bn254::Fr;
use otr_core::zk::snarkjs::{proof_to_json, public_inputs_to_json, vk_to_json};
use otr_zk::prove::{decode_proof, prove_unit};

fn snarkjs() -> Option<PathBuf> {
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
    let bin = js.join("node_modules/.bin/snarkjs");
    if !bin.exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&js)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return None;
        }
    }
    bin.exists().then_some(bin)
}

fn verify(bin: &Path, dir: &Path, public: &str) -> (bool, String) {
    std::fs::write(dir.join("public.json"), public).unwrap();
    let out = Command::new(bin)
        .args(["groth16", "verify", "vk.json", "public.json", "proof.json"])
        .current_dir(dir)
        .output()
        .expect("run snarkjs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success() && text.contains("OK"), text)
}

#[test]
fn snarkjs_verifies_our_proof() {
    let Some(bin) = snarkjs() else {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPED: snarkjs cross-check (no npm / `npm ci` failed in zk/js) !!!\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return;
    };
    let d = common::data();
    let p = prove_unit(
        common::pk(),
        &d.tree,
        &d.w,
        &d.x,
        common::R,
        0,
        &mut common::rng(21),
    )
    .unwrap();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("snarkjs-unit");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("vk.json"), vk_to_json(&common::pk().vk)).unwrap();
    std::fs::write(
        dir.join("proof.json"),
        proof_to_json(&decode_proof(&p.proof).unwrap()),
    )
    .unwrap();
    let inputs = p.statement.public_inputs();
    let (ok, text) = verify(&bin, &dir, &public_inputs_to_json(&inputs));
    assert!(ok, "snarkjs rejected our proof:\n{text}");
    let mut wrong = inputs.clone();
    wrong[3] += Fr::from(1u64);
    let (ok, text) = verify(&bin, &dir, &public_inputs_to_json(&wrong));
    assert!(!ok, "snarkjs accepted a wrong output commitment:\n{text}");
}
