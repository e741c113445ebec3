//! The command-line commands of the setup and of proof files, shared by `otr zk` (the node's
//! binary) and `otr-zk`: the phase-2 ceremony, verifying-key export, snarkjs-JSON verification.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use ark_serialize::CanonicalSerialize;
use clap::{Args, Subcommand};
use rand_chacha::rand_core::{OsRng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

use crate::ceremony::{self, Ceremony};
use crate::error::ZkError;
use crate::unit::UnitShape;

/// The phase-2 ceremony (phase 1 is public and INSECURE: see zk/README.md).
#[derive(Debug, Subcommand)]
pub enum CeremonyCmd {
    /// Creates the initial key for a shape (matrix rows x cols, R rows per unit).
    Init {
        /// Rows of the matrix the circuit is for.
        #[arg(long)]
        rows: usize,
        /// Columns (input length), a multiple of 32.
        #[arg(long)]
        cols: usize,
        /// Rows per proved unit R (a power of two dividing --rows).
        #[arg(long, default_value_t = 8)]
        rows_per_unit: usize,
        /// Ceremony file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Adds one contribution (a fresh secret from the OS, mixed with --entropy).
    Contribute {
        /// Ceremony file to extend.
        #[arg(long = "in")]
        input: PathBuf,
        /// Ceremony file to write.
        #[arg(long)]
        out: PathBuf,
        /// The contributor's name (bound into the proof of knowledge).
        #[arg(long)]
        name: String,
        /// Extra entropy mixed with the OS randomness.
        #[arg(long, default_value = "")]
        entropy: String,
    },
    /// Re-checks every step of the transcript and the key.
    Verify {
        #[arg(long = "in")]
        input: PathBuf,
    },
    /// Verifies, then writes pk.bin, vk.bin (compressed), verification_key.json (snarkjs) and
    /// transcript.json: the directory `otr serve --zk-params` reads.
    Finalize {
        #[arg(long = "in")]
        input: PathBuf,
        /// Fewer contributions than this are refused.
        #[arg(long, default_value_t = 2)]
        min_contributions: usize,
        #[arg(long)]
        out_dir: PathBuf,
    },
}

/// `export-vk`: the verifying key of a finalized setup in snarkjs JSON (and its id).
#[derive(Debug, Args)]
pub struct ExportVkArgs {
    /// Ceremony output directory (holds pk.bin and transcript.json).
    #[arg(long, value_name = "DIR")]
    pub params: PathBuf,
    /// Where to write verification_key.json (stdout when absent).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `verify`: a Groth16 proof in snarkjs JSON with its public inputs, against a verifying key in
/// snarkjs JSON, by the core verifier (the code the WASM verifier runs).
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// verification_key.json
    #[arg(long, value_name = "FILE")]
    pub vk: PathBuf,
    /// proof.json
    #[arg(long, value_name = "FILE")]
    pub proof: PathBuf,
    /// public.json
    #[arg(long = "public", value_name = "FILE")]
    pub public_inputs: PathBuf,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> ZkError + '_ {
    move |e| ZkError::Io(format!("{}: {e}", path.display()))
}

fn load(path: &Path) -> Result<Ceremony, ZkError> {
    Ceremony::read(&mut BufReader::new(File::open(path).map_err(io(path))?))
}

fn save(c: &Ceremony, path: &Path) -> Result<(), ZkError> {
    let mut w = BufWriter::new(File::create(path).map_err(io(path))?);
    c.write(&mut w)?;
    w.flush().map_err(io(path))
}

fn print_report(r: &ceremony::VerifiedCeremony) {
    println!(
        "ceremony OK: shape {} rows x {} cols, {} rows per unit",
        r.shape.matrix_rows, r.shape.cols, r.shape.rows_per_unit
    );
    for (i, (name, h)) in r.contributors.iter().enumerate() {
        println!(
            "  contribution {i}: {name:?} -> transcript {}",
            hex::encode(h)
        );
    }
    println!("transcript hash {}", hex::encode(r.transcript_hash));
    println!("verifying key id {}", hex::encode(r.key_id));
    println!(
        "WARNING: phase 1 is public in this version: these keys are NOT sound for production."
    );
}

/// Runs a long step with a line before and the time after (key generation and checks take
/// seconds to minutes for real shapes).
fn timed<T>(what: &str, f: impl FnOnce() -> Result<T, ZkError>) -> Result<T, ZkError> {
    eprintln!("{what} ...");
    let t = std::time::Instant::now();
    let r = f()?;
    eprintln!("{what}: done in {:.1} s", t.elapsed().as_secs_f64());
    Ok(r)
}

/// Runs one ceremony command.
pub fn run_ceremony(cmd: CeremonyCmd) -> Result<(), ZkError> {
    match cmd {
        CeremonyCmd::Init {
            rows,
            cols,
            rows_per_unit,
            out,
        } => {
            let shape = UnitShape::new(rows, cols, rows_per_unit)?;
            let c = timed(
                &format!("generating the initial key for {rows} x {cols}, R = {rows_per_unit}"),
                || Ceremony::init(shape),
            )?;
            save(&c, &out)?;
            println!(
                "initial key for {rows} x {cols}, {rows_per_unit} rows per unit -> {}",
                out.display()
            );
        }
        CeremonyCmd::Contribute {
            input,
            out,
            name,
            entropy,
        } => {
            let mut c = load(&input)?;
            let mut os = [0u8; 32];
            OsRng.fill_bytes(&mut os);
            let seed: [u8; 32] = Sha256::new()
                .chain_update(os)
                .chain_update(entropy.as_bytes())
                .finalize()
                .into();
            let mut rng = ChaCha20Rng::from_seed(seed);
            timed(&format!("contribution by {name:?}"), || {
                c.contribute(&name, &mut rng)
            })?;
            save(&c, &out)?;
            println!(
                "contribution {} by {name:?}; transcript hash {} -> {}",
                c.contributions.len() - 1,
                hex::encode(c.transcript_hash()),
                out.display()
            );
        }
        CeremonyCmd::Verify { input } => {
            let c = load(&input)?;
            print_report(&timed("verifying the transcript and the key", || {
                ceremony::verify(&c)
            })?);
        }
        CeremonyCmd::Finalize {
            input,
            min_contributions,
            out_dir,
        } => {
            let c = load(&input)?;
            let (pk, vk, report) = timed("verifying the transcript and the key", || {
                c.finalize(min_contributions)
            })?;
            std::fs::create_dir_all(&out_dir).map_err(io(&out_dir))?;
            let mut pk_bytes = Vec::new();
            pk.serialize_uncompressed(&mut pk_bytes)
                .map_err(|e| ZkError::Io(e.to_string()))?;
            let mut vk_bytes = Vec::new();
            vk.serialize_compressed(&mut vk_bytes)
                .map_err(|e| ZkError::Io(e.to_string()))?;
            let transcript = serde_json::json!({
                "circuit": ceremony::CIRCUIT_VERSION,
                "shape": {"matrix_rows": c.shape.matrix_rows, "cols": c.shape.cols,
                          "rows_per_unit": c.shape.rows_per_unit},
                "contributions": report.contributors.iter()
                    .map(|(n, h)| serde_json::json!({"name": n, "transcript_hash": hex::encode(h)}))
                    .collect::<Vec<_>>(),
                "transcript_hash": hex::encode(report.transcript_hash),
                "key_id": hex::encode(report.key_id),
                "phase1": "public seed (INSECURE: see zk/README.md)",
            });
            for (name, bytes) in [
                ("pk.bin", pk_bytes),
                ("vk.bin", vk_bytes),
                (
                    "verification_key.json",
                    otr_core::zk::snarkjs::vk_to_json(&vk).into_bytes(),
                ),
                ("transcript.json", transcript.to_string().into_bytes()),
            ] {
                let p = out_dir.join(name);
                std::fs::write(&p, bytes).map_err(io(&p))?;
            }
            print_report(&report);
            println!("keys written to {}", out_dir.display());
        }
    }
    Ok(())
}

/// `export-vk`.
pub fn run_export_vk(a: ExportVkArgs) -> Result<(), ZkError> {
    let keys = crate::keys::Keys::load(&a.params)?;
    let json = otr_core::zk::snarkjs::vk_to_json(keys.vk.vk());
    match &a.out {
        Some(p) => {
            std::fs::write(p, json.as_bytes()).map_err(io(p))?;
            println!(
                "verifying key {} ({} x {}, R = {}) -> {}",
                hex::encode(keys.key_id),
                keys.shape.matrix_rows,
                keys.shape.cols,
                keys.shape.rows_per_unit,
                p.display()
            );
        }
        None => println!("{json}"),
    }
    Ok(())
}

fn read_text(p: &Path) -> Result<String, ZkError> {
    std::fs::read_to_string(p).map_err(io(p))
}

/// `verify`: prints the key id on success; a rejected proof is the core's `PROOF_*` error.
pub fn run_verify(a: VerifyArgs) -> Result<[u8; 32], ZkError> {
    use otr_core::zk::snarkjs;
    let vk = snarkjs::parse_vk(&read_text(&a.vk)?)?;
    let proof = snarkjs::parse_proof(&read_text(&a.proof)?)?;
    let inputs = snarkjs::parse_public_inputs(&read_text(&a.public_inputs)?)?;
    let ok = vk.verify(&proof, &inputs)?;
    println!(
        "proof OK: verifying key {}, {} public inputs",
        hex::encode(ok.key_id),
        inputs.len()
    );
    Ok(ok.key_id)
}
