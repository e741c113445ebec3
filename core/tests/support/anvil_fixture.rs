//! Loads `fixtures/light-client/anvil-basic`: anvil's JSON-RPC output turned into the verifier's
//! inputs. Header RLP is rebuilt from the JSON fields and must hash to the block's `hash`.
#![allow(dead_code)]

use std::path::PathBuf;

use otr_core::chain::rlp;
use otr_core::chain::{keccak256, AccountProof, BatchLayout, Checkpoint, StorageProof};
use serde_json::Value;

pub struct Eip1186 {
    pub account: AccountProof,
    pub storage: Vec<StorageProof>,
}

pub struct AnvilFixture {
    pub case: Value,
    pub contract: [u8; 20],
    pub layout: BatchLayout,
    pub checkpoint: Checkpoint,
    pub canonical_headers: Vec<Vec<u8>>,
    pub reorged_headers: Vec<Vec<u8>>,
    pub canonical: Eip1186,
    pub reorged: Eip1186,
}

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/light-client/anvil-basic")
}

fn read(name: &str) -> Value {
    let p = dir().join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn bytes(v: &Value) -> Vec<u8> {
    let s = v.as_str().expect("hex string");
    hex::decode(s.strip_prefix("0x").unwrap()).unwrap()
}

pub fn fixed<const N: usize>(v: &Value) -> [u8; N] {
    bytes(v).try_into().expect("fixed-size hex")
}

/// A JSON-RPC quantity (`0x`-hex, no leading zeros) as a 32-byte big-endian word.
pub fn word(v: &Value) -> [u8; 32] {
    let s = v.as_str().unwrap().strip_prefix("0x").unwrap();
    let padded = format!("{s:0>64}");
    hex::decode(padded).unwrap().try_into().unwrap()
}

/// Header fields in RLP order: (JSON name, is a quantity).
const FIELDS: [(&str, bool); 21] = [
    ("parentHash", false),
    ("sha3Uncles", false),
    ("miner", false),
    ("stateRoot", false),
    ("transactionsRoot", false),
    ("receiptsRoot", false),
    ("logsBloom", false),
    ("difficulty", true),
    ("number", true),
    ("gasLimit", true),
    ("gasUsed", true),
    ("timestamp", true),
    ("extraData", false),
    ("mixHash", false),
    ("nonce", false),
    ("baseFeePerGas", true),
    ("withdrawalsRoot", false),
    ("blobGasUsed", true),
    ("excessBlobGas", true),
    ("parentBeaconBlockRoot", false),
    ("requestsHash", false),
];

/// The RLP header of an `eth_getBlockByNumber` object; panics unless it hashes to `hash`.
pub fn header_rlp(block: &Value) -> Vec<u8> {
    let mut items = Vec::new();
    for (name, quantity) in FIELDS {
        let Some(v) = block.get(name) else { break };
        items.push(if quantity {
            let mut out = Vec::new();
            rlp::encode_uint(&mut out, &word(v));
            out
        } else {
            rlp::bytes(&bytes(v))
        });
    }
    let raw = rlp::list_of(&items);
    assert_eq!(
        keccak256(&raw).to_vec(),
        bytes(&block["hash"]),
        "header {} does not re-encode to its hash",
        block["number"]
    );
    raw
}

fn eip1186(v: &Value) -> Eip1186 {
    let nodes = |a: &Value| a.as_array().unwrap().iter().map(bytes).collect::<Vec<_>>();
    let account = AccountProof {
        address: fixed(&v["address"]),
        nonce: u64::from_str_radix(v["nonce"].as_str().unwrap().trim_start_matches("0x"), 16)
            .unwrap(),
        balance: word(&v["balance"]),
        storage_hash: fixed(&v["storageHash"]),
        code_hash: fixed(&v["codeHash"]),
        proof: nodes(&v["accountProof"]),
    };
    let storage = v["storageProof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| StorageProof {
            key: word(&s["key"]),
            value: word(&s["value"]),
            proof: nodes(&s["proof"]),
        })
        .collect();
    Eip1186 { account, storage }
}

impl AnvilFixture {
    pub fn load() -> AnvilFixture {
        let case = read("case.json");
        let headers = read("headers.json");
        let proofs = read("proof.json");
        let list = |v: &Value| {
            v.as_array()
                .unwrap()
                .iter()
                .map(header_rlp)
                .collect::<Vec<_>>()
        };
        let c = &case["contract"];
        let layout = BatchLayout::settlement(
            c["challenge_window_secs"].as_u64().unwrap(),
            Some(fixed(&c["code_hash"])),
        );
        let checkpoint = Checkpoint {
            chain_id: case["checkpoint"]["chain_id"].as_u64().unwrap(),
            block_hash: fixed(&case["checkpoint"]["block_hash"]),
        };
        AnvilFixture {
            contract: fixed(&c["address"]),
            layout,
            checkpoint,
            canonical_headers: list(&headers["canonical"]),
            reorged_headers: list(&headers["reorged"]),
            canonical: eip1186(&proofs["canonical"]),
            reorged: eip1186(&proofs["reorged"]),
            case,
        }
    }

    /// The storage proofs of `batch`, in the order the layout requires.
    pub fn storage_for(&self, proofs: &Eip1186, batch: u64) -> Vec<StorageProof> {
        self.layout
            .required_slots(batch)
            .iter()
            .map(|slot| {
                proofs
                    .storage
                    .iter()
                    .find(|s| s.key == *slot)
                    .unwrap_or_else(|| panic!("no proof for slot {}", hex::encode(slot)))
                    .clone()
            })
            .collect()
    }

    pub fn slot_proof(&self, proofs: &Eip1186, slot: u64) -> StorageProof {
        let key = otr_core::chain::layout::word_of(slot);
        proofs
            .storage
            .iter()
            .find(|s| s.key == key)
            .unwrap()
            .clone()
    }
}
