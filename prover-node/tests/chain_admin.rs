//! The registry owner's commands on an RPC chain (`otr chain ...`) against a real anvil started
//! by `scripts/anvil.sh`: the settlement contracts are deployed from a separate, non-dev
//! account (whose key the test writes to a file), so the node could not register anything
//! there itself. A wrong owner key is refused with `NOT_REGISTRY_OWNER` and nothing is sent
//! (its nonce does not move); `otr chain register-matvec` before the model is registered is
//! refused with `MODEL_NOT_REGISTERED`; `otr chain register-model` then
//! `otr chain register-matvec` (keys of a two-party `otr zk ceremony` for the fixture's 64x64
//! shape) name the `MatVecStepVerifier` for exactly the operators of that shape, as read from the
//! registry directly and by `otr chain status`; a second run sends nothing. On the same anvil, a
//! node settling on that non-dev deployment does not name the verifier
//! (`Settlement::register_matvec_verifier` returns 0: it does not hold the owner's key), while a
//! node on its own dev deployment (owned by anvil's dev account) does, as on the embedded chain.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{ceremony, otr, tempdir, Anvil};
use otr_contracts::bindings::model_registry::ModelRegistry;
use otr_contracts::deploy::{Deployment, Params};
use otr_contracts::host;
use otr_contracts::rpc::{key_address, RpcHost};
use otr_contracts::{Address, Host, U256};
use otr_node::node::dispute::MatVecSetup;
use otr_node::node::settlement::{SavedDeployment, Settlement};
use serde_json::Value;

const MODEL: &str = "fixture-gemma3";

fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

fn nonce(h: &mut RpcHost, a: Address) -> String {
    h.request("eth_getTransactionCount", serde_json::json!([a, "latest"]))
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

fn key(byte: u8) -> k256::ecdsa::SigningKey {
    k256::ecdsa::SigningKey::from_slice(&[byte; 32]).unwrap()
}

fn write_key(dir: &Path, name: &str, k: &k256::ecdsa::SigningKey) -> String {
    let f = dir.join(name);
    std::fs::write(&f, hex::encode(k.to_bytes())).unwrap();
    f.to_string_lossy().into()
}

/// `otr chain SUB --chain-rpc URL --chain-deployment FILE --model fixture-gemma3 EXTRA...`.
fn chain(sub: &str, url: &str, deployment: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "chain",
        sub,
        "--chain-rpc",
        url,
        "--chain-deployment",
        deployment,
        "--chain-id",
        "31337",
        "--model",
        MODEL,
    ];
    args.extend_from_slice(extra);
    otr(&args)
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn owner_registers_model_and_matvec_verifier_on_an_rpc_chain() {
    let t0 = std::time::Instant::now();
    let anvil = Anvil::start();
    let dir = tempdir("chain-admin");
    let keys = ceremony(&dir);
    let mut rpc = RpcHost::connect(&anvil.url).unwrap();

    // The contracts' owner: a funded account that is not anvil's dev account.
    let owner_key = key(0x42);
    let owner = key_address(&owner_key);
    rpc.dev_fund(owner, eth(100)).unwrap();
    rpc.add_signer(owner_key.clone());
    let genesis = rpc.timestamp().unwrap();
    let params = Params {
        challenge_window: 600,
        ..Params::devnet()
    };
    let d = Deployment::deploy(&mut rpc, owner, &params, genesis).unwrap();
    let saved = SavedDeployment::new(31337, 600, &d);
    let dep_file = dir.join("deployment.json");
    saved.write_file(&dep_file).unwrap();
    let dep = dep_file.to_string_lossy().to_string();
    let owner_file = write_key(&dir, "owner.key", &owner_key);

    let engine = otr_node::node::engine_impl::load(MODEL, &dir).unwrap();
    let info = engine.info();
    let model_id = info.model_id;
    let attributed = |rpc: &mut RpcHost| -> bool {
        host::view(
            rpc,
            d.registry,
            &ModelRegistry::attributesCall {
                modelId: model_id.into(),
                weightsRoot: info.weights_root.into(),
            },
        )
        .unwrap()
    };

    // A wrong key (anvil's funded account 1): refused with its code before anything is sent.
    let wrong_key = k256::ecdsa::SigningKey::from_slice(
        &hex::decode(otr_node::node::challenge::ANVIL_ACCOUNT1_KEY).unwrap(),
    )
    .unwrap();
    let wrong = key_address(&wrong_key);
    let wrong_file = write_key(&dir, "wrong.key", &wrong_key);
    let (nonce_wrong, nonce_owner) = (nonce(&mut rpc, wrong), nonce(&mut rpc, owner));
    for sub in ["register-model", "register-matvec"] {
        let mut extra = vec!["--owner-key", wrong_file.as_str()];
        if sub == "register-matvec" {
            extra.extend(["--zk-params", keys.as_str()]);
        }
        let (code, out, err) = chain(sub, &anvil.url, &dep, &extra);
        assert_eq!(code, 2, "{sub}: {out}{err}");
        assert!(
            err.contains("error: NOT_REGISTRY_OWNER:") && err.contains("nothing sent"),
            "{sub}: {err}"
        );
        assert!(out.is_empty(), "{out}");
    }
    assert_eq!(
        nonce(&mut rpc, wrong),
        nonce_wrong,
        "the wrong key sent nothing"
    );
    assert!(!attributed(&mut rpc));
    // A key file that is not a key, and a deployment of another chain id.
    std::fs::write(dir.join("bad.key"), "not hex").unwrap();
    let (code, _, err) = chain(
        "register-model",
        &anvil.url,
        &dep,
        &["--owner-key", &dir.join("bad.key").to_string_lossy()],
    );
    assert_eq!(code, 2);
    assert!(err.contains("error: OWNER_KEY:"), "{err}");
    let (code, _, err) = otr(&[
        "chain",
        "status",
        "--chain-rpc",
        &anvil.url,
        "--chain-deployment",
        &dep,
        "--chain-id",
        "1",
        "--model",
        MODEL,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("error: CHAIN_ID_MISMATCH:"), "{err}");

    // The verifier needs the model's entry first.
    let (code, _, err) = chain(
        "register-matvec",
        &anvil.url,
        &dep,
        &["--owner-key", &owner_file, "--zk-params", &keys],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("error: MODEL_NOT_REGISTERED:"), "{err}");
    assert_eq!(nonce(&mut rpc, owner), nonce_owner, "nothing sent");

    let (code, out, err) = chain("status", &anvil.url, &dep, &[]);
    assert_eq!(code, 0, "{err}");
    let st = json(&out);
    assert_eq!(st["registered"], false, "{st}");
    assert_eq!(st["owner"], format!("0x{}", hex::encode(owner)));

    // The fee cap applies: at a cap below the base fee nothing is signed.
    let (code, _, err) = chain(
        "register-model",
        &anvil.url,
        &dep,
        &["--owner-key", &owner_file, "--chain-max-fee-gwei", "0"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error: CHAIN_TX:") && err.contains("fee cap"),
        "{err}"
    );
    assert_eq!(nonce(&mut rpc, owner), nonce_owner, "nothing sent");
    assert!(!attributed(&mut rpc));

    // register-model: the entry and the step verifiers, from the owner.
    let (code, out, err) = chain(
        "register-model",
        &anvil.url,
        &dep,
        &["--owner-key", &owner_file],
    );
    assert_eq!(code, 0, "{err}");
    let reg = json(&out);
    assert_eq!(reg["action"], "registered", "{reg}");
    assert!(attributed(&mut rpc));
    let m = host::view(
        &mut rpc,
        d.registry,
        &ModelRegistry::modelCall {
            modelId: model_id.into(),
        },
    )
    .unwrap();
    assert_eq!(m.numLayers, info.num_layers);
    assert_eq!(
        m.poseidonRoot.0,
        info.matrix_root.get().expect("the fixture's Poseidon root"),
        "the entry carries the matrices' Poseidon root"
    );
    // The node's norm verifier is named as the node names it (ATTN_NORM of a layer).
    assert_ne!(
        d.step_verifier(&mut rpc, model_id, 1, 0).unwrap(),
        Address::ZERO
    );

    let setup = Arc::new(MatVecSetup::load(MODEL, &[PathBuf::from(&keys)]).unwrap());
    let shapes: Vec<(u8, u8)> = setup.op_shapes().iter().map(|s| (s.0, s.1)).collect();
    assert!(!shapes.is_empty(), "the fixture has 64x64 matrices");
    let stage = |class: u8| if class == 1 { 1 } else { info.num_layers + 1 };
    // Registration names the refutation verifiers (no keys needed): every layer matrix step is
    // settled by refuting one row (`MatRowStepVerifier`), the head's logits by one logit.
    for &(class, op) in &shapes {
        assert!(d.refutable(&mut rpc, model_id, stage(class), op).unwrap());
    }
    let refuting = d.step_verifier(&mut rpc, model_id, 1, 1).unwrap();

    // A node settling on this deployment does not hold the owner's key: it names nothing.
    let node_dir = tempdir("chain-admin-node");
    let s = Settlement::open_rpc(
        &anvil.url,
        Some(&dep_file),
        &node_dir,
        31337,
        key(0x51),
        &info,
        600,
        0,
        None,
    )
    .unwrap();
    assert!(!s.holds_owner_key);
    assert_eq!(
        s.register_matvec_verifier(model_id, setup.clone()).unwrap(),
        0
    );
    let (class0, op0) = shapes[0];
    assert!(d.refutable(&mut rpc, model_id, stage(class0), op0).unwrap());
    drop(s);

    // register-matvec from the owner.
    let nonce_before = nonce(&mut rpc, owner);
    let (code, out, err) = chain(
        "register-matvec",
        &anvil.url,
        &dep,
        &["--owner-key", &owner_file, "--zk-params", &keys],
    );
    assert_eq!(code, 0, "{err}");
    let mv = json(&out);
    eprintln!("otr chain register-matvec: {mv}");
    assert_eq!(mv["action"], "named", "{mv}");
    assert_eq!(mv["named"], shapes.len(), "{mv}");
    assert_ne!(nonce(&mut rpc, owner), nonce_before);
    let verifier = d
        .step_verifier(&mut rpc, model_id, stage(class0), op0)
        .unwrap();
    assert_ne!(verifier, Address::ZERO);
    assert!(!rpc.code(verifier).unwrap().is_empty());
    // One MatVecStepVerifier for every operator of the keys' shape; the refutation verifier
    // for the others.
    for &(class, op) in &shapes {
        assert_eq!(
            d.step_verifier(&mut rpc, model_id, stage(class), op)
                .unwrap(),
            verifier
        );
    }
    let matrix_ops = [1u8, 2, 3, 8, 11, 12, 14];
    let unkeyed: Vec<u8> = matrix_ops
        .into_iter()
        .filter(|o| !shapes.contains(&(1, *o)))
        .collect();
    for &op in &unkeyed {
        assert_eq!(
            d.step_verifier(&mut rpc, model_id, 1, op).unwrap(),
            refuting,
            "op {op} has no key of its shape: still settled by refutation"
        );
    }
    let addr = format!("0x{}", hex::encode(verifier));
    for o in mv["operators"].as_array().unwrap() {
        assert_eq!(o["verifier"], addr, "{mv}");
    }

    // status: what the registry says, read by the command.
    let (code, out, err) = chain("status", &anvil.url, &dep, &[]);
    assert_eq!(code, 0, "{err}");
    let st = json(&out);
    eprintln!("otr chain status: {st}");
    assert_eq!(st["registered"], true, "{st}");
    assert_eq!(st["active"], true, "{st}");
    assert_eq!(st["weightsRootMatches"], true, "{st}");
    assert_eq!(
        st["weightsRoot"],
        format!("0x{}", hex::encode(info.weights_root))
    );
    let names = [
        (1u8, "Q"),
        (2, "K"),
        (3, "V"),
        (8, "O"),
        (11, "GATE"),
        (12, "UP"),
        (14, "DOWN"),
    ];
    for (op, name) in names {
        let v = &st["stepVerifiers"]["layer"]["ops"][name];
        if shapes.contains(&(1, op)) {
            assert_eq!(*v, Value::String(addr.clone()), "{name}: {st}");
        } else {
            let refuting = format!("0x{}", hex::encode(refuting));
            assert_eq!(*v, Value::String(refuting), "{name}: {st}");
        }
    }
    // The verifiers whose parameters the model computes on first use (RoPE table roots, the
    // embedding-row tree) are named too.
    assert!(
        st["stepVerifiers"]["layer"]["ops"]["Q_ROPE"].is_string(),
        "{st}"
    );
    // The embedding is recomputed on chain; the prompt's tokens are refuted against its text.
    assert!(
        st["stepVerifiers"]["embedding"]["ops"]["EMBED"].is_string(),
        "{st}"
    );
    assert!(
        st["stepVerifiers"]["embedding"]["ops"]["PROMPT"].is_string(),
        "{st}"
    );
    // Greedy sampling is settled by refutation (`SampleStepVerifier`).
    assert!(
        st["stepVerifiers"]["head"]["ops"]["SAMPLE"].is_string(),
        "{st}"
    );
    // The head's logits: the keys' matrix verifier when they prove its shape, else (a tied
    // head) the refutation verifier over the embedding rows.
    let head_logits = &st["stepVerifiers"]["head"]["ops"]["LOGITS"];
    if shapes.contains(&(2, 1)) {
        assert_eq!(*head_logits, Value::String(addr.clone()));
    } else {
        assert!(head_logits.is_string(), "{st}");
        assert_ne!(*head_logits, Value::String(addr.clone()));
    }

    // A second run sends nothing.
    let nonce_before = nonce(&mut rpc, owner);
    let (code, out, err) = chain(
        "register-matvec",
        &anvil.url,
        &dep,
        &["--owner-key", &owner_file, "--zk-params", &keys],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["sent"], false, "{out}");
    let (code, out, err) = chain(
        "register-model",
        &anvil.url,
        &dep,
        &["--owner-key", &owner_file],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["action"], "already_registered", "{out}");
    assert_eq!(nonce(&mut rpc, owner), nonce_before);

    // A node on its own dev deployment (anvil's dev account owns it) names the verifier itself.
    let dev_dir = tempdir("chain-admin-dev");
    let s = Settlement::open_rpc(
        &anvil.url,
        None,
        &dev_dir,
        31337,
        key(0x52),
        &info,
        600,
        0,
        None,
    )
    .unwrap();
    assert!(s.holds_owner_key);
    assert_ne!(s.deployment.registry, d.registry);
    let named = s.register_matvec_verifier(model_id, setup.clone()).unwrap();
    assert_eq!(named, shapes.len());
    let dev_d = s.deployment.clone();
    let v = dev_d
        .step_verifier(&mut rpc, model_id, stage(class0), op0)
        .unwrap();
    assert_ne!(v, Address::ZERO);
    // At a restart it finds it named and sends nothing.
    assert_eq!(s.register_matvec_verifier(model_id, setup).unwrap(), 0);
    eprintln!("chain admin on anvil: {:.1} s", t0.elapsed().as_secs_f64());
}
