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
