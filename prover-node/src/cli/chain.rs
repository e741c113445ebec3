//! `otr chain`: the registry owner's commands for a settlement deployment on an EVM node over
//! JSON-RPC. On the embedded chain and on dev chains (anvil) the node holds the owner's key and
//! registers its model and its matrix-vector step verifier itself; on any other chain the
//! registry's owner does it with these commands (docs/NODE.md, "On any EVM node"):
//!
//! - `otr chain register-model`: the model's registry entry and its step verifiers, exactly as
//!   the node registers them on a dev chain (`settlement::register_model`).
//! - `otr chain register-matvec`: the `MatVecStepVerifier` for the matrix shapes of the unit
//!   proving keys (`settlement::deploy_matvec_verifier`, the node's own code).
//! - `otr chain status`: what the registry says about a model, as JSON.
//!
//! The owner's key is checked against the registry's `owner()` before anything is sent.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::deploy::Deployment;
use otr_contracts::host::{self, Host};
use otr_contracts::rpc::RpcHost;
use otr_contracts::Address;
use serde_json::{json, Value};

use super::CliError;
use crate::node::dispute::{op, MatVecSetup};
use crate::node::inference::ModelInfo;
use crate::node::settlement::{self, SavedDeployment};

/// The registry owner's commands. Both owner commands read the registry's `owner()` and refuse
/// a key of another account (`NOT_REGISTRY_OWNER`, exit 2) before anything is signed.
#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Registers the model and its step verifiers in the registry, from the owner.
    ///
    /// Sends the model's entry (config, tokenizer and weights roots, the Poseidon root of its
    /// matrices, computed first; layer count) and names the step verifiers the node names on a
    /// dev chain (norms, residual add, RoPE, V cache, activation, attention): the node's own
    /// code. Nothing is sent when the registry already attributes the model's weights root,
    /// except the Poseidon root when the entry has none. Prints JSON (`action`, `sent`, the
    /// entry). Errors (exit 2): NOT_REGISTRY_OWNER, OWNER_KEY, CHAIN_DEPLOYMENT,
    /// CHAIN_ID_MISMATCH, CHAIN_RPC, MODEL_LOAD, CHAIN_TX.
    RegisterModel(RegisterModelArgs),
    /// Deploys and names the matrix-vector step verifier for `--zk-params` keys, from the owner.
    ///
    /// Deploys the Poseidon round schedule, one `MatVecGroth16Verifier` per unit shape of the
    /// proving keys (the node's `--zk-params` keys) and the `MatVecStepVerifier` over them, and
    /// names it for every matrix operator of the model whose matrix has a key's shape: disputes
    /// and on-chain spot checks at those steps are then settled by a unit proof. The model must
    /// be registered first. Nothing is sent when the registry already names a verifier for one
    /// of those operators. Prints JSON (`action`, `sent`, `named`, the operators and their
    /// verifier). Errors (exit 2): as register-model, and MODEL_NOT_REGISTERED, ZK_PARAMS,
    /// ZK_SHAPE_INVALID (no matrix of the keys' shape).
    RegisterMatvec(RegisterMatvecArgs),
    /// Prints what the registry says about the model, as JSON (sends nothing).
    ///
    /// Registered, active, weights root (and whether it is this model's), Poseidon root, layer
    /// count, the registry's owner, and the step verifier of every operator at a layer stage
    /// (stage 1) and at the head stage (`null`: none).
    Status(StatusArgs),
}

/// Where the deployment is.
#[derive(Debug, Args)]
pub struct ChainArgs {
    /// The EVM node's JSON-RPC URL.
    #[arg(long, env = "OTR_CHAIN_RPC", value_name = "URL")]
    pub chain_rpc: String,
    /// The deployment (the JSON the node writes: `chain-deployment.json`, or
    /// `rpc-deployment.json` on a dev chain).
    #[arg(long, env = "OTR_CHAIN_DEPLOYMENT", value_name = "FILE")]
    pub chain_deployment: PathBuf,
    /// The chain id the RPC node and the deployment must have.
    #[arg(long, env = "OTR_CHAIN_ID", default_value_t = 31337, value_name = "ID")]
    pub chain_id: u64,
    /// Model: a GGUF file, `gemma3-270m` or `fixture-gemma3` (as `otr serve --model`).
    #[arg(long, value_name = "MODEL")]
    pub model: String,
}

/// The owner's account and how it pays.
#[derive(Debug, Args)]
pub struct OwnerArgs {
    /// The registry owner's secp256k1 key: a file of 64 hex digits (an optional `0x`). Its
    /// address must be the registry's `owner()`; checked before anything is sent.
    #[arg(long, value_name = "FILE")]
    pub owner_key: PathBuf,
    /// The most offered per gas (EIP-1559 `maxFeePerGas`), in gwei, as `otr serve`: at a base
    /// fee at or above it nothing is sent; a transaction pending for 30 s is replaced with 25%
    /// higher fees within the cap. [default: no cap]
    #[arg(long, env = "OTR_CHAIN_MAX_FEE_GWEI", value_name = "GWEI")]
    pub chain_max_fee_gwei: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RegisterModelArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    #[command(flatten)]
    pub owner: OwnerArgs,
}

#[derive(Debug, Args)]
pub struct RegisterMatvecArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
    #[command(flatten)]
    pub owner: OwnerArgs,
    /// A finalized unit-proof setup (`otr zk ceremony finalize --out-dir DIR`: `pk.bin` and
    /// `transcript.json`), the keys the node serves with; repeat for several shapes.
    #[arg(long = "zk-params", value_name = "DIR", required = true)]
    pub zk_params: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub chain: ChainArgs,
}

pub fn run(cmd: ChainCommand) -> Result<(), CliError> {
    let out = match cmd {
        ChainCommand::RegisterModel(a) => register_model(a)?,
        ChainCommand::RegisterMatvec(a) => register_matvec(a)?,
        ChainCommand::Status(a) => status(a)?,
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&out).unwrap_or_else(|_| out.to_string())
    );
    Ok(())
}

fn fail(code: &'static str) -> impl Fn(String) -> CliError {
    move |m| CliError::usage(code, m)
}

fn hex_addr(a: Address) -> String {
    format!("0x{}", hex::encode(a))
}

fn hex32(h: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(h))
}

/// The RPC node and the deployment on it, checked: the chain id of the node, of the file and
/// `--chain-id` agree, and the registry has code.
fn open(a: &ChainArgs) -> Result<(RpcHost, SavedDeployment), CliError> {
    let saved =
        SavedDeployment::read_file(&a.chain_deployment).map_err(fail("CHAIN_DEPLOYMENT"))?;
    let mut host = RpcHost::connect(&a.chain_rpc)
        .map_err(|e| CliError::usage("CHAIN_RPC", format!("--chain-rpc {}: {e}", a.chain_rpc)))?;
    let rpc = |e: otr_contracts::CallError| CliError::usage("CHAIN_RPC", e.to_string());
    let got = host.chain_id().map_err(rpc)?;
    if got != a.chain_id || saved.chain_id != a.chain_id {
        return Err(CliError::usage(
            "CHAIN_ID_MISMATCH",
            format!(
                "--chain-id {}, the RPC node's chain id {got}, the deployment's {}: they must agree",
                a.chain_id, saved.chain_id
            ),
        ));
    }
    if host.code(saved.registry).map_err(rpc)?.is_empty() {
        return Err(CliError::usage(
            "CHAIN_DEPLOYMENT",
            format!(
                "{}: no registry contract at {} on chain {got}",
                a.chain_deployment.display(),
                hex_addr(saved.registry)
            ),
        ));
    }
    Ok((host, saved))
}

/// Reads the owner's key, checks that its address is the registry's `owner()` (nothing is sent
/// otherwise), adds it as the host's signer and sets the fee cap. Returns the deployment with
/// that owner (the registry's owner may have been transferred since the deployment file).
fn owner_signer(
    host: &mut RpcHost,
    saved: &SavedDeployment,
    a: &OwnerArgs,
) -> Result<Deployment, CliError> {
    let p = &a.owner_key;
    let text = std::fs::read_to_string(p)
        .map_err(|e| CliError::usage("OWNER_KEY", format!("{}: {e}", p.display())))?;
    let key = hex::decode(text.trim().trim_start_matches("0x"))
        .ok()
        .and_then(|b| k256::ecdsa::SigningKey::from_slice(&b).ok())
        .ok_or_else(|| {
            CliError::usage(
                "OWNER_KEY",
                format!("{}: not a secp256k1 key (64 hex digits)", p.display()),
            )
        })?;
    let me = otr_contracts::rpc::key_address(&key);
    let owner: Address = host::view(host, saved.registry, &ModelRegistry::ownerCall {})
        .map_err(|e| CliError::usage("CHAIN_RPC", format!("registry owner(): {e}")))?;
    if me != owner {
        return Err(CliError::usage(
            "NOT_REGISTRY_OWNER",
            format!(
                "the key in {} is the account {}, not the owner {} of the registry at {}; \
                 nothing sent",
                p.display(),
                hex_addr(me),
                hex_addr(owner),
                hex_addr(saved.registry)
            ),
        ));
    }
    host.add_signer(key);
    host.fees.max_fee_cap = a.chain_max_fee_gwei.map(|g| u128::from(g) * 1_000_000_000);
    let mut d = saved.deployment();
    d.owner = owner;
    Ok(d)
}

/// The model's registry facts. With `for_registration`, the step verifiers' parameters are
/// computed while the engine is loaded (the RoPE table roots and the embedding-row tree are
/// computed on first use from the model, which is gone once the engine is dropped).
fn load_model(model: &str, for_registration: bool) -> Result<ModelInfo, CliError> {
    eprintln!("loading {model} ...");
    let engine =
        crate::node::engine_impl::load(model, &std::env::temp_dir()).map_err(fail("MODEL_LOAD"))?;
    let info = engine.info();
    if for_registration {
        eprintln!("computing the RoPE table roots and the embedding-row tree ...");
        info.rope_roots.get();
        info.embed_rows.get();
    }
    Ok(info)
}

/// The registry's entry of `info`'s model id.
fn entry(
    host: &mut RpcHost,
    d: &SavedDeployment,
    info: &ModelInfo,
) -> Result<ModelRegistry::Model, CliError> {
    host::view(
        host,
        d.registry,
        &ModelRegistry::modelCall {
            modelId: info.model_id.into(),
        },
    )
    .map_err(|e| CliError::usage("CHAIN_RPC", format!("registry model(): {e}")))
}

fn register_model(a: RegisterModelArgs) -> Result<Value, CliError> {
    let (mut host, saved) = open(&a.chain)?;
    let d = owner_signer(&mut host, &saved, &a.owner)?;
    let info = load_model(&a.chain.model, true)?;
    // The Poseidon root is part of the entry: computed (or read from its cache) now, as the
    // node computes it at registration for a small model.
    eprintln!("committing the model's matrices (Poseidon root) ...");
    let root = info.matrix_root.get();
    let m = entry(&mut host, &saved, &info)?;
    let tx = |e: String| CliError::usage("CHAIN_TX", e);
    let attributed = m.active && m.weightsRoot == info.weights_root;
    let action = if !attributed {
        eprintln!("registering the model and its step verifiers ...");
        settlement::register_model(&mut host, &d, &info).map_err(tx)?;
        "registered"
    } else if let Some(r) = root.filter(|_| m.poseidonRoot == [0u8; 32]) {
        eprintln!("the entry has no Poseidon root: registering it ...");
        crate::node::zkroot::reregister(&mut host, &d, &info, r).map_err(tx)?;
        "poseidon_root_set"
    } else {
        "already_registered"
    };
    let m = entry(&mut host, &saved, &info)?;
    Ok(json!({
        "action": action,
        "sent": action != "already_registered",
        "model": info.name,
        "modelId": hex32(info.model_id),
        "registry": hex_addr(saved.registry),
        "owner": hex_addr(d.owner),
        "active": m.active,
        "weightsRoot": hex32(m.weightsRoot),
        "poseidonRoot": hex32(m.poseidonRoot),
        "numLayers": m.numLayers,
    }))
}

fn register_matvec(a: RegisterMatvecArgs) -> Result<Value, CliError> {
    let (mut host, saved) = open(&a.chain)?;
    let d = owner_signer(&mut host, &saved, &a.owner)?;
    let info = load_model(&a.chain.model, false)?;
    let m = entry(&mut host, &saved, &info)?;
    if !(m.active && m.weightsRoot == info.weights_root) {
        return Err(CliError::usage(
            "MODEL_NOT_REGISTERED",
            format!(
                "the registry at {} does not attribute model {} (0x{}) with its weights root: \
                 run `otr chain register-model` first; nothing sent",
                hex_addr(saved.registry),
                info.name,
                hex::encode(info.model_id)
            ),
        ));
    }
    eprintln!("loading the proving keys and the model's matrices of their shapes ...");
    let setup = MatVecSetup::load(&a.chain.model, &a.zk_params).map_err(fail("ZK_PARAMS"))?;
    if setup.op_shapes().is_empty() {
        return Err(CliError::usage(
            "ZK_SHAPE_INVALID",
            format!(
                "no matrix of {} has the shape of a key in {:?}; nothing sent",
                info.name, a.zk_params
            ),
        ));
    }
    let tx = |e: String| CliError::usage("CHAIN_TX", e);
    let already =
        settlement::matvec_verifier_named(&mut host, &d, info.model_id, &setup).map_err(tx)?;
    let named = if already {
        0
    } else {
        eprintln!("deploying the matrix-vector verifiers and naming them ...");
        settlement::deploy_matvec_verifier(&mut host, &d, info.model_id, &setup).map_err(tx)?
    };
    let mut operators = Vec::new();
    for (class, o, rows, cols, unit_rows, _) in setup.op_shapes() {
        let stage = settlement::matvec_stage(class, m.numLayers);
        let v = d
            .step_verifier(&mut host, info.model_id, stage, o)
            .map_err(|e| CliError::usage("CHAIN_RPC", e.to_string()))?;
        operators.push(json!({
            "stage": stage,
            "op": op_name(class, o),
            "rows": rows,
            "cols": cols,
            "unitRows": unit_rows,
            "verifier": hex_addr(v),
        }));
    }
    Ok(json!({
        "action": if already { "already_named" } else { "named" },
        "sent": !already,
        "named": named,
        "model": info.name,
        "modelId": hex32(info.model_id),
        "registry": hex_addr(saved.registry),
        "owner": hex_addr(d.owner),
        "operators": operators,
    }))
}

/// Names of the layer operators (engine `trace.rs` `op`) and of the head's (`head_op`).
const LAYER_OPS: [&str; 16] = [
    "ATTN_NORM",
    "Q",
    "K",
    "V",
    "Q_ROPE",
    "K_ROPE",
    "V_CACHE",
    "ATTN",
    "O",
    "RESID_ATTN",
    "FFN_NORM",
    "GATE",
    "UP",
    "ACT",
    "DOWN",
    "RESID_FFN",
];
const HEAD_OPS: [&str; 3] = ["FINAL_NORM", "LOGITS", "SAMPLE"];
const EMBED_OPS: [&str; 2] = ["PROMPT", "EMBED"];

fn op_name(class: u8, o: u8) -> String {
    let names: &[&str] = if class == 1 { &LAYER_OPS } else { &HEAD_OPS };
    names
        .get(o as usize)
        .map_or_else(|| o.to_string(), |s| s.to_string())
}

fn status(a: StatusArgs) -> Result<Value, CliError> {
    let (mut host, saved) = open(&a.chain)?;
    let info = load_model(&a.chain.model, false)?;
    let m = entry(&mut host, &saved, &info)?;
    let rpc = |e: otr_contracts::CallError| CliError::usage("CHAIN_RPC", e.to_string());
    let owner: Address =
        host::view(&mut host, saved.registry, &ModelRegistry::ownerCall {}).map_err(rpc)?;
    let d = saved.deployment();
    let head = m.numLayers + 1;
    // The registry maps a stage to a stage class by the entry's layer count: an unregistered
    // model has none.
    let registered = m.weightsRoot != [0u8; 32];
    let mut verifiers = |stage: u16, names: &[&str]| -> Result<Value, CliError> {
        let mut out = serde_json::Map::new();
        for (o, name) in names.iter().enumerate() {
            let v = d
                .step_verifier(&mut host, info.model_id, stage, o as u8)
                .map_err(rpc)?;
            out.insert(
                (*name).to_string(),
                if v == Address::ZERO {
                    Value::Null
                } else {
                    Value::String(hex_addr(v))
                },
            );
        }
        Ok(Value::Object(out))
    };
    let step_verifiers = if registered {
        json!({
            "embedding": {"stage": 0, "ops": verifiers(0, &EMBED_OPS)?},
            "layer": {"stage": 1, "ops": verifiers(1, &LAYER_OPS)?},
            "head": {"stage": head, "ops": verifiers(head, &HEAD_OPS)?},
        })
    } else {
        Value::Null
    };
    let mat_layer =
        [op::Q, op::K, op::V, op::O, op::GATE, op::UP, op::DOWN].map(|o| LAYER_OPS[o as usize]);
    Ok(json!({
        "model": info.name,
        "modelId": hex32(info.model_id),
        "chainId": saved.chain_id,
        "registry": hex_addr(saved.registry),
        "owner": hex_addr(owner),
        "registered": registered,
        "active": m.active,
        "weightsRoot": hex32(m.weightsRoot),
        "weightsRootMatches": m.weightsRoot == info.weights_root,
        "poseidonRoot": hex32(m.poseidonRoot),
        "numLayers": m.numLayers,
        "stepVerifiers": step_verifiers,
        "matVecOps": {"layer": mat_layer, "head": [HEAD_OPS[op::LOGITS as usize]]},
    }))
}
