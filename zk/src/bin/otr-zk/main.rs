//! `otr-zk`: the setup ceremony of the spot-check circuit, and its benchmark.
//!
//! ```text
//! otr-zk ceremony init --rows 640 --cols 2048 --rows-per-unit 8 --out c0.bin
//! otr-zk ceremony contribute --in c0.bin --out c1.bin --name alice [--entropy "..."]
//! otr-zk ceremony verify --in c1.bin
//! otr-zk ceremony finalize --in c2.bin --min-contributions 2 --out-dir keys/
//! otr-zk bench [--write docs/BENCHMARKS.md]
//! ```

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use otr_zk::ceremony::{self, Ceremony};
use otr_zk::{UnitShape, ZkError};
use rand_chacha::rand_core::{OsRng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

mod bench;

#[derive(Parser)]
#[command(
    name = "otr-zk",
    about = "OTR spot-check circuit: setup ceremony and benchmark"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The phase-2 setup ceremony (phase 1 is public and INSECURE: see zk/README.md).
    #[command(subcommand)]
    Ceremony(CeremonyCmd),
    /// Measures constraints, proving and verification for one unit; optionally writes the
    /// "## ZK spot-checks" section of a BENCHMARKS.md.
    Bench(bench::Args),
}

#[derive(Subcommand)]
enum CeremonyCmd {
    /// Creates the initial key for a shape.
    Init {
        #[arg(long)]
        rows: usize,
        #[arg(long)]
        cols: usize,
        #[arg(long, default_value_t = 8)]
        rows_per_unit: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Adds one contribution (a fresh secret from the OS, mixed with --entropy).
    Contribute {
        #[arg(long = "in")]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        entropy: String,
    },
    /// Re-checks every step of the transcript and the key.
    Verify {
        #[arg(long = "in")]
        input: PathBuf,
    },
    /// Verifies, then writes pk.bin, vk.bin (compressed), verification_key.json
    /// (snarkjs) and transcript.json.
    Finalize {
        #[arg(long = "in")]
        input: PathBuf,
        #[arg(long, default_value_t = 2)]
        min_contributions: usize,
        #[arg(long)]
        out_dir: PathBuf,
    },
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

fn run(cli: Cli) -> Result<(), ZkError> {
    match cli.cmd {
        Cmd::Ceremony(CeremonyCmd::Init {
            rows,
            cols,
            rows_per_unit,
            out,
        }) => {
            let shape = UnitShape::new(rows, cols, rows_per_unit)?;
            let c = Ceremony::init(shape)?;
            save(&c, &out)?;
            println!(
                "initial key for {rows} x {cols}, {rows_per_unit} rows per unit -> {}",
                out.display()
            );
        }
        Cmd::Ceremony(CeremonyCmd::Contribute {
            input,
            out,
            name,
            entropy,
        }) => {
            let mut c = load(&input)?;
            let mut os = [0u8; 32];
            OsRng.fill_bytes(&mut os);
            let seed: [u8; 32] = Sha256::new()
                .chain_update(os)
                .chain_update(entropy.as_bytes())
                .finalize()
                .into();
            let mut rng = ChaCha20Rng::from_seed(seed);
            c.contribute(&name, &mut rng)?;
            save(&c, &out)?;
            println!(
                "contribution {} by {name:?}; transcript hash {} -> {}",
                c.contributions.len() - 1,
                hex::encode(c.transcript_hash()),
                out.display()
            );
        }
        Cmd::Ceremony(CeremonyCmd::Verify { input }) => {
            print_report(&ceremony::verify(&load(&input)?)?);
        }
        Cmd::Ceremony(CeremonyCmd::Finalize {
            input,
            min_contributions,
            out_dir,
        }) => {
            let c = load(&input)?;
            let (pk, vk, report) = c.finalize(min_contributions)?;
            std::fs::create_dir_all(&out_dir).map_err(io(&out_dir))?;
            use ark_serialize::CanonicalSerialize;
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
        Cmd::Bench(args) => bench::run(args)?,
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error [{}]: {e}", e.code());
            ExitCode::FAILURE
        }
    }
}
