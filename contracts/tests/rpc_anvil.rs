//! The JSON-RPC host against a real anvil (started by `scripts/anvil.sh` on a free port): the
//! settlement contracts deployed, a node staked and posting with locally signed transactions,
//! reverts decoded as on revm, dev-chain time, and the light client verifying the batch from
//! `eth_getProof` and rebuilt headers.

use otr_contracts::deploy::{Deployment, Params};
use otr_contracts::rpc::{key_address, RpcHost, ANVIL_DEV_KEY};
use otr_contracts::{Host, U256};
use otr_core::chain::{keccak256, verify_batch_inclusion, BatchLayout, Checkpoint, LightError};
use otr_core::rollup::{DisputeState, MicroBatchHeader};
use std::path::PathBuf;
use std::process::Command;

/// anvil on a free port, killed on drop.
pub struct Anvil {
    pub url: String,
    pid: String,
}

impl Anvil {
    pub fn start() -> Anvil {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/anvil.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg(port.to_string())
            .output()
            .expect("run scripts/anvil.sh");
        assert!(
            out.status.success(),
            "scripts/anvil.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Anvil {
            url: format!("http://127.0.0.1:{port}"),
            pid: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        }
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}

fn eth(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

#[test]
fn settlement_on_anvil_over_json_rpc_and_light_client_inclusion() {
    let anvil = Anvil::start();
    let mut rpc = RpcHost::connect(&anvil.url).expect("connect");
    assert_eq!(rpc.chain_id().unwrap(), 31337);
    assert!(rpc.is_dev());

    let owner_key =
        k256::ecdsa::SigningKey::from_slice(&hex::decode(ANVIL_DEV_KEY).unwrap()).unwrap();
    let owner = rpc.add_signer(owner_key);
    let node_key = k256::ecdsa::SigningKey::from_slice(&[0x42; 32]).unwrap();
    let node = rpc.add_signer(node_key.clone());
    assert_eq!(node, key_address(&node_key));
    assert_eq!(
        node.0 .0,
        otr_core::rollup::eth_address(node_key.verifying_key())
    );

    let params = Params {
        challenge_window: 300,
        ..Params::devnet()
    };
    let t0 = rpc.timestamp().unwrap();
    let d = Deployment::deploy(&mut rpc, owner, &params, t0).expect("deploy over RPC");
    assert!(!rpc.code(d.settlement).unwrap().is_empty());

    // An unfunded key has no gas: the node refuses before sending anything.
    rpc.dev_fund(node, eth(20)).expect("fund the node");
    assert_eq!(rpc.balance(node).unwrap(), eth(20));

    let header = MicroBatchHeader {
        version: 1,
        chain_id: 31337,
        node_address: node.0 .0,
        sequence: 0,
        prev_header_hash: [0; 32],
        receipts_root: [0x77; 32],
        receipt_count: 3,
        timestamp: rpc.timestamp().unwrap(),
    };
    // Not staked yet: the revert decodes to the contract's custom error, as on revm.
    let e = d
        .post_batch(&mut rpc, node, std::slice::from_ref(&header))
        .map(|_| ())
        .unwrap_err();
    assert!(e.is("NotStaked"), "got {e}");

    d.stake(&mut rpc, node, eth(2)).expect("stake");
    let (index, out) = d
        .post_batch(&mut rpc, node, std::slice::from_ref(&header))
        .expect("post");
    assert_eq!(index, 0);
    assert!(out.gas_used > 21_000);
    assert!(!out.logs.is_empty());
    let b = d.batch(&mut rpc, 0).unwrap();
    assert_eq!(
        b.root.0,
        otr_contracts::proofs::batch_root(std::slice::from_ref(&header))
    );
    let posted_block = rpc.block_number().unwrap();

    // Posting the same header again is refused by the contract.
    let e = d
        .post_batch(&mut rpc, node, std::slice::from_ref(&header))
        .map(|_| ())
        .unwrap_err();
    assert!(e.revert_name().is_some(), "got {e}");

    // Dev-chain time: the window runs out.
    let before = rpc.timestamp().unwrap();
    rpc.advance(10, 3).unwrap();
    assert!(rpc.timestamp().unwrap() >= before + 10);
    assert_eq!(rpc.block_number().unwrap(), posted_block + 3);

    // The light client: the batch as of the posting block, under the newest block's hash.
    let code_hash = keccak256(&rpc.code(d.settlement).unwrap());
    let layout = BatchLayout::settlement(params.challenge_window, Some(code_hash));
    let slots = layout.required_slots(0);
    let (account, storage) = rpc
        .get_proof(d.settlement, &slots, posted_block)
        .expect("eth_getProof");
    let top = rpc.block_number().unwrap();
    let headers = rpc.header_chain(posted_block, top).expect("headers");
    assert_eq!(headers.len() as u64, top - posted_block + 1);
    let checkpoint = Checkpoint {
        chain_id: 31337,
        block_hash: rpc.block_hash(top).unwrap().0,
    };
    let claims = verify_batch_inclusion(
        &checkpoint,
        &headers,
        &account,
        &storage,
        &d.settlement.0 .0,
        &layout,
        0,
    )
    .expect("inclusion verifies");
    assert_eq!(claims.batch_root, b.root.0);
    assert_eq!(claims.block_number, posted_block);
    assert_eq!(claims.confirmations, 3);
    assert_eq!(claims.node, Some(node.0 .0));
    assert_eq!(claims.window_end, claims.posted_at + 300);
    assert_eq!(claims.dispute_state, DisputeState::None);

    // A checkpoint the chain does not end at is refused.
    let wrong = Checkpoint {
        chain_id: 31337,
        block_hash: rpc.block_hash(top - 1).unwrap().0,
    };
    let e = verify_batch_inclusion(
        &wrong,
        &headers,
        &account,
        &storage,
        &d.settlement.0 .0,
        &layout,
        0,
    )
    .unwrap_err();
    assert!(matches!(e, LightError::HeaderNotOnChain(_)), "got {e:?}");
}

#[test]
fn unknown_senders_and_unreachable_nodes_are_rejected() {
    let anvil = Anvil::start();
    let mut rpc = RpcHost::connect(&anvil.url).expect("connect");
    let stranger = otr_contracts::Address::repeat_byte(0x99);
    let e = rpc
        .send(stranger, Some(stranger), Default::default(), U256::ZERO)
        .unwrap_err();
    assert!(e.to_string().contains("no key"), "got {e}");
    assert!(RpcHost::connect("http://127.0.0.1:1").is_err());
}

#[test]
fn fee_policy_offers_within_the_cap_and_bumps_by_what_nodes_accept() {
    use otr_contracts::rpc::FeePolicy;
    let gwei = 1_000_000_000u128;
    let open = FeePolicy::default();
    assert_eq!(open.offer(10 * gwei, gwei), Ok((21 * gwei, gwei)));
    let capped = FeePolicy {
        max_fee_cap: Some(15 * gwei),
        ..FeePolicy::default()
    };
    // 2 base + tip above the cap: the cap, and a tip that fits under it.
    assert_eq!(capped.offer(10 * gwei, gwei), Ok((15 * gwei, gwei)));
    assert_eq!(
        capped.offer(14 * gwei, 3 * gwei),
        Ok((15 * gwei, gwei)),
        "tip cut to cap - base"
    );
    let e = capped.offer(15 * gwei, gwei).unwrap_err();
    assert!(e.contains("fee cap"), "{e}");
    // Bumps: at least 10% on both fees; none when the cap leaves no room for it.
    let (f, t) = open.bumped(20 * gwei, gwei).unwrap();
    assert!(f * 10 >= 20 * gwei * 11 && t * 10 >= gwei * 11, "{f} {t}");
    assert_eq!(capped.bumped(15 * gwei, gwei), None);
    let (f, _) = capped.bumped(12 * gwei, gwei).unwrap();
    assert_eq!(f, 15 * gwei);
    // A tiny tip still rises.
    assert!(open.bumped(10, 1).unwrap().1 >= 2);
}

#[test]
fn a_pending_transaction_is_replaced_with_higher_fees_and_the_fee_cap_is_kept() {
    use otr_contracts::rpc::FeePolicy;
    use serde_json::json;
    let anvil = Anvil::start();
    let mut rpc = RpcHost::connect(&anvil.url).expect("connect");
    let key = k256::ecdsa::SigningKey::from_slice(&hex::decode(ANVIL_DEV_KEY).unwrap()).unwrap();
    let from = rpc.add_signer(key);
    let to = otr_contracts::Address::repeat_byte(0x77);
    let quantity = |v: &serde_json::Value| {
        u128::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    };

    // Blocks only on request: the first transaction stays pending and is replaced.
    rpc.request("evm_setAutomine", json!([false])).unwrap();
    let suggested_tip = quantity(&rpc.request("eth_maxPriorityFeePerGas", json!([])).unwrap());
    rpc.fees = FeePolicy {
        replace_after: std::time::Duration::from_millis(700),
        ..FeePolicy::default()
    };
    let sender = std::thread::spawn(move || {
        let out = rpc.send(from, Some(to), Default::default(), U256::from(7u64));
        (rpc, out)
    });
    let mut ctl = RpcHost::connect(&anvil.url).expect("connect");
    // Mine once the pool holds a replacement (the pending nonce-0 transaction pays more than
    // the first offer).
    let t = std::time::Instant::now();
    loop {
        let pool = ctl.request("txpool_content", json!([])).unwrap();
        let pending = pool["pending"]
            .as_object()
            .and_then(|m| {
                m.iter()
                    .find(|(a, _)| a.eq_ignore_ascii_case(&from.to_string()))
            })
            .and_then(|(_, txs)| txs.get("0").cloned());
        if pending.is_some_and(|tx| quantity(&tx["maxPriorityFeePerGas"]) > suggested_tip) {
            break;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(60),
            "no replacement in the pool: {pool}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    ctl.request("evm_mine", json!([])).unwrap();
    let (mut rpc, out) = sender.join().unwrap();
    out.expect("the replacement is mined");
    let block = ctl
        .request("eth_getBlockByNumber", json!(["latest", true]))
        .unwrap();
    let txs = block["transactions"].as_array().unwrap();
    assert_eq!(txs.len(), 1, "one of the same-nonce transactions is mined");
    assert_eq!(quantity(&txs[0]["nonce"]), 0);
    let tip = quantity(&txs[0]["maxPriorityFeePerGas"]);
    assert!(
        tip * 100 >= suggested_tip * 125,
        "the mined one is a replacement: tip {tip} against the first offer's {suggested_tip}"
    );
    let count = ctl
        .request("eth_getTransactionCount", json!([from, "latest"]))
        .unwrap();
    assert_eq!(quantity(&count), 1);

    // The cap: at the base fee nothing is sent; above it the offer stays under it.
    rpc.request("evm_setAutomine", json!([true])).unwrap();
    let latest = rpc
        .request("eth_getBlockByNumber", json!(["latest", false]))
        .unwrap();
    let base = quantity(&latest["baseFeePerGas"]);
    rpc.fees.max_fee_cap = Some(base);
    let e = rpc
        .send(from, Some(to), Default::default(), U256::from(1u64))
        .unwrap_err();
    assert!(e.to_string().contains("fee cap"), "{e}");
    let count = rpc
        .request("eth_getTransactionCount", json!([from, "pending"]))
        .unwrap();
    assert_eq!(quantity(&count), 1, "nothing was sent");
    rpc.fees.max_fee_cap = Some(base * 3 / 2 + 1);
    rpc.send(from, Some(to), Default::default(), U256::from(1u64))
        .expect("mined under the cap");
    let block = rpc
        .request("eth_getBlockByNumber", json!(["latest", true]))
        .unwrap();
    let max_fee = quantity(&block["transactions"][0]["maxFeePerGas"]);
    assert!(max_fee <= base * 3 / 2 + 1, "{max_fee} above the cap");
}
