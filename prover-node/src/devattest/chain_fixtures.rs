//! Self-made light-client fixtures: `fixtures/light-client/dev-chain/<case>/`. Each case is a
//! small Ethereum-shaped chain built here from fixed inputs (a state trie holding the settlement
//! contract and three other accounts, the contract's storage trie, four Prague block headers
//! linked by parent hash) and the section a node staples to a bundle for batch 9
//! (`chain_proof`: the headers, the account proof and the batch's storage proofs), as
//! `eth_getProof` would answer for that state. NOT A REAL CHAIN: no node ever mined it; the
//! block hash to trust is written next to it.
//!
//! `ok` is well-formed; every other case has one defect in the chain's state itself (so its
//! proofs are genuine proofs of a defective state, not tampered ones), or asks about a batch
//! the state does not hold, or (`batch_root_mismatch`) staples a correct proof of another root
//! to a bundle. Deterministic: no randomness, `scripts/check-fixtures.sh` regenerates the folder
//! and compares bytes.

use std::path::Path;

use otr_core::chain::layout::word_of;
use otr_core::chain::rlp;
use otr_core::chain::trie::EMPTY_ROOT;
use otr_core::chain::{keccak256, AccountProof, BatchLayout, ChainProof, StorageProof};
use otr_core::rollup::{ChainStatus, DisputeState};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::bundle::{build_bundle, node_key, sample_receipt, BundleSpec};
use super::fixtures::{FIXTURE_SEED, FIXTURE_TIME};
use super::DevGpu;

type Hash = [u8; 32];

/// FIXTURE_TIME as Unix seconds.
const NOW: u64 = 1_767_225_600;
const CHAIN_ID: u64 = 31337;
const WINDOW: u64 = 3600;
/// The batch every case is about (the one `fixtures/bundles/in_window` names).
const BATCH: u64 = 9;
/// The proven block: the state the proofs are against; three blocks follow it.
const PROVEN_BLOCK: u64 = 100;
const DESCENDANTS: u64 = 3;

// ---------------------------------------------------------------------------------------------
// A Merkle-Patricia trie builder (yellow paper appendix D), enough for roots and proofs.

enum Node {
    Leaf {
        path: Vec<u8>,
        value: Vec<u8>,
    },
    Ext {
        path: Vec<u8>,
        child: Box<Node>,
    },
    /// `value` is empty in every well-formed secure trie.
    Branch {
        children: Vec<Option<Node>>,
        value: Vec<u8>,
    },
}

fn nibbles(h: &Hash) -> Vec<u8> {
    h.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect()
}

fn hex_prefix(path: &[u8], leaf: bool) -> Vec<u8> {
    let flag = if leaf { 2 } else { 0 } + (path.len() % 2) as u8;
    let mut out = Vec::new();
    let rest = if path.len() % 2 == 1 {
        out.push((flag << 4) | path[0]);
        &path[1..]
    } else {
        out.push(flag << 4);
        path
    };
    for pair in rest.chunks(2) {
        out.push((pair[0] << 4) | pair[1]);
    }
    out
}

impl Node {
    /// `entries`: distinct 64-nibble paths, sorted; `depth` nibbles already used.
    fn build(entries: &[(Vec<u8>, Vec<u8>)], depth: usize) -> Node {
        if entries.len() == 1 {
            return Node::Leaf {
                path: entries[0].0[depth..].to_vec(),
                value: entries[0].1.clone(),
            };
        }
        let first = &entries[0].0;
        let last = &entries[entries.len() - 1].0;
        let common = (depth..first.len())
            .take_while(|&i| first[i] == last[i])
            .count();
        if common > 0 {
            return Node::Ext {
                path: first[depth..depth + common].to_vec(),
                child: Box::new(Node::build(entries, depth + common)),
            };
        }
        let children = (0..16u8)
            .map(|n| {
                let group: Vec<_> = entries
                    .iter()
                    .filter(|(p, _)| p[depth] == n)
                    .cloned()
                    .collect();
                (!group.is_empty()).then(|| Node::build(&group, depth + 1))
            })
            .collect();
        Node::Branch {
            children,
            value: Vec::new(),
        }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Node::Leaf { path, value } => {
                rlp::list_of(&[rlp::bytes(&hex_prefix(path, true)), rlp::bytes(value)])
            }
            Node::Ext { path, child } => {
                rlp::list_of(&[rlp::bytes(&hex_prefix(path, false)), child.reference()])
            }
            Node::Branch { children, value } => {
                let mut items: Vec<Vec<u8>> = children
                    .iter()
                    .map(|c| c.as_ref().map_or_else(|| rlp::bytes(&[]), Node::reference))
                    .collect();
                items.push(rlp::bytes(value));
                rlp::list_of(&items)
            }
        }
    }

    /// How a parent refers to this node: embedded when shorter than 32 bytes, else its hash.
    fn reference(&self) -> Vec<u8> {
        let enc = self.encode();
        if enc.len() < 32 {
            enc
        } else {
            rlp::bytes(&keccak256(&enc))
        }
    }
}

/// A trie over 32-byte paths (keys already hashed: a secure trie).
struct Trie {
    root: Option<Node>,
}

impl Trie {
    fn new(entries: &[(Hash, Vec<u8>)]) -> Self {
        let mut e: Vec<(Vec<u8>, Vec<u8>)> = entries
            .iter()
            .map(|(k, v)| (nibbles(k), v.clone()))
            .collect();
        e.sort();
        e.dedup_by(|a, b| a.0 == b.0);
        Trie {
            root: (!e.is_empty()).then(|| Node::build(&e, 0)),
        }
    }

    fn root(&self) -> Hash {
        self.root
            .as_ref()
            .map_or(EMPTY_ROOT, |n| keccak256(&n.encode()))
    }

    /// Every hashed node from the root down to where `path` ends or leaves the trie.
    fn proof(&self, path: &Hash) -> Vec<Vec<u8>> {
        let Some(root) = &self.root else {
            return vec![];
        };
        let key = nibbles(path);
        let mut out = vec![root.encode()];
        let mut node = root;
        let mut pos = 0;
        loop {
            let next = match node {
                Node::Leaf { .. } => None,
                Node::Ext { path, child } => key[pos..].starts_with(path).then(|| {
                    pos += path.len();
                    &**child
                }),
                Node::Branch { children, .. } => {
                    let c = children[usize::from(key[pos])].as_ref();
                    pos += 1;
                    c
                }
            };
            let Some(n) = next else { return out };
            let enc = n.encode();
            if enc.len() >= 32 {
                out.push(enc);
            }
            node = n;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The chain.

fn uint(v: &[u8]) -> Vec<u8> {
    let mut o = Vec::new();
    rlp::encode_uint(&mut o, v);
    o
}

fn u64_rlp(v: u64) -> Vec<u8> {
    uint(&v.to_be_bytes())
}

/// `[nonce, balance, storageRoot, codeHash]`.
fn account_rlp(nonce: u64, storage_root: &Hash, code_hash: &Hash) -> Vec<u8> {
    rlp::list_of(&[
        u64_rlp(nonce),
        u64_rlp(0),
        rlp::bytes(storage_root),
        rlp::bytes(code_hash),
    ])
}

/// A Prague (21-field) header; the roots of empty lists where a block has none.
fn header(parent: &Hash, number: u64, state_root: &Hash, timestamp: u64) -> Vec<u8> {
    let empty_requests: Hash = Sha256::digest([]).into();
    rlp::list_of(&[
        rlp::bytes(parent),
        rlp::bytes(&keccak256(&[0xc0])),
        rlp::bytes(&[0x0e; 20]),
        rlp::bytes(state_root),
        rlp::bytes(&EMPTY_ROOT),
        rlp::bytes(&EMPTY_ROOT),
        rlp::bytes(&[0; 256]),
        u64_rlp(0),
        u64_rlp(number),
        u64_rlp(30_000_000),
        u64_rlp(0),
        u64_rlp(timestamp),
        rlp::bytes(b"OTR dev chain (NOT A REAL CHAIN)"),
        rlp::bytes(&keccak256(&number.to_be_bytes())),
        rlp::bytes(&[0; 8]),
        u64_rlp(7),
        rlp::bytes(&EMPTY_ROOT),
        u64_rlp(0),
        u64_rlp(0),
        rlp::bytes(&keccak256(b"OTR dev beacon root")),
        rlp::bytes(&empty_requests),
    ])
}

/// The settlement contract's `batches[BATCH]` as its four storage words.
struct Batch {
    root: Hash,
    node: [u8; 20],
    posted_at: u64,
    header_count: u32,
    posted_block: u64,
    dispute_state: u8,
}

impl Batch {
    /// Words 0..=3 (`BatchLayout::settlement`): root; node | postedAt | headerCount;
    /// postedBlock | disputeState; slashedWei (zero).
    fn words(&self) -> [Hash; 4] {
        let mut w1 = [0u8; 32];
        w1[12..].copy_from_slice(&self.node);
        w1[4..12].copy_from_slice(&self.posted_at.to_be_bytes());
        w1[..4].copy_from_slice(&self.header_count.to_be_bytes());
        let mut w2 = [0u8; 32];
        w2[24..].copy_from_slice(&self.posted_block.to_be_bytes());
        w2[7] = self.dispute_state;
        [self.root, w1, w2, [0u8; 32]]
    }
}

/// What one case's chain holds.
struct State {
    /// `batches[BATCH]`, or none (never posted).
    batch: Option<Batch>,
    /// Whether the contract's account is in the state trie at all.
    contract_present: bool,
    /// The contract's account leaf value, when not the well-formed RLP of its account.
    contract_leaf: Option<Vec<u8>>,
    /// A value held by the state trie's root branch node (a defect: secure tries have none).
    root_branch_value: Option<Vec<u8>>,
}

/// The contract and the runtime code hash it is said to have.
fn contract() -> ([u8; 20], Hash) {
    let a: Hash = keccak256(b"OTR dev settlement contract");
    (
        a[12..].try_into().expect("20 bytes"),
        keccak256(b"OTR dev settlement runtime (NOT PRODUCTION)"),
    )
}

/// Builds the chain for `state` and the section a node would staple for batch [`BATCH`];
/// returns it with the hash of its newest block (the checkpoint to trust).
fn chain_proof(state: &State) -> (ChainProof, Hash) {
    let (address, code_hash) = contract();
    let layout = BatchLayout::settlement(WINDOW, None);
    let slots = layout.required_slots(BATCH);
    // Storage: owner (slot 0), batchCount (slot 1), then the batch's words.
    let mut storage: Vec<(Hash, Hash)> = vec![(word_of(0), [0x0a; 32]), (word_of(1), word_of(10))];
    storage[0].1[..12].fill(0);
    if let Some(b) = &state.batch {
        storage.extend(slots.iter().copied().zip(b.words()));
    }
    let storage_entries: Vec<(Hash, Vec<u8>)> = storage
        .iter()
        .filter(|(_, v)| *v != [0u8; 32])
        .map(|(k, v)| (keccak256(k), uint(v)))
        .collect();
    let storage_trie = Trie::new(&storage_entries);
    let storage_root = storage_trie.root();

    let mut accounts: Vec<(Hash, Vec<u8>)> = (0..3u8)
        .map(|i| {
            let a: Hash = keccak256(&[b"OTR dev account ".as_slice(), &[i]].concat());
            (
                keccak256(&a[12..]),
                account_rlp(u64::from(i), &EMPTY_ROOT, &keccak256(&[])),
            )
        })
        .collect();
    if state.contract_present {
        let leaf = state
            .contract_leaf
            .clone()
            .unwrap_or_else(|| account_rlp(1, &storage_root, &code_hash));
        accounts.push((keccak256(&address), leaf));
    }
    let mut state_trie = Trie::new(&accounts);
    if let Some(v) = &state.root_branch_value {
        match &mut state_trie.root {
            Some(Node::Branch { value, .. }) => *value = v.clone(),
            _ => panic!("the state trie's root is a branch node"),
        }
    }
    let state_root = state_trie.root();

    let mut headers = Vec::new();
    let mut parent = keccak256(b"OTR dev chain block 99");
    for i in 0..=DESCENDANTS {
        let h = header(&parent, PROVEN_BLOCK + i, &state_root, NOW - 300 + 12 * i);
        parent = keccak256(&h);
        headers.push(h);
    }
    let account = AccountProof {
        address,
        nonce: 1,
        balance: [0; 32],
        storage_hash: storage_root,
        code_hash,
        proof: state_trie.proof(&keccak256(&address)),
    };
    let stored = |slot: &Hash| {
        storage
            .iter()
            .find(|(k, _)| k == slot)
            .map_or([0u8; 32], |(_, v)| *v)
    };
    let proofs: Vec<StorageProof> = slots
        .iter()
        .map(|slot| StorageProof {
            key: *slot,
            value: stored(slot),
            proof: storage_trie.proof(&keccak256(slot)),
        })
        .collect();
    (
        ChainProof::new(CHAIN_ID, address, WINDOW, headers, &account, &proofs),
        parent,
    )
}

struct Case {
    name: &'static str,
    description: &'static str,
    expected: &'static str,
    state: State,
    /// Staple to the `in_window` bundle (verified with `verifyBundle`) instead of writing the
    /// section alone (verified with `verifyChainProof`).
    bundle: bool,
}

/// Writes every case into `out/light-client/dev-chain/<case>/`.
pub fn generate(out: &Path) -> std::io::Result<usize> {
    // The bundle of fixtures/bundles/in_window (batch 9, posted at NOW - 500, window 3600).
    let gpu = DevGpu::generate(FIXTURE_SEED);
    let key = node_key(FIXTURE_SEED);
    let receipts: Vec<_> = (0..5)
        .map(|i| sample_receipt(&format!("request-{i}"), NOW - 700))
        .collect();
    let bundle = build_bundle(&BundleSpec {
        gpu: &gpu,
        node_key: &key,
        seed: FIXTURE_SEED,
        chain_id: CHAIN_ID,
        sequence: 42,
        receipts,
        index: 3,
        timestamp: NOW - 600,
        batch: Some((BATCH, (0..6u8).map(|i| [i; 32]).collect(), 2)),
        chain_status: Some(ChainStatus {
            batch_posted_at: NOW - 500,
            challenge_window_secs: WINDOW,
            dispute: DisputeState::None,
        }),
    });
    let rollup = bundle.rollup.clone().expect("posted");
    let posted = |root: Hash| Batch {
        root,
        node: bundle.header.node_address,
        posted_at: NOW - 500,
        header_count: rollup.batch_size,
        posted_block: PROVEN_BLOCK - 2,
        dispute_state: 0,
    };
    let good = || State {
        batch: Some(posted(rollup.batch_root)),
        contract_present: true,
        contract_leaf: None,
        root_branch_value: None,
    };
    let case = |name, description, expected, state| Case {
        name,
        description,
        expected,
        state,
        bundle: false,
    };
    let (_, code_hash) = contract();
    let cases = vec![
        case(
            "ok",
            "batch 9 posted 500 s before the check time with the root of fixtures/bundles/in_window, no dispute",
            "ok",
            good(),
        ),
        Case {
            bundle: true,
            ..case(
                "bundle_ok",
                "fixtures/bundles/in_window with the `ok` chain stapled: the chain proves the bundle's batch",
                "ok",
                good(),
            )
        },
        Case {
            bundle: true,
            ..case(
                "batch_root_mismatch",
                "fixtures/bundles/in_window with a chain whose batch 9 holds another root (correctly proven)",
                "BUNDLE_BATCH_ROOT_MISMATCH",
                State {
                    batch: Some(posted(keccak256(b"OTR dev: another batch root"))),
                    ..good()
                },
            )
        },
        case(
            "batch_not_posted",
            "the contract holds no batch 9: its four storage words are proven absent (zero)",
            "LIGHT_BATCH_NOT_POSTED",
            State {
                batch: None,
                ..good()
            },
        ),
        case(
            "dispute_state_invalid",
            "batch 9's disputeState byte is 7 (the contract defines 0..=3)",
            "LIGHT_DISPUTE_STATE_INVALID",
            State {
                batch: Some(Batch {
                    dispute_state: 7,
                    ..posted(rollup.batch_root)
                }),
                ..good()
            },
        ),
        case(
            "time_overflow",
            "batch 9's postedAt is 2^64 - 1000: adding the 3600 s window overflows",
            "LIGHT_TIME_OVERFLOW",
            State {
                batch: Some(Batch {
                    posted_at: u64::MAX - 999,
                    ..posted(rollup.batch_root)
                }),
                ..good()
            },
        ),
        case(
            "account_absent",
            "the state holds three other accounts but none at the settlement contract's address (proven absent)",
            "LIGHT_ACCOUNT_ABSENT",
            State {
                contract_present: false,
                ..good()
            },
        ),
        case(
            "account_invalid",
            "the contract's account leaf is a list of 3 items [nonce, balance, codeHash], not 4",
            "LIGHT_ACCOUNT_INVALID",
            State {
                contract_leaf: Some(rlp::list_of(&[
                    u64_rlp(1),
                    u64_rlp(0),
                    rlp::bytes(&code_hash),
                ])),
                ..good()
            },
        ),
        case(
            "node_invalid",
            "the state trie's root branch node carries a value (branch nodes of a secure trie never do)",
            "LIGHT_NODE_INVALID",
            State {
                root_branch_value: Some(b"OTR".to_vec()),
                ..good()
            },
        ),
    ];

    let dir = out.join("light-client").join("dev-chain");
    let dev_root = "../../../attestation/dev-root.pem";
    for c in &cases {
        let d = dir.join(c.name);
        if d.exists() {
            std::fs::remove_dir_all(&d)?;
        }
        std::fs::create_dir_all(&d)?;
        let (proof, checkpoint) = chain_proof(&c.state);
        let mut spec = json!({
            "description": c.description,
            "expected": c.expected,
            "batch_index": BATCH,
            "trusted_checkpoint": {
                "chain_id": CHAIN_ID,
                "block_hash": hex::encode(checkpoint),
                "block_number": PROVEN_BLOCK + DESCENDANTS,
            },
            "made_by": "otr dev fixtures (prover-node/src/devattest/chain_fixtures.rs), seed \"otr-fixtures-v1\"",
        });
        // The stage the verifier names with the code: the light client's, except for the
        // bundle's comparison of its own root with the proven one.
        match c.expected {
            "ok" => {}
            e if e.starts_with("BUNDLE_") => spec["stage"] = json!("inclusion"),
            _ => spec["stage"] = json!("light_client"),
        }
        if c.bundle {
            let mut b = bundle.clone();
            b.chain_proof = Some(proof);
            std::fs::write(d.join("bundle.json"), b.to_json() + "\n")?;
            std::fs::write(d.join("bundle.otrb"), b.encode())?;
            spec["time"] = json!(FIXTURE_TIME);
            spec["policy"] =
                json!({ "require_rims": false, "require_ocsp": false, "allow_dev_roots": true });
            spec["dev_root"] = json!(dev_root);
        } else {
            std::fs::write(
                d.join("chain_proof.json"),
                serde_json::to_string_pretty(&proof)? + "\n",
            )?;
        }
        std::fs::write(
            d.join("case.json"),
            serde_json::to_string_pretty(&spec)? + "\n",
        )?;
    }
    std::fs::write(dir.join("README.md"), README)?;
    Ok(cases.len())
}

const README: &str = "\
# Dev-chain light-client fixtures

Made by `otr dev fixtures --out fixtures` (prover-node/src/devattest/chain_fixtures.rs) from
fixed inputs. NOT A REAL CHAIN: each case is a small Ethereum-shaped chain built by the
generator, never mined by any node.

Each chain: a state trie with the settlement contract (`contracts/src/Settlement.sol` storage
layout: owner at slot 0, batchCount at slot 1, `batches` at slot 2) and three other accounts;
the contract's storage trie; four Prague headers (blocks 100..=103, parent-hash linked, all
with that state root). The stapled section (`chain_proof`) is what a node sends for batch 9:
the four headers, `eth_getProof` at block 100 for the contract and the batch's four storage
words, built from those tries.

Each case folder holds:

- `chain_proof.json`: the section alone, checked with `verifyChainProof` / `ChainProof::verify`;
  or `bundle.json` and `bundle.otrb`: `fixtures/bundles/in_window` (same node key, dev GPU,
  receipts and batch) with the section stapled, checked with `verifyBundle`;
- `case.json`: description, expected verdict or error code and its stage, the batch index,
  the block hash to trust (`trusted_checkpoint`, block 103) and, for bundles, the check time,
  policy and dev root.

`ok` and `bundle_ok` are well-formed. Every other case has one defect in the chain's state
(its proofs are genuine proofs of that state, not edited bytes), asks about a batch the state
does not hold, or proves another root than the bundle's. The generator's own test
(`cargo test -p otr-node --lib chain_fixtures`) and `npm/test/reach.test.mjs` (and the CommonJS
test) check every case's verdict, code and stage; `scripts/check-fixtures.sh` regenerates the
folder and fails if a byte differs.
";

#[cfg(test)]
mod tests {
    use der::Encode;
    use otr_core::attestation::{Policy, TrustAnchors};
    use otr_core::chain::{ChainProof, ChainTrust};
    use otr_core::crypto::RustCrypto;
    use otr_core::rollup::AnswerBundle;
    use otr_core::verify::{verify_bundle_with_chain, VerifyOptions};
    use otr_core::x509::Certificate;
    use otr_core::{ErrorCode, UnixTime};

    use super::{DevGpu, FIXTURE_SEED, FIXTURE_TIME};

    /// (code, stage) of a refusal.
    fn refusal<E: ErrorCode>(e: E) -> (String, String) {
        let stage = serde_json::to_value(e.stage()).expect("stage");
        (e.code().into(), stage.as_str().unwrap_or_default().into())
    }

    /// Every case the generator writes, checked by the Rust verifier: `ok` verifies, every other
    /// case fails with the code and stage its case.json names.
    #[test]
    fn every_case_gives_its_code_and_stage() {
        let out = std::env::temp_dir().join(format!("otr-dev-chain-test-{}", std::process::id()));
        let n = super::generate(&out).expect("generate");
        let gpu = DevGpu::generate(FIXTURE_SEED);
        let root = Certificate::from_der(&gpu.certs[4].to_der().expect("der")).expect("root");
        let anchors = TrustAnchors::nvidia().with_dev_root(root);
        let policy = Policy {
            require_rims: false,
            require_ocsp: false,
            allow_dev_roots: true,
            ..Policy::default()
        };
        let opts = VerifyOptions {
            time: UnixTime::parse_rfc3339(FIXTURE_TIME).expect("time"),
            policy: &policy,
            anchors: &anchors,
            verifier: &RustCrypto,
            verifying_keys: &[],
            expected_request_hash: None,
            expected_weights_root: None,
            expected_temperature_milli: None,
            expected_prompt: None,
        };
        let dir = out.join("light-client").join("dev-chain");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("dev-chain folder") {
            let d = entry.expect("entry").path();
            if !d.is_dir() {
                continue;
            }
            let read = |f: &str| std::fs::read(d.join(f)).expect("fixture file");
            let spec: serde_json::Value = serde_json::from_slice(&read("case.json")).expect("json");
            let cp = &spec["trusted_checkpoint"];
            let hash: [u8; 32] = hex::decode(cp["block_hash"].as_str().expect("hash"))
                .expect("hex")
                .try_into()
                .expect("32 bytes");
            let trust = ChainTrust::checkpoint(cp["chain_id"].as_u64().expect("chain id"), hash);
            let got = if d.join("bundle.otrb").exists() {
                let b = AnswerBundle::decode(&read("bundle.otrb")).expect("bundle decodes");
                let from_json = AnswerBundle::from_json(
                    std::str::from_utf8(&read("bundle.json")).expect("utf-8"),
                )
                .expect("bundle.json");
                assert_eq!(from_json, b, "{}", d.display());
                verify_bundle_with_chain(&b, &opts, Some(&trust))
                    .map(|_| ())
                    .map_err(refusal)
            } else {
                let p: ChainProof =
                    serde_json::from_slice(&read("chain_proof.json")).expect("section");
                p.verify(&trust, spec["batch_index"].as_u64().expect("batch"))
                    .map(|_| ())
                    .map_err(refusal)
            };
            match spec["expected"].as_str().expect("expected") {
                "ok" => assert_eq!(got, Ok(()), "{}", d.display()),
                code => {
                    let stage = spec["stage"].as_str().expect("stage");
                    assert_eq!(got, Err((code.into(), stage.into())), "{}", d.display());
                }
            }
            seen += 1;
        }
        assert_eq!(seen, n);
        std::fs::remove_dir_all(&out).ok();
    }
}
