//! End to end on anvil (issue 5): two `otr serve` nodes settling on one anvil chain (tiny
//! fixture model, dev attestation, `--publish-requests`), one of them cheating on every second
//! answer (`--dev-cheat-every 2 --dev-cheat-kind logits,matrix,prompt,split`: the first cheat's
//! first answer token's logits favour the runner-up, the second's first-layer `DOWN` output is
//! off in one row, the third's `PROMPT` leaf shows a text that is not its tokens', the fourth
//! feeds the model the request's text split into other pieces), and `otr watch` re-executing
//! every posted receipt. The cheater is slashed four times by the dispute game played to the end
//! by the watcher (naming the chunk of the node's claimed logits that differs, then refuting one
//! logit of it, recomputed on chain from its embedding row; refuting the claimed `DOWN` output
//! with the wrong row of the matrix; refuting the prompt's claim with the vocabulary piece that
//! is not its text, and the split one with the two adjacent tokens that make one piece) and the
//! node's own defence (claiming its logits, revealing the chunk; claiming its output; claiming
//! its prompt);
//! the honest node's batches finalize, it is paid its reward epoch, and the bundles report each
//! finality. Starts anvil itself (`scripts/anvil.sh`) and stops everything it started.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, http, start};
use otr_contracts::deploy::BatchFinality;
use otr_contracts::rpc::RpcHost;
use otr_contracts::{Address, Host, U256};
use otr_core::rollup::{evaluate_finality, AnswerBundle, DisputeState, Finality};
use otr_node::node::dispute::{self, Outcome, Phase};
use otr_node::node::settlement::SavedDeployment;

/// Kills a process this test started when dropped.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Stops the anvil started by `scripts/anvil.sh` (it prints the PID) when dropped.
struct Anvil(u32);

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.to_string()).status();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn start_anvil(port: u16) -> Anvil {
    let out = Command::new("bash")
        .arg(repo().join("scripts/anvil.sh"))
        .arg(port.to_string())
        .env(
            "ANVIL_LOG",
            std::env::temp_dir().join(format!("otr-anvil-e2e-{port}.log")),
        )
        .stderr(Stdio::inherit())
        .output()
        .expect("run scripts/anvil.sh");
    assert!(out.status.success(), "scripts/anvil.sh failed");
    let pid = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("anvil pid");
    Anvil(pid)
}

fn ask(port: u16, n: u32) -> String {
    let body = format!(
        r#"{{"prompt":"Settle dispute number {n}","max_tokens":4,"temperature":0,"otr_nonce":"{}"}}"#,
        hex::encode([n as u8 + 1; 32])
    );
    let (status, text) = http(port, "POST", "/v1/completions", &body).expect("node answers");
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["otr"]["receipt_id"].as_str().unwrap().to_string()
}

/// The bundle once its batch is posted (it carries a rollup section).
fn posted_bundle(port: u16, id: &str) -> AnswerBundle {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if let Some((200, text)) = http(port, "GET", &format!("/v1/receipts/{id}/bundle"), "") {
            let b = AnswerBundle::from_json(&text).expect("bundle json");
            if b.rollup.is_some() {
                return b;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("receipt {id} was not posted within 60 s");
}

fn finality_at(b: &AnswerBundle, now: u64) -> Finality {
    let s = b.chain_status.expect("chain status");
    evaluate_finality(&s.to_inputs(otr_core::UnixTime(now as i64)).unwrap()).unwrap()
}

fn node_address(port: u16) -> Address {
    let info: serde_json::Value =
        serde_json::from_str(&http(port, "GET", "/v1/node", "").unwrap().1).unwrap();
    info["node_address"].as_str().unwrap().parse().unwrap()
}

fn watch(url: &str, deployment: &Path, node_port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_otr"))
        .args(["watch", "--once", "--allow-dev-root", "--dev-key"])
        .args(["--model", "fixture-gemma3", "--interval-ms", "200"])
        .args(["--chain-rpc", url])
        .arg("--chain-deployment")
        .arg(deployment)
        .args(["--node", &format!("http://127.0.0.1:{node_port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start otr watch")
}

#[test]
fn cheater_is_slashed_honest_node_is_paid_and_bundles_report_finality() {
    let t0 = Instant::now();
    let anvil_port = free_port();
    let _anvil = start_anvil(anvil_port);
    let url = format!("http://127.0.0.1:{anvil_port}");
    let base = std::env::temp_dir().join(format!("otr-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (dir_a, dir_b) = (base.join("cheater"), base.join("honest"));
    let window = "20";
    let common_args = [
        "--chain-rpc",
        url.as_str(),
        "--publish-requests",
        "--challenge-window-secs",
        window,
        "--post-interval-ms",
        "300",
    ];
    // The cheater deploys the contracts on anvil (dev chain) and writes the deployment file;
    // the honest node joins that deployment.
    let (port_a, port_b) = (free_port(), free_port());
    let mut args_a = common_args.to_vec();
    // The cheat a node paid for a chosen answer would make: the first answer token's logits
    // biased towards the runner-up, so the pick follows from them. Refuted at that `LOGITS`
    // step: the watcher names the chunk that differs, the node reveals it, and one logit is
    // recomputed on chain from its embedding row. Then a tamper inside a layer: one row of a
    // `DOWN` output off by one, refuted with that row of `blk.0.ffn_down.weight`. Then a
    // `PROMPT` leaf whose text is not its tokens', refuted with one vocabulary piece. Then the
    // request's text fed as other pieces, refuted with the two tokens that make one piece.
    args_a.extend([
        "--dev-cheat-every",
        "2",
        "--dev-cheat-kind",
        "logits,matrix,prompt,split",
    ]);
    let _node_a = Reap(start(&dir_a, port_a, &args_a));
    let deployment = dir_a.join("rpc-deployment.json");
    let mut args_b = common_args.to_vec();
    let dep = deployment.to_string_lossy().to_string();
    args_b.extend(["--chain-deployment", dep.as_str()]);
    let _node_b = Reap(start(&dir_b, port_b, &args_b));
    let (addr_a, addr_b) = (node_address(port_a), node_address(port_b));

    let saved = SavedDeployment::read_file(&deployment).expect("deployment file");
    let d = saved.deployment();
    let mut host = RpcHost::connect(&url).unwrap();
    let stake_a0 = d.stake_of(&mut host, addr_a).unwrap();
    let stake_b0 = d.stake_of(&mut host, addr_b).unwrap();

    // Eight answers from the cheater (its 2nd, 4th, 6th and 8th are wrong), four from the
    // honest node.
    let ids_a: Vec<String> = (0..8).map(|n| ask(port_a, n)).collect();
    let ids_b: Vec<String> = (10..14).map(|n| ask(port_b, n)).collect();
    let bundles_b: Vec<AnswerBundle> = ids_b.iter().map(|id| posted_bundle(port_b, id)).collect();
    let bundles_a: Vec<AnswerBundle> = ids_a.iter().map(|id| posted_bundle(port_a, id)).collect();
    // What a client sees in the bundles' opened PROMPT leaf: the prompt it sent, but for the
    // prompt cheat's answer (whose tokens are the request's: the text is not what they say).
    // The split cheat's text is the prompt sent, on one token more: only the chain catches it.
    for (n, b) in bundles_a.iter().enumerate() {
        let o = b.prompt.as_ref().expect("the bundle opens the PROMPT leaf");
        let (claim, _) = otr_core::verify::check_prompt_opening(&b.receipt, o).unwrap();
        let sent = format!("Settle dispute number {n}");
        assert_eq!(claim.text == sent, n != 5, "{n}: {}", claim.text);
    }
    assert_eq!(
        bundles_a[7].receipt.prompt_tokens,
        bundles_a[6].receipt.prompt_tokens + 1
    );
    // A request is published only as the receipt committed to it.
    let (s, text) = http(
        port_a,
        "GET",
        &format!("/v1/receipts/{}/request", ids_a[1]),
        "",
    )
    .unwrap();
    assert_eq!(s, 200, "{text}");

    // The watchers: one per node (bundles come from the node's API).
    let mut watch_a = watch(&url, &deployment, port_a);
    let watch_b = watch(&url, &deployment, port_b);
    // The honest node's receipts all agree: its watcher opens nothing and exits 0.
    let out_b = watch_b.wait_with_output().unwrap();
    let text_b = String::from_utf8_lossy(&out_b.stdout).to_string();
    // It reports only its node's batches (the chain is shared), each without problems.
    assert!(out_b.status.success(), "{text_b}");
    let node_b_hex = format!("{addr_b:#x}");
    let mut reported = 0;
    for line in text_b.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        if let Some(node) = v["node"].as_str() {
            assert_eq!(node, node_b_hex, "{line}");
            assert_eq!(v["problems"].as_array().map(|a| a.len()), Some(0), "{line}");
            reported += 1;
        }
    }
    assert!(reported > 0, "{text_b}");
    let sum_b = summary(&text_b);
    assert_eq!(sum_b["agreed"], 4, "{text_b}");
    assert_eq!(sum_b["disputes"].as_array().unwrap().len(), 0, "{text_b}");

    // The cheater's watcher opens four disputes and plays them; the node bisects each down to
    // its first wrong step and claims it, and the watcher refutes the claim. The games are
    // waited for until every one is over; only a game that sits at one step with the node to
    // move, unchanged for 15 s (a node unable to move), has anvil's clock moved past the move
    // deadline (moving it earlier would end a game whose claim is still being made by timeout).
    let t = Instant::now();
    // The games' states when they last changed, and since when.
    let mut last: Vec<(Phase, u64, u64)> = Vec::new();
    let mut since = Instant::now();
    loop {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "disputes did not end"
        );
        let v = dispute::disputes_from(&mut host, &d, 0, Some(addr_a)).unwrap();
        let over = |x: &dispute::DisputeView| matches!(x.phase, Phase::Resolved(_));
        if v.len() == 4 && v.iter().all(over) {
            break;
        }
        let at_one_step = |x: &dispute::DisputeView| {
            x.phase == Phase::NodeToMove && x.disagree_size == x.agree_size + 1
        };
        let now: Vec<(Phase, u64, u64)> = v
            .iter()
            .map(|x| (x.phase, x.agree_size, x.disagree_size))
            .collect();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() > Duration::from_secs(15) && v.iter().any(at_one_step) {
            let secs = saved_move_timeout(&mut host, &d);
            host.advance(secs, 1).unwrap();
            since = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let out_a = wait_with_timeout(&mut watch_a, Duration::from_secs(60));
    let sum_a = summary(&out_a);
    eprintln!("cheater's watcher: {sum_a}");
    assert_eq!(sum_a["agreed"], 4, "{out_a}");
    assert_eq!(sum_a["disagreed"], 4, "{out_a}");
    let disputes = sum_a["disputes"].as_array().unwrap();
    assert_eq!(disputes.len(), 4, "{out_a}");
    // Settled by refuting the claimed logits and the claimed `DOWN` output, not by a timeout.
    assert_eq!(
        out_a.matches("\"move\":\"named_part\"").count(),
        1,
        "{out_a}"
    );
    assert_eq!(
        out_a.matches("\"move\":\"refuted_logit\"").count(),
        1,
        "{out_a}"
    );
    assert_eq!(
        out_a.matches("\"move\":\"refuted_row\"").count(),
        1,
        "{out_a}"
    );
    for m in ["refuted_prompt", "refuted_tokenization"] {
        assert_eq!(
            out_a.matches(&format!("\"move\":\"{m}\"")).count(),
            1,
            "{m}: {out_a}"
        );
    }
    for x in disputes {
        assert_eq!(x["outcome"], "challenger_won", "{out_a}");
        assert!(x["rounds"].as_u64().unwrap() >= 1, "{out_a}");
        assert_eq!(x["slashed_wei"], "500000000000000000", "{out_a}");
        let rid = x["receipt_id"].as_str().unwrap();
        assert!(
            rid == ids_a[1] || rid == ids_a[3] || rid == ids_a[5] || rid == ids_a[7],
            "{rid}"
        );
    }
    // On-chain: every dispute ChallengerWon, the cheater slashed four times, the honest node not.
    let slash = U256::from(10u64).pow(U256::from(18u64)) / U256::from(2u64);
    for v in dispute::disputes_from(&mut host, &d, 0, None).unwrap() {
        assert_eq!(v.node, addr_a);
        assert_eq!(v.phase, Phase::Resolved(Outcome::ChallengerWon));
    }
    assert_eq!(
        d.stake_of(&mut host, addr_a).unwrap(),
        stake_a0 - slash * U256::from(4u64)
    );
    assert_eq!(d.stake_of(&mut host, addr_b).unwrap(), stake_b0);

    // Bundles: the cheat receipts' batches report Slashed; the honest node's are final once the
    // window has passed (evaluated at chain time).
    host.advance(60, 1).unwrap();
    let now = host.timestamp().unwrap();
    for (i, id) in ids_a.iter().enumerate() {
        let b = posted_bundle(port_a, id);
        let idx = b.rollup.as_ref().unwrap().batch_index;
        let f = d.finality(&mut host, idx).unwrap();
        if i % 2 == 1 {
            assert!(
                matches!(
                    b.chain_status.unwrap().dispute,
                    DisputeState::ResolvedNodeLost { .. }
                ),
                "{id}"
            );
            assert!(matches!(finality_at(&b, now), Finality::Slashed { .. }));
            assert!(matches!(f, BatchFinality::Slashed { .. }));
        }
    }
    for (id, b0) in ids_b.iter().zip(&bundles_b) {
        let b = posted_bundle(port_b, id);
        assert!(
            matches!(finality_at(&b, now), Finality::Final { .. }),
            "{id}"
        );
        let idx = b.rollup.as_ref().unwrap().batch_index;
        assert!(matches!(
            d.finality(&mut host, idx).unwrap(),
            BatchFinality::Final { .. }
        ));
        assert_eq!(b.receipt, b0.receipt);
    }
    let _ = bundles_a;

    // The honest node is paid: its micro-batches' work is registered once final, seeded and
    // past the spot-check proof deadline; the epoch is funded and claimed when claims open.
    let owner = host.add_signer(
        k256::ecdsa::SigningKey::from_slice(
            &hex::decode(otr_contracts::rpc::ANVIL_DEV_KEY).unwrap(),
        )
        .unwrap(),
    );
    let batches: std::collections::BTreeSet<u64> = bundles_b
        .iter()
        .map(|b| b.rollup.as_ref().unwrap().batch_index)
        .collect();
    for &i in &batches {
        // (A node running spot checks records its batches' seeds itself.)
        match d.record_seed(&mut host, owner, i) {
            Ok(_) => {}
            Err(e) if e.is("SeedAlreadyRecorded") => {}
            Err(e) => panic!("recordSeed({i}): {e}"),
        }
    }
    host.advance(700, 1).unwrap();
    let mut work = U256::ZERO;
    let mut done = std::collections::BTreeSet::new();
    for b in &bundles_b {
        let r = b.rollup.as_ref().unwrap();
        if !done.insert(b.header.header_hash()) {
            continue;
        }
        // All receipts of this micro-batch, in leaf order, from the node's bundles.
        let mut rs: Vec<(u32, otr_core::rollup::Receipt)> = bundles_b
            .iter()
            .filter(|x| x.header.header_hash() == b.header.header_hash())
            .map(|x| (x.receipt_proof.leaf_index, x.receipt.clone()))
            .collect();
        rs.sort_by_key(|x| x.0);
        assert_eq!(rs.len() as u32, b.header.receipt_count);
        let receipts: Vec<_> = rs.into_iter().map(|x| x.1).collect();
        work += d
            .register_work(
                &mut host,
                owner,
                r.batch_index,
                r.header_index,
                &b.header,
                &r.path,
                &receipts,
            )
            .unwrap();
    }
    assert!(work > U256::ZERO);
    let posted_at = b_posted_at(&bundles_b[0]);
    let (epoch, opens) = d.reward_epoch(&mut host, posted_at).unwrap();
    let pool = U256::from(10u64).pow(U256::from(18u64));
    d.fund_epoch(&mut host, owner, epoch, pool).unwrap();
    let now = host.timestamp().unwrap();
    host.advance(opens.saturating_sub(now) + 1, 1).unwrap();
    let mut node_b_host = RpcHost::connect(&url).unwrap();
    let key_b = std::fs::read_to_string(dir_b.join("node-key.hex")).unwrap();
    let key_b = k256::ecdsa::SigningKey::from_slice(&hex::decode(key_b.trim()).unwrap()).unwrap();
    assert_eq!(node_b_host.add_signer(key_b), addr_b);
    let before = node_b_host.balance(addr_b).unwrap();
    let paid = d.claim_reward(&mut node_b_host, addr_b, epoch).unwrap();
    assert_eq!(
        paid, pool,
        "the only node with registered work takes the whole pool"
    );
    assert!(node_b_host.balance(addr_b).unwrap() > before);
    let e = d.claim_reward(&mut node_b_host, addr_b, epoch).unwrap_err();
    assert!(e.is("AlreadyPaid"), "{e}");
    eprintln!("e2e on anvil: {:.1} s", t0.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&base);
}

fn b_posted_at(b: &AnswerBundle) -> u64 {
    b.chain_status.unwrap().batch_posted_at
}

fn saved_move_timeout(host: &mut RpcHost, d: &otr_contracts::deploy::Deployment) -> u64 {
    use otr_contracts::bindings::dispute_game::DisputeGame;
    let t: U256 =
        otr_contracts::host::view(host, d.dispute_game, &DisputeGame::moveTimeoutCall {}).unwrap();
    t.saturating_to()
}

fn summary(stdout: &str) -> serde_json::Value {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("summary").cloned())
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"))
}

fn wait_with_timeout(c: &mut Child, limit: Duration) -> String {
    use std::io::Read;
    let t = Instant::now();
    loop {
        if let Some(_status) = c.try_wait().unwrap() {
            let mut s = String::new();
            c.stdout.take().unwrap().read_to_string(&mut s).unwrap();
            return s;
        }
        if t.elapsed() > limit {
            let _ = c.kill();
            let mut s = String::new();
            let _ = c.stdout.take().unwrap().read_to_string(&mut s);
            panic!("otr watch did not finish in {limit:?}:\n{s}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The node process defends itself over JSON-RPC: a frivolous dispute at a residual add of the
/// tiny Llama fixture (registered with its layer count and the residual-add step verifier) is
/// bisected by the node and won by its on-chain one-step proof; the challenger's bond goes to
/// the node and the treasury, the node's stake is untouched and its bundle reports the dispute
/// it won.
#[test]
fn honest_node_wins_a_frivolous_dispute_by_proving_a_residual_add_over_rpc() {
    use otr_contracts::proofs::Trace;
    use otr_node::node::challenge::{self, ChallengeWhat, Challenger, PublishedRequest};
    use otr_node::node::dispute::{leaf_key, op, LeafKey, Move};
    let anvil_port = free_port();
    let _anvil = start_anvil(anvil_port);
    let url = format!("http://127.0.0.1:{anvil_port}");
    let dir = std::env::temp_dir().join(format!("otr-e2e-llama-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let _node = Reap(start(
        &dir,
        port,
        &[
            "--model",
            "fixture-llama",
            "--chain-rpc",
            url.as_str(),
            "--challenge-window-secs",
            "120",
            "--post-interval-ms",
            "300",
        ],
    ));
    let node = node_address(port);
    let saved = SavedDeployment::read_file(&dir.join("rpc-deployment.json")).unwrap();
    let d = saved.deployment();
    let mut host = RpcHost::connect(&url).unwrap();
    let key = |h: &str| k256::ecdsa::SigningKey::from_slice(&hex::decode(h).unwrap()).unwrap();
    let owner = host.add_signer(key(otr_contracts::rpc::ANVIL_DEV_KEY));
    assert_eq!(owner, d.owner, "the node deployed from anvil's account 0");
    let me = host.add_signer(key(challenge::ANVIL_ACCOUNT1_KEY));

    let body = r#"{"prompt":"Residual adds are checked on-chain","max_tokens":3,"temperature":0,"otr_nonce":"4242424242424242424242424242424242424242424242424242424242424242"}"#;
    let (s, text) = http(port, "POST", "/v1/completions", body).unwrap();
    assert_eq!(s, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let id = v["otr"]["receipt_id"].as_str().unwrap().to_string();
    let b = posted_bundle(port, &id);

    // The node registered its model on this dev chain with its real shape and the residual-add
    // verifier (a plain-add model).
    let engine = otr_node::node::engine_impl::load("fixture-llama", &dir).unwrap();
    let req = PublishedRequest {
        endpoint: "completions".into(),
        nonce: "42".repeat(32),
        body: body.into(),
    };
    let re = challenge::reexecute(engine.as_ref(), &b.receipt, &req).unwrap();
    assert!(re.agrees(), "the node answered honestly");
    let keys: Vec<LeafKey> = re.run.leaves.iter().filter_map(|l| leaf_key(l)).collect();
    let layers = keys.iter().map(|k| k.stage).max().unwrap() - 1;
    let info = engine.info();
    let entry = otr_contracts::host::view(
        &mut host,
        d.registry,
        &otr_contracts::bindings::model_registry::ModelRegistry::modelCall {
            modelId: info.model_id.into(),
        },
    )
    .unwrap();
    assert_eq!(entry.numLayers, layers, "registered layer count");
    assert_eq!(entry.weightsRoot.0, info.weights_root);
    assert_eq!(entry.tokenizerHash.0, info.tokenizer_hash);
    assert_eq!(entry.configHash.0, info.config_hash);
    for op in [op::RESID_ATTN, op::RESID_FFN] {
        let v = otr_contracts::host::view(
            &mut host,
            d.registry,
            &otr_contracts::bindings::model_registry::ModelRegistry::stepVerifierCall {
                modelId: info.model_id.into(),
                stage: 1,
                op,
            },
        )
        .unwrap();
        assert_ne!(v, otr_contracts::Address::ZERO, "step verifier for op {op}");
    }

    // A challenger whose trace is wrong at layer 1's FFN residual add of position 1.
    let target = LeafKey {
        pos: 1,
        stage: 1,
        op: op::RESID_FFN,
    };
    let at = keys.iter().position(|k| *k == target).unwrap() as u64;
    let mut leaves = re.run.leaves.clone();
    leaves[at as usize][56] ^= 1;
    let stake0 = d.stake_of(&mut host, node).unwrap();
    let credit0 = d.credit_of(&mut host, node).unwrap();
    let bond = U256::from(10u64).pow(U256::from(17u64));
    let mut ch = Challenger::new(me, bond);
    let r = otr_node::node::settlement::receipt_ref(&b).unwrap();
    let opened = ch.open(&mut host, &d, &r, Trace::new(leaves), &id).unwrap();
    let t = Instant::now();
    let mut events = vec![opened];
    while ch.active() > 0 {
        assert!(t.elapsed() < Duration::from_secs(90), "{events:?}");
        events.extend(ch.round(&mut host, &d).unwrap());
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, outcome, rounds, slashed) = ch.finished.values().next().unwrap().clone();
    assert_eq!(outcome, Outcome::NodeWon, "{events:?}");
    assert!(rounds >= 1);
    assert_eq!(slashed, U256::ZERO);
    assert!(
        events
            .iter()
            .all(|e| !matches!(e.what, ChallengeWhat::Move(Move::TimedOut { .. }))),
        "the node won by its proof, not by a timeout: {events:?}"
    );
    let v = dispute::view(&mut host, &d, 0).unwrap();
    assert_eq!(v.phase, Phase::Resolved(Outcome::NodeWon));
    assert_eq!(d.stake_of(&mut host, node).unwrap(), stake0);
    assert_eq!(
        d.credit_of(&mut host, node).unwrap() - credit0,
        bond / U256::from(2u64)
    );
    let b = posted_bundle(port, &id);
    assert_eq!(
        b.chain_status.unwrap().dispute,
        DisputeState::ResolvedNodeWon
    );
    let _ = std::fs::remove_dir_all(&dir);
}
