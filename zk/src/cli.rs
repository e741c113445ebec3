//! The command-line commands of the setup and of proof files, shared by `otr zk` (the node's
//! binary) and `otr-zk`: the phase-1 (powers of tau) and phase-2 ceremonies, verifying-key
//! export, snarkjs-JSON verification.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use rand_chacha::rand_core::{OsRng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

use crate::act::{ActShape, ActTable};
use crate::attn::AttnShape;
use crate::ceremony::{self, Ceremony, Phase1Source};
use crate::error::ZkError;
use crate::kind::{CircuitKind, CircuitShape};
use crate::phase1::{self, Phase1};
use crate::unit::UnitShape;

/// Which unit circuit a setup is for, and its shape.
#[derive(Debug, Args)]
pub struct ShapeArgs {
    /// The unit circuit: `matvec`: R rows of an int8 matrix times an Act16 vector
    /// (PROTOCOL.md §7.5; shape --rows, --cols, --rows-per-unit); `act`: E consecutive
    /// elements of the gated activation Act16::from_wide(gated(gate, up, f)) (§7.10; shape
    /// --table, --len, --elems); `attn`: one query head attending over P positions (§7.11;
    /// shape --head-dim, --positions).
    #[arg(long, default_value = "matvec", value_parser = ["matvec", "act", "attn"])]
    pub circuit: String,
    /// matvec: rows of the matrix.
    #[arg(long)]
    pub rows: Option<usize>,
    /// matvec: columns (input length), a multiple of 32.
    #[arg(long)]
    pub cols: Option<usize>,
    /// matvec: rows per proved unit R, a power of two dividing --rows [default: 8].
    #[arg(long)]
    pub rows_per_unit: Option<usize>,
    /// act: the activation table, `gelu` (Gemma 3) or `silu` (Llama).
    #[arg(long)]
    pub table: Option<String>,
    /// act: length of the gated vectors (the FFN width).
    #[arg(long)]
    pub len: Option<usize>,
    /// act: elements per proved unit E, dividing --len.
    #[arg(long)]
    pub elems: Option<usize>,
    /// attn: values per head (head dimension).
    #[arg(long)]
    pub head_dim: Option<usize>,
    /// attn: positions the query attends over P (keys and values).
    #[arg(long)]
    pub positions: Option<usize>,
}

impl ShapeArgs {
    /// Whether any shape flag is given.
    fn any(&self) -> bool {
        self.rows.is_some()
            || self.cols.is_some()
            || self.rows_per_unit.is_some()
            || self.table.is_some()
            || self.len.is_some()
            || self.elems.is_some()
            || self.head_dim.is_some()
            || self.positions.is_some()
    }

    /// The circuit and shape; a missing flag of the kind, or a flag of another kind, is
    /// `ZK_SHAPE_INVALID`.
    pub fn shape(&self) -> Result<CircuitShape, ZkError> {
        let kind = CircuitKind::parse(&self.circuit)?;
        let need = |v: Option<usize>, flag: &str| {
            v.ok_or_else(|| ZkError::Shape(format!("the {kind} circuit needs --{flag}")))
        };
        let foreign: &[(bool, &str)] = match kind {
            CircuitKind::MatVec => &[
                (self.table.is_some(), "table"),
                (self.len.is_some(), "len"),
                (self.elems.is_some(), "elems"),
                (self.head_dim.is_some(), "head-dim"),
                (self.positions.is_some(), "positions"),
            ],
            CircuitKind::Act => &[
                (self.rows.is_some(), "rows"),
                (self.cols.is_some(), "cols"),
                (self.rows_per_unit.is_some(), "rows-per-unit"),
                (self.head_dim.is_some(), "head-dim"),
                (self.positions.is_some(), "positions"),
            ],
            CircuitKind::Attn => &[
                (self.rows.is_some(), "rows"),
                (self.cols.is_some(), "cols"),
                (self.rows_per_unit.is_some(), "rows-per-unit"),
                (self.table.is_some(), "table"),
                (self.len.is_some(), "len"),
                (self.elems.is_some(), "elems"),
            ],
        };
        if let Some((_, flag)) = foreign.iter().find(|x| x.0) {
            return Err(ZkError::Shape(format!(
                "--{flag} is not a shape flag of the {kind} circuit"
            )));
        }
        Ok(match kind {
            CircuitKind::MatVec => CircuitShape::MatVec(UnitShape::new(
                need(self.rows, "rows")?,
                need(self.cols, "cols")?,
                self.rows_per_unit.unwrap_or(8),
            )?),
            CircuitKind::Act => {
                let table = self
                    .table
                    .as_deref()
                    .ok_or_else(|| ZkError::Shape("the act circuit needs --table".into()))?;
                CircuitShape::Act(ActShape::new(
                    ActTable::parse(table)?,
                    need(self.len, "len")?,
                    need(self.elems, "elems")?,
                )?)
            }
            CircuitKind::Attn => CircuitShape::Attn(AttnShape::new(
                need(self.head_dim, "head-dim")?,
                need(self.positions, "positions")?,
            )?),
        })
    }
}

/// The phase-1 (powers of tau) ceremony.
#[derive(Debug, Subcommand)]
pub enum Phase1Cmd {
    /// Starts a phase 1 big enough for a circuit's shape (or of size 2^--log-size).
    Init {
        /// Size 2^k; default: the smallest that holds the circuit of --circuit and its shape.
        #[arg(long)]
        log_size: Option<u32>,
        #[command(flatten)]
        shape: ShapeArgs,
        /// Phase-1 file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Adds one contribution (fresh tau, alpha, beta from the OS, mixed with --entropy).
    Contribute {
        #[arg(long = "in")]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The contributor's name (bound into the proofs of knowledge).
        #[arg(long)]
        name: String,
        /// Extra entropy mixed with the OS randomness.
        #[arg(long, default_value = "")]
        entropy: String,
    },
    /// Checks every contribution and the powers.
    Verify {
        #[arg(long = "in")]
        input: PathBuf,
    },
}

/// The setup ceremony: phase 1 (powers of tau), then phase 2 (delta).
#[derive(Debug, Subcommand)]
pub enum CeremonyCmd {
    /// Phase 1: the powers of tau (init, contribute, verify).
    #[command(subcommand)]
    Phase1(Phase1Cmd),
    /// Creates the phase-2 initial key of a unit circuit (--circuit matvec, act or attn, and
    /// that circuit's shape flags) from a verified phase 1 (--phase1), or from the public
    /// INSECURE seed (--insecure-public-phase1). The ceremony file names the circuit and shape.
    #[command(group(clap::ArgGroup::new("source").required(true).args(["phase1", "insecure_public_phase1"])))]
    Init {
        #[command(flatten)]
        shape: ShapeArgs,
        /// A verified phase-1 file (`ceremony phase1 ...`).
        #[arg(long, value_name = "FILE")]
        phase1: Option<PathBuf>,
        /// INSECURE: phase 1 from a public seed, so anyone can forge proofs. For fast tests only.
        #[arg(long)]
        insecure_public_phase1: bool,
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
    /// Re-checks every step of the transcript and the key (phase 1 too, given --phase1).
    Verify {
        #[arg(long = "in")]
        input: PathBuf,
        /// The phase-1 file the ceremony started from (required unless its phase 1 is public).
        #[arg(long, value_name = "FILE")]
        phase1: Option<PathBuf>,
    },
    /// Verifies, then writes pk.bin, vk.bin (compressed), verification_key.json (snarkjs) and
    /// transcript.json: the directory `otr serve --zk-params` reads.
    Finalize {
        #[arg(long = "in")]
        input: PathBuf,
        /// Fewer contributions than this are refused.
        #[arg(long, default_value_t = 2)]
        min_contributions: usize,
        /// The phase-1 file the ceremony started from (required unless its phase 1 is public).
        #[arg(long, value_name = "FILE")]
        phase1: Option<PathBuf>,
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

fn load_phase1(path: &Path) -> Result<Phase1, ZkError> {
    timed(&format!("reading {}", path.display()), || {
        Phase1::read(&mut BufReader::new(File::open(path).map_err(io(path))?))
    })
}

fn save_phase1(p: &Phase1, path: &Path) -> Result<(), ZkError> {
    let mut w = BufWriter::new(File::create(path).map_err(io(path))?);
    p.write(&mut w)?;
    w.flush().map_err(io(path))
}

/// Progress lines on stderr.
fn progress(what: &str, done: usize, total: usize) {
    eprintln!("  {what}: {done}/{total}");
}

fn print_phase1_report(r: &phase1::VerifiedPhase1) {
    println!("phase 1 OK: size 2^{}", r.log_n);
    for (i, (name, h)) in r.contributors.iter().enumerate() {
        println!(
            "  phase-1 contribution {i}: {name:?} -> transcript {}",
            hex::encode(h)
        );
    }
    println!("phase-1 transcript hash {}", hex::encode(r.transcript_hash));
}

/// The `phase1` object of transcript.json.
pub fn phase1_json(r: &ceremony::VerifiedCeremony) -> serde_json::Value {
    match r.phase1 {
        Phase1Source::InsecurePublic => {
            serde_json::json!("public seed (INSECURE: anyone can forge proofs; see zk/README.md)")
        }
        Phase1Source::Ceremony(h) => serde_json::json!({
            "transcript_hash": hex::encode(h),
            "contributions": r.phase1_contributors.iter()
                .map(|(n, h)| serde_json::json!({"name": n, "transcript_hash": hex::encode(h)}))
                .collect::<Vec<_>>(),
        }),
    }
}

fn print_report(r: &ceremony::VerifiedCeremony) {
    println!("ceremony OK: circuit {}", r.shape.describe());
    match r.phase1 {
        Phase1Source::InsecurePublic => println!("phase 1: public seed (INSECURE)"),
        Phase1Source::Ceremony(h) => {
            println!("phase 1: transcript {} verified", hex::encode(h));
            for (i, (name, h)) in r.phase1_contributors.iter().enumerate() {
                println!(
                    "  phase-1 contribution {i}: {name:?} -> transcript {}",
                    hex::encode(h)
                );
            }
        }
    }
    for (i, (name, h)) in r.contributors.iter().enumerate() {
        println!(
            "  contribution {i}: {name:?} -> transcript {}",
            hex::encode(h)
        );
    }
    println!("transcript hash {}", hex::encode(r.transcript_hash));
    println!("verifying key id {}", hex::encode(r.key_id));
    if r.phase1.is_insecure() {
        println!(
            "WARNING: phase 1 is the public seed (--insecure-public-phase1): anyone can forge \
             proofs with these keys. For tests only."
        );
    }
}

fn entropy_rng(entropy: &str) -> ChaCha20Rng {
    let mut os = [0u8; 32];
    OsRng.fill_bytes(&mut os);
    let seed: [u8; 32] = Sha256::new()
        .chain_update(os)
        .chain_update(entropy.as_bytes())
        .finalize()
        .into();
    ChaCha20Rng::from_seed(seed)
}

fn verify_any(c: &Ceremony, p1: Option<&Path>) -> Result<ceremony::VerifiedCeremony, ZkError> {
    match (p1, c.phase1) {
        (Some(p), _) => {
            let p1 = load_phase1(p)?;
            timed("verifying phase 1, the derived key and phase 2", || {
                ceremony::verify_with_phase1(c, &p1, Some(&progress))
            })
        }
        (None, Phase1Source::InsecurePublic) => {
            timed("verifying the transcript and the key", || {
                ceremony::verify(c)
            })
        }
        (None, Phase1Source::Ceremony(_)) => Err(ZkError::CeremonyInvalid(
            "this ceremony starts from a phase-1 ceremony: pass its file with --phase1".into(),
        )),
    }
}

/// Runs one phase-1 command.
pub fn run_phase1(cmd: Phase1Cmd) -> Result<(), ZkError> {
    match cmd {
        Phase1Cmd::Init {
            log_size,
            shape,
            out,
        } => {
            let log_n = match log_size {
                Some(k) => k,
                None if shape.any() => {
                    let shape = shape.shape()?;
                    let n = shape.constraints_plus_inputs()?;
                    println!("circuit {}: {n} constraints + inputs", shape.describe());
                    Phase1::log_size_for(n)
                }
                None => {
                    return Err(ZkError::Shape(
                        "give --log-size, or a circuit's shape (--circuit and its flags)".into(),
                    ))
                }
            };
            let p = Phase1::init(log_n)?;
            save_phase1(&p, &out)?;
            println!("phase 1 of size 2^{log_n} -> {}", out.display());
        }
        Phase1Cmd::Contribute {
            input,
            out,
            name,
            entropy,
        } => {
            let mut p = load_phase1(&input)?;
            // The generator lives only for the contribution (its state seeds the secrets).
            {
                let mut rng = entropy_rng(&entropy);
                timed(&format!("phase-1 contribution by {name:?}"), || {
                    p.contribute(&name, &mut rng, Some(&progress))
                })?;
            }
            save_phase1(&p, &out)?;
            println!(
                "phase-1 contribution {} by {name:?}; transcript hash {} -> {}",
                p.contributions.len() - 1,
                hex::encode(p.transcript_hash()),
                out.display()
            );
        }
        Phase1Cmd::Verify { input } => {
            let p = load_phase1(&input)?;
            print_phase1_report(&timed("verifying phase 1", || phase1::verify(&p))?);
        }
    }
    Ok(())
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
        CeremonyCmd::Phase1(p) => run_phase1(p)?,
        CeremonyCmd::Init {
            shape,
            phase1,
            insecure_public_phase1,
            out,
        } => {
            let shape = shape.shape()?;
            let what = format!("initial key of the {} circuit", shape.describe());
            let c = match (phase1, insecure_public_phase1) {
                (Some(p), false) => {
                    let p1 = load_phase1(&p)?;
                    timed(
                        &format!("verifying phase 1 and deriving the {what}"),
                        || Ceremony::init_from_phase1(shape, &p1, Some(&progress)),
                    )?
                }
                (None, true) => {
                    eprintln!(
                        "WARNING: --insecure-public-phase1: anyone can forge proofs with keys \
                         from this ceremony. For tests only."
                    );
                    timed(&format!("generating the INSECURE {what}"), || {
                        Ceremony::init(shape)
                    })?
                }
                _ => {
                    return Err(ZkError::Shape(
                        "give exactly one of --phase1 FILE and --insecure-public-phase1".into(),
                    ))
                }
            };
            save(&c, &out)?;
            println!("{what} -> {}", out.display());
        }
        CeremonyCmd::Contribute {
            input,
            out,
            name,
            entropy,
        } => {
            let mut c = load(&input)?;
            let mut rng = entropy_rng(&entropy);
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
        CeremonyCmd::Verify { input, phase1 } => {
            let c = load(&input)?;
            print_report(&verify_any(&c, phase1.as_deref())?);
        }
        CeremonyCmd::Finalize {
            input,
            min_contributions,
            phase1,
            out_dir,
        } => {
            let c = load(&input)?;
            if c.contributions.len() < min_contributions {
                return Err(ZkError::CeremonyInvalid(format!(
                    "{} contributions, at least {min_contributions} required",
                    c.contributions.len()
                )));
            }
            let report = verify_any(&c, phase1.as_deref())?;
            crate::keys::write_dir(&out_dir, &c, &report, &phase1_json(&report))?;
            print_report(&report);
            println!("keys written to {}", out_dir.display());
        }
    }
    Ok(())
}

/// `export-vk`.
pub fn run_export_vk(a: ExportVkArgs) -> Result<(), ZkError> {
    let keys = crate::keys::CircuitKeys::load(&a.params)?;
    let json = otr_core::zk::snarkjs::vk_to_json(keys.vk.vk());
    match &a.out {
        Some(p) => {
            std::fs::write(p, json.as_bytes()).map_err(io(p))?;
            println!(
                "verifying key {} ({}) -> {}",
                hex::encode(keys.key_id),
                keys.shape.describe(),
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
