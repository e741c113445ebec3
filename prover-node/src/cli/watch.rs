//! `otr watch`: the challenger ("fisherman").
//!
//! Follows the embedded chain of a node (`<data dir>/chain.json`, read-only: the node is its only
//! writer), or the chain on any EVM node (`--chain-rpc URL --chain-deployment FILE`), and, for
//! every batch the node posted, fetches the bundles of its receipts from the node's HTTP API,
//! verifies each one with `otr-core` (the same code the browser runs) and checks that its rollup
//! inclusion names the batch root the contract holds. It reports, per batch, how many of the
//! receipts the contract counts it could check, and every failure. On a chain shared by several
//! nodes it reports only the watched node's batches (its account from `/v1/node`).
//!
//! With `--model`, it also re-executes every posted receipt whose request it has (`--requests
//! DIR`, or the node's `GET /v1/receipts/{id}/request` under `otr serve --publish-requests`)
//! and compares `output_hash` and `trace_root` ([`crate::node::challenge`]). With a key
//! (`--key FILE`, `--dev-key`) on a shared chain (`--chain-rpc`) it disputes each mismatch and
//! plays the game to the end: a response per bisection, `timeout` when the node misses its
//! deadline (docs/NODE.md, "Disputes").

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use otr_contracts::rpc::RpcHost;
use otr_contracts::{Chain, Host};
use otr_core::rollup::AnswerBundle;

use super::{input, CliError};
use crate::node::settlement::{self, SavedDeployment, CHAIN_FILE};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The data dir of the node whose embedded chain to follow (holds chain.json).
    #[arg(
        long,
        env = "OTR_DATA_DIR",
        value_name = "DIR",
        required_unless_present = "chain_rpc"
    )]
    pub data_dir: Option<PathBuf>,
    /// Follow the chain on this EVM node (JSON-RPC) instead of an embedded chain file.
    #[arg(long, value_name = "URL", requires = "chain_deployment")]
    pub chain_rpc: Option<String>,
    /// The deployment's addresses (the JSON of `chain-deployment.json`), with `--chain-rpc`.
    #[arg(long, value_name = "FILE")]
    pub chain_deployment: Option<PathBuf>,
    /// The node's HTTP API, for bundles.
    #[arg(long, default_value = "http://127.0.0.1:8080", value_name = "URL")]
    pub node: String,
    /// Check once and exit (status 1 if anything failed); otherwise follow the chain.
    #[arg(long)]
    pub once: bool,
    /// How often to re-read the chain when following.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    pub interval_ms: u64,
    /// Trust the node's dev attestation root (from `/v1/node`): NOT PRODUCTION.
    #[arg(long)]
    pub allow_dev_root: bool,
    /// A spot-check circuit's verifying key you trust (snarkjs JSON, e.g. from the ceremony's
    /// transcript); repeat for several. Without it the keys the node publishes at `/v1/node` are
    /// used (a node's own keys prove nothing against a node that cheats its setup). Every
    /// proof must also be bound to the registry's matrix root for the model, read from the chain.
    #[arg(long = "vk", value_name = "FILE")]
    pub vks: Vec<PathBuf>,
    /// Re-execute every posted receipt whose request is available with this model (as
    /// `otr serve --model`), compare `output_hash` and `trace_root`, and dispute mismatches.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Requests you made yourself: a folder of `<receipt id>.json` files
    /// (`{"endpoint": "chat"|"completions", "nonce": "<64 hex>", "body": "<exact body>"}`),
    /// used before the node's `GET /v1/receipts/{id}/request` (`otr serve --publish-requests`).
    #[arg(long, value_name = "DIR")]
    pub requests: Option<PathBuf>,
    /// The challenger's secp256k1 key (a file of 64 hex digits): its account posts the bonds
    /// and plays the disputes (with `--chain-rpc`; a node's chain file is read-only).
    #[arg(long, value_name = "FILE", conflicts_with = "dev_key")]
    pub key: Option<PathBuf>,
    /// DEV: use anvil's prefunded account #1 as the challenger (dev chains only).
    #[arg(long)]
    pub dev_key: bool,
    /// Bond per dispute, in wei. [default: the contract's minimum bond]
    #[arg(long, value_name = "WEI")]
    pub bond_wei: Option<String>,
}

/// What one round found about one batch.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct BatchReport {
    pub index: u64,
    pub root: String,
    pub node: String,
    pub headers: u32,
    pub receipts_on_chain: u64,
    pub receipts_verified: u64,
    pub finality: String,
    pub problems: Vec<String>,
}

/// Where the watcher reads the chain from.
// One value per process: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum ChainSource {
    /// A node's embedded chain (`<data dir>/chain.json`), loaded read-only each round.
    File(PathBuf),
    /// Any EVM node over JSON-RPC, with the deployment's addresses.
    Rpc(RpcHost, SavedDeployment),
}

/// One round's view of the chain.
// One value per process: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum RoundChain {
    File(Chain),
    Rpc(RpcHost),
}

impl RoundChain {
    fn host(&mut self) -> &mut dyn Host {
        match self {
            RoundChain::File(c) => c,
            RoundChain::Rpc(h) => h,
        }
    }
}

impl ChainSource {
    fn from_args(args: &WatchArgs) -> Result<Self, CliError> {
        match (&args.chain_rpc, &args.chain_deployment, &args.data_dir) {
            (Some(url), Some(file), _) => {
                let saved = SavedDeployment::read_file(file).map_err(fail("WATCH_CHAIN"))?;
                let host = RpcHost::connect(url)
                    .map_err(|e| CliError::usage("WATCH_CHAIN", format!("{url}: {e}")))?;
                Ok(ChainSource::Rpc(host, saved))
            }
            (None, _, Some(dir)) => Ok(ChainSource::File(dir.clone())),
            _ => Err(CliError::usage(
                "WATCH_CHAIN",
                "give --data-dir, or --chain-rpc with --chain-deployment",
            )),
        }
    }

    /// The deployment and the chain as of now. A chain file is a private copy whose time is
    /// moved to the wall clock (finality is evaluated then); an RPC chain is read at its head.
    fn open(&self) -> Result<(SavedDeployment, RoundChain), CliError> {
        match self {
            ChainSource::File(dir) => {
                let saved = SavedDeployment::read(dir).map_err(fail("WATCH_CHAIN"))?;
                let path = dir.join(CHAIN_FILE);
                let mut chain = Chain::load(&path).map_err(|e| {
                    CliError::usage("WATCH_CHAIN", format!("{}: {e}", path.display()))
                })?;
                let now = input::time(None)?.0.max(0) as u64;
                let ahead = now.saturating_sub(chain.timestamp());
                chain.advance(ahead, 0);
                Ok((saved, RoundChain::File(chain)))
            }
            ChainSource::Rpc(host, saved) => Ok((saved.clone(), RoundChain::Rpc(host.clone()))),
        }
    }
}

struct Watcher {
    args: WatchArgs,
    source: ChainSource,
    anchors: otr_core::attestation::TrustAnchors,
    policy: otr_core::attestation::Policy,
    /// One verifier for the watch's life: the report and chain of a micro-batch are shared by all
    /// its receipts, so their signatures are checked once.
    verifier: otr_core::crypto::CachingVerifier<crate::native_crypto::OpensslVerifier>,
    /// receipt id -> (batch index, problem or none), once its bundle was posted and checked.
    checked: BTreeMap<String, (u64, Option<String>)>,
    reported: BTreeSet<(u64, String)>,
    /// Re-execution and disputes (`--model`).
    reexec: Option<crate::node::challenge::Watch>,
    /// The watched node's account (`/v1/node`): on a chain shared by several nodes, only its
    /// batches are reported.
    node_address: Option<[u8; 20]>,
    /// Verifying keys of the spot-check proofs in bundles (`--vk`, else the node's own).
    keys: Vec<otr_core::zk::PreparedVk>,
}

fn print_json<T: serde::Serialize>(v: &T) {
    if let Ok(line) = serde_json::to_string(v) {
        println!("{line}");
    }
}

/// The request of receipt `id`: from `--requests DIR`, else from the node.
fn request_of(args: &WatchArgs, id: &str) -> Option<crate::node::challenge::PublishedRequest> {
    if let Some(dir) = &args.requests {
        if let Ok(text) = std::fs::read_to_string(dir.join(format!("{id}.json"))) {
            return serde_json::from_str(&text).ok();
        }
    }
    let bytes = input::http_get(&format!("{}/v1/receipts/{id}/request", args.node)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Loads `--model` and the challenger account (a signer on the RPC host) for re-execution.
fn reexec_setup(
    args: &WatchArgs,
    source: &mut ChainSource,
) -> Result<Option<crate::node::challenge::Watch>, CliError> {
    let Some(model) = &args.model else {
        if args.key.is_some() || args.dev_key {
            return Err(CliError::usage(
                "WATCH_ARGS",
                "--key/--dev-key need --model (disputes follow re-execution)",
            ));
        }
        return Ok(None);
    };
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("otr-watch"));
    let engine = crate::node::engine_impl::load(model, &dir)
        .map_err(|e| CliError::usage("MODEL_LOAD", e))?;
    let key_hex = match (&args.key, args.dev_key) {
        (Some(p), _) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| CliError::usage("WATCH_KEY", format!("{}: {e}", p.display())))?,
        ),
        (None, true) => Some(crate::node::challenge::ANVIL_ACCOUNT1_KEY.to_string()),
        (None, false) => None,
    };
    let challenger = match (key_hex, source) {
        (None, _) => None,
        (Some(_), ChainSource::File(_)) => {
            return Err(CliError::usage(
                "WATCH_ARGS",
                "disputes need a shared chain (--chain-rpc): a node's chain file is read-only",
            ))
        }
        (Some(hex_key), ChainSource::Rpc(host, saved)) => {
            let key = hex::decode(hex_key.trim().trim_start_matches("0x"))
                .ok()
                .and_then(|b| k256::ecdsa::SigningKey::from_slice(&b).ok())
                .ok_or_else(|| CliError::usage("WATCH_KEY", "the key must be 64 hex digits"))?;
            let me = host.add_signer(key);
            let bond = match &args.bond_wei {
                Some(w) => w
                    .parse::<otr_contracts::U256>()
                    .map_err(|e| CliError::usage("WATCH_ARGS", format!("--bond-wei: {e}")))?,
                None => otr_contracts::host::view(
                    host,
                    saved.dispute_game,
                    &otr_contracts::bindings::dispute_game::DisputeGame::minBondCall {},
                )
                .map_err(|e| CliError::usage("WATCH_CHAIN", e.to_string()))?,
            };
            eprintln!(
                "otr watch: challenger 0x{} (bond {bond} wei per dispute)",
                hex::encode(me)
            );
            Some(crate::node::challenge::Challenger::new(me, bond).with_matrices_of(model))
        }
    };
    Ok(Some(crate::node::challenge::Watch::new(engine, challenger)))
}

fn fail(code: &'static str) -> impl Fn(String) -> CliError {
    move |m| CliError::usage(code, m)
}

impl Watcher {
    fn new(args: WatchArgs) -> Result<Self, CliError> {
        let mut anchors = otr_core::attestation::TrustAnchors::nvidia();
        let mut policy = otr_core::attestation::Policy::default();
        let info: serde_json::Value =
            serde_json::from_slice(&input::http_get(&format!("{}/v1/node", args.node))?)
                .map_err(|e| CliError::usage("WATCH_NODE", e.to_string()))?;
        let node_address = info["node_address"]
            .as_str()
            .and_then(|a| hex::decode(a.trim_start_matches("0x")).ok())
            .and_then(|b| <[u8; 20]>::try_from(b.as_slice()).ok());
        if args.allow_dev_root {
            if let Some(pem) = info["dev_root_pem"].as_str() {
                let der = otr_core::encoding::pem_certificates(pem.as_bytes())
                    .map_err(|_| CliError::usage("WATCH_NODE", "bad dev root"))?;
                let cert = otr_core::x509::Certificate::from_der(&der[0])
                    .map_err(|e| CliError::usage("WATCH_NODE", e.reason))?;
                anchors = anchors.with_dev_root(cert);
                policy.allow_dev_roots = true;
                policy.require_rims = false;
                policy.require_ocsp = false;
            }
        }
        let keys = if args.vks.is_empty() {
            let zk = &info["zk_spot_checks"];
            let published: Vec<&serde_json::Value> = match zk["keys"].as_array() {
                Some(list) => list.iter().map(|k| &k["verification_key"]).collect(),
                None if zk["verification_key"].is_object() => vec![&zk["verification_key"]],
                None => Vec::new(),
            };
            if !published.is_empty() {
                eprintln!(
                    "otr watch: checking spot-check proofs with the {} key(s) the node publishes (give --vk for keys you trust)",
                    published.len()
                );
            }
            published
                .into_iter()
                .map(|v| otr_core::zk::snarkjs::parse_vk(&v.to_string()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CliError::usage("WATCH_NODE", format!("published key: {e}")))?
        } else {
            args.vks
                .iter()
                .map(|p| {
                    let text = String::from_utf8(input::read(p)?).map_err(|_| {
                        CliError::usage("INPUT_READ", format!("{}: not UTF-8", p.display()))
                    })?;
                    otr_core::zk::snarkjs::parse_vk(&text).map_err(|e| CliError::rejected(&e))
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut source = ChainSource::from_args(&args)?;
        let reexec = reexec_setup(&args, &mut source)?;
        Ok(Watcher {
            reexec,
            source,
            args,
            anchors,
            policy,
            verifier: otr_core::crypto::CachingVerifier::new(
                crate::native_crypto::OpensslVerifier::new(),
                4096,
            ),
            checked: BTreeMap::new(),
            reported: BTreeSet::new(),
            node_address,
            keys,
        })
    }

    /// Verifies a posted bundle: everything `verify_bundle` checks, the batch root the chain
    /// holds, and every spot-check proof bound to `matrix_root` (the registry's `poseidonRoot`
    /// for the receipt's model).
    fn verify(
        &self,
        b: &AnswerBundle,
        onchain_root: &[u8; 32],
        matrix_root: &[u8; 32],
    ) -> Result<String, String> {
        let v = &self.verifier;
        let time = input::time(None).map_err(|e| e.message)?;
        let keyed: Vec<([u8; 32], &otr_core::zk::PreparedVk)> =
            self.keys.iter().map(|k| (k.key_id(), k)).collect();
        let opts = otr_core::verify::VerifyOptions {
            time,
            policy: &self.policy,
            anchors: &self.anchors,
            verifier: v,
            verifying_keys: &keyed,
            expected_request_hash: None,
            expected_weights_root: None,
            expected_temperature_milli: None,
            expected_prompt: None,
        };
        let code =
            |e: otr_core::verify::VerifyError| format!("{}: {e}", otr_core::ErrorCode::code(&e));
        let verified = otr_core::verify::verify_bundle(b, &opts).map_err(code)?;
        otr_core::verify::require_matrix_root(&verified.proofs, matrix_root).map_err(code)?;
        let r = b.rollup.as_ref().ok_or("no rollup section")?;
        verified
            .structure
            .check_batch(r.batch_index, onchain_root)
            .map_err(|e| format!("{}: {e}", otr_core::ErrorCode::code(&e)))?;
        Ok(format!("{:?}", verified.finality))
    }

    /// One pass over the chain and the node's receipts.
    fn round(&mut self) -> Result<Vec<BatchReport>, CliError> {
        let (saved, mut round_chain) = self.source.open()?;
        let d = saved.deployment();
        let chain = round_chain.host();
        let n = settlement::batch_count(chain, &d).map_err(fail("WATCH_CHAIN"))?;
        let mut batches = Vec::new();
        for i in 0..n {
            batches.push(settlement::read_batch(chain, &d, i).map_err(fail("WATCH_CHAIN"))?);
        }
        // Bundles of receipts not yet seen in a posted batch.
        let list: serde_json::Value = serde_json::from_slice(&input::http_get(&format!(
            "{}/v1/receipts",
            self.args.node
        ))?)
        .map_err(|e| CliError::usage("WATCH_NODE", e.to_string()))?;
        let ids: Vec<String> = list["receipts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        for id in ids {
            if self.checked.contains_key(&id) {
                continue;
            }
            let url = format!("{}/v1/receipts/{id}/bundle", self.args.node);
            let Ok(bytes) = input::http_get(&url) else {
                continue; // not batched yet, or the node is busy: next round
            };
            let b = match super::verify::read_bundle(&bytes) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("otr watch: {id}: unreadable bundle: {}", e.message);
                    continue;
                }
            };
            let Some(r) = &b.rollup else {
                continue; // not posted yet
            };
            let problem = match batches.get(r.batch_index as usize) {
                None => Some(format!(
                    "bundle names batch {} but the chain has {n} batches",
                    r.batch_index
                )),
                Some(onchain) => {
                    let matrix_root = otr_contracts::host::view(
                        chain,
                        d.registry,
                        &otr_contracts::bindings::model_registry::ModelRegistry::modelCall {
                            modelId: b.receipt.model_id.into(),
                        },
                    )
                    .map(|m| m.poseidonRoot.0)
                    .unwrap_or_default();
                    self.verify(&b, &onchain.root, &matrix_root).err()
                }
            };
            if let (Some(rx), None) = (self.reexec.as_mut(), &problem) {
                if !rx.seen(&id) {
                    if let Some(rref) = settlement::receipt_ref(&b) {
                        let req = request_of(&self.args, &id);
                        let (check, opened) = rx.check(chain, &d, &id, &b.receipt, &rref, req);
                        print_json(&serde_json::json!({ "reexecution": check }));
                        if let Some(ev) = opened {
                            print_json(&serde_json::json!({ "dispute": ev }));
                        }
                    }
                }
            }
            self.checked.insert(id, (r.batch_index, problem));
        }
        if let Some(rx) = self.reexec.as_mut() {
            for ev in rx
                .play(chain, &d)
                .map_err(|e| CliError::usage(e.code(), e.to_string()))?
            {
                print_json(&serde_json::json!({ "dispute": ev }));
            }
        }
        let mut out = Vec::new();
        for b in &batches {
            if self.node_address.is_some_and(|a| a != b.node) {
                continue; // another node's batch on a shared chain
            }
            let mut rep = BatchReport {
                index: b.index,
                root: hex::encode(b.root),
                node: format!("0x{}", hex::encode(b.node)),
                headers: b.header_count,
                receipts_on_chain: b.receipt_count,
                ..Default::default()
            };
            for (id, (idx, problem)) in &self.checked {
                if *idx != b.index {
                    continue;
                }
                match problem {
                    None => rep.receipts_verified += 1,
                    Some(p) => rep.problems.push(format!("{id}: {p}")),
                }
            }
            if rep.receipts_verified + (rep.problems.len() as u64) < rep.receipts_on_chain {
                rep.problems.push(format!(
                    "{} receipt(s) counted on-chain have no bundle from the node (cannot be checked)",
                    rep.receipts_on_chain - rep.receipts_verified - rep.problems.len() as u64
                ));
            }
            rep.finality = match d.finality(chain, b.index) {
                Ok(f) => format!("{f:?}"),
                Err(e) => format!("unknown ({e})"),
            };
            out.push(rep);
        }
        Ok(out)
    }
}

pub fn run(args: WatchArgs) -> Result<(), CliError> {
    let once = args.once;
    let interval = Duration::from_millis(args.interval_ms.max(100));
    let mut w = Watcher::new(args)?;
    loop {
        let reports = w.round()?;
        let mut bad = false;
        for r in &reports {
            bad |= !r.problems.is_empty();
            let line =
                serde_json::to_string(r).map_err(|e| CliError::usage("OUTPUT", e.to_string()))?;
            // Following: print a batch again only when what we know about it changed.
            let key = (r.index, line.clone());
            if once || w.reported.insert(key) {
                println!("{line}");
            }
        }
        if once {
            // Disputes opened in this pass are played to the end before the summary.
            let mut open = w.reexec.as_ref().map_or(0, |r| r.open_disputes());
            while open > 0 {
                std::thread::sleep(interval);
                let (saved, mut rc) = w.source.open()?;
                let d = saved.deployment();
                // A dev chain that mines only on transactions keeps the last block's time while
                // idle: an empty block brings its clock to now, so deadlines can pass. (Elsewhere
                // `advance` is refused and nothing happens.)
                let _ = rc.host().advance(0, 1);
                if let Some(rx) = w.reexec.as_mut() {
                    for ev in rx
                        .play(rc.host(), &d)
                        .map_err(|e| CliError::usage(e.code(), e.to_string()))?
                    {
                        print_json(&serde_json::json!({ "dispute": ev }));
                    }
                    open = rx.open_disputes();
                }
            }
            if let Some(rx) = &w.reexec {
                let s = rx.summary();
                bad |= s.disagreed > 0 || s.errors > 0;
                print_json(&serde_json::json!({ "summary": s }));
            }
            return if bad {
                Err(CliError {
                    code: "WATCH_PROBLEMS".into(),
                    message: "some posted receipts failed their checks or could not be checked"
                        .into(),
                    exit: 1,
                })
            } else {
                Ok(())
            };
        }
        std::thread::sleep(interval);
    }
}
