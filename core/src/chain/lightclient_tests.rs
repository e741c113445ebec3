use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::chain::layout::{slot_add, word_of, SlotField};
use crate::chain::test_support::{account_rlp, header, storage_trie, TestTrie};
use crate::chain::trie::EMPTY_ROOT;
use crate::chain::Part;
use crate::error::ErrorCode;

const CONTRACT: Address = [0xc0; 20];
const NODE: Address = [0x0d; 20];
const CODE_HASH: Hash = [0xcd; 32];
const WINDOW: u64 = 600;
const ROOT0: Hash = [0x11; 32];
const POSTED_AT: u64 = 1_767_225_700;

/// A hand-built chain: a settlement-layout contract with batch 0 (no dispute) and batch 1
/// (node lost, 5 wei slashed), 8 headers from the proven block to the checkpoint.
struct World {
    storage: TestTrie,
    slots: Vec<(Hash, [u8; 32])>,
    accounts: TestTrie,
    storage_root: Hash,
    headers: Vec<Vec<u8>>,
    layout: BatchLayout,
}

fn word(parts: &[(usize, &[u8])]) -> [u8; 32] {
    // (byte offset from the low-order end, big-endian bytes)
    let mut w = [0u8; 32];
    for (offset, b) in parts {
        let end = 32 - offset;
        w[end - b.len()..end].copy_from_slice(b);
    }
    w
}

fn batch_words(root: Hash, posted_at: u64, dispute: u8, slashed: u128) -> [[u8; 32]; 4] {
    [
        root,
        word(&[
            (0, &NODE),
            (20, &posted_at.to_be_bytes()),
            (28, &3u32.to_be_bytes()),
        ]),
        word(&[(0, &99u64.to_be_bytes()), (24, &[dispute])]),
        word(&[(0, &slashed.to_be_bytes())]),
    ]
}

impl World {
    fn new() -> World {
        Self::with_batch1(3)
    }

    fn with_batch1(dispute1: u8) -> World {
        let layout = BatchLayout::settlement(WINDOW, Some(CODE_HASH));
        let mut slots = vec![
            (word_of(0), word(&[(0, &[0xaa; 20])])),
            (word_of(1), word_of(2)),
        ];
        for (index, words) in [
            (0u64, batch_words(ROOT0, POSTED_AT, 0, 0)),
            (1, batch_words([0x22; 32], POSTED_AT + 60, dispute1, 5)),
        ] {
            let base = layout.batch_slot(index);
            for (i, w) in words.iter().enumerate() {
                slots.push((slot_add(&base, i as u64), *w));
            }
        }
        let storage = storage_trie(&slots);
        let storage_root = storage.root();
        let accounts: Vec<(Hash, Vec<u8>)> = (0..40u8)
            .map(|i| {
                let a = [i; 20];
                (
                    keccak256(&a),
                    account_rlp(u64::from(i), 1000, &EMPTY_ROOT, &[0xc5; 32]),
                )
            })
            .chain(core::iter::once((
                keccak256(&CONTRACT),
                account_rlp(1, 0, &storage_root, &CODE_HASH),
            )))
            .collect();
        let accounts = TestTrie::new(&accounts);
        let mut headers = Vec::new();
        let mut parent = [0x99; 32];
        for n in 100..108u64 {
            let state = if n == 100 {
                accounts.root()
            } else {
                [n as u8; 32]
            };
            let h = header(&parent, n, &state, POSTED_AT + 100 + 12 * (n - 100));
            parent = keccak256(&h);
            headers.push(h);
        }
        World {
            storage,
            slots,
            accounts,
            storage_root,
            headers,
            layout,
        }
    }

    fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            chain_id: 31337,
            block_hash: keccak256(self.headers.last().unwrap()),
        }
    }

    fn account(&self) -> AccountProof {
        AccountProof {
            address: CONTRACT,
            nonce: 1,
            balance: [0; 32],
            storage_hash: self.storage_root,
            code_hash: CODE_HASH,
            proof: self.accounts.proof(&keccak256(&CONTRACT)),
        }
    }

    fn storage_proof(&self, slot: &Hash) -> StorageProof {
        let value = self
            .slots
            .iter()
            .find(|(s, _)| s == slot)
            .map_or([0; 32], |(_, v)| *v);
        StorageProof {
            key: *slot,
            value,
            proof: self.storage.proof(&keccak256(slot)),
        }
    }

    fn storage(&self, batch: u64) -> Vec<StorageProof> {
        self.layout
            .required_slots(batch)
            .iter()
            .map(|s| self.storage_proof(s))
            .collect()
    }

    fn verify_with(
        &self,
        headers: &[Vec<u8>],
        account: &AccountProof,
        storage: &[StorageProof],
        batch: u64,
    ) -> Result<VerifiedChainClaims, LightError> {
        verify_batch_inclusion(
            &self.checkpoint(),
            headers,
            account,
            storage,
            &CONTRACT,
            &self.layout,
            batch,
        )
    }

    fn verify(&self, batch: u64) -> Result<VerifiedChainClaims, LightError> {
        self.verify_with(&self.headers, &self.account(), &self.storage(batch), batch)
    }
}

#[test]
fn good_proof_yields_the_batch_claims() {
    let w = World::new();
    let c = w.verify(0).unwrap();
    assert_eq!(
        (
            c.chain_id,
            c.block_number,
            c.checkpoint_number,
            c.confirmations
        ),
        (31337, 100, 107, 7)
    );
    assert_eq!(c.block_hash, keccak256(&w.headers[0]));
    assert_eq!(c.checkpoint_hash, w.checkpoint().block_hash);
    assert_eq!(
        (c.batch_index, c.batch_root, c.posted_at),
        (0, ROOT0, POSTED_AT)
    );
    assert_eq!(
        (c.window_end, c.posted_block, c.header_count),
        (POSTED_AT + WINDOW, Some(99), Some(3))
    );
    assert_eq!(c.node, Some(NODE));
    assert_eq!(c.dispute_state, DisputeState::None);
    assert_eq!(c.chain_status().batch_posted_at, POSTED_AT);
    let c1 = w.verify(1).unwrap();
    assert_eq!(
        c1.dispute_state,
        DisputeState::ResolvedNodeLost { slashed_wei: 5 }
    );
    // The checkpoint may be the proven block itself.
    let single = w.verify_with(&w.headers[..1], &w.account(), &w.storage(0), 0);
    assert!(matches!(single, Err(LightError::HeaderNotOnChain(_))));
    let cp = Checkpoint {
        chain_id: 1,
        block_hash: keccak256(&w.headers[0]),
    };
    let c = verify_batch_inclusion(
        &cp,
        &w.headers[..1],
        &w.account(),
        &w.storage(0),
        &CONTRACT,
        &w.layout,
        0,
    )
    .unwrap();
    assert_eq!(c.confirmations, 0);
}

#[test]
fn a_proof_for_another_slot_fails() {
    let w = World::new();
    let mut storage = w.storage(0);
    storage[0] = w.storage_proof(&word_of(1));
    let e = w
        .verify_with(&w.headers, &w.account(), &storage, 0)
        .unwrap_err();
    assert_eq!(e.code(), "LIGHT_SLOT_MISMATCH");
    // Relabelled: the right key over another slot's nodes.
    let mut storage = w.storage(0);
    storage[0].proof = w.storage_proof(&word_of(1)).proof;
    let e = w
        .verify_with(&w.headers, &w.account(), &storage, 0)
        .unwrap_err();
    assert!(
        matches!(
            e.code(),
            "LIGHT_PROOF_INVALID" | "LIGHT_VALUE_MISMATCH" | "LIGHT_PROOF_TRAILING_NODES"
        ),
        "{e}"
    );
    let e = w
        .verify_with(&w.headers, &w.account(), &storage[1..], 0)
        .unwrap_err();
    assert_eq!(e.code(), "LIGHT_STORAGE_PROOF_COUNT");
}

#[test]
fn a_wrong_value_fails() {
    let w = World::new();
    let mut storage = w.storage(0);
    storage[0].value[31] ^= 1;
    let e = w
        .verify_with(&w.headers, &w.account(), &storage, 0)
        .unwrap_err();
    assert!(matches!(e, LightError::ValueMismatch { expected, .. } if expected == ROOT0));
    assert_eq!(e.code(), "LIGHT_VALUE_MISMATCH");
    let mut account = w.account();
    account.nonce = 2;
    let e = w
        .verify_with(&w.headers, &account, &w.storage(0), 0)
        .unwrap_err();
    assert!(matches!(
        e,
        LightError::AccountMismatch { field: "nonce", .. }
    ));
}

#[test]
fn a_truncated_node_fails() {
    let w = World::new();
    let mut storage = w.storage(0);
    let last = storage[1].proof.len() - 1;
    storage[1].proof[last].pop();
    let e = w
        .verify_with(&w.headers, &w.account(), &storage, 0)
        .unwrap_err();
    assert!(
        matches!(
            e,
            LightError::NodeTruncated {
                part: Part::StorageNode { proof: 1, .. },
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.code(), "LIGHT_NODE_TRUNCATED");
    let mut account = w.account();
    account.proof[0].truncate(40);
    let e = w
        .verify_with(&w.headers, &account, &w.storage(0), 0)
        .unwrap_err();
    assert_eq!(e.code(), "LIGHT_NODE_TRUNCATED");
}

#[test]
fn a_header_not_on_the_trusted_chain_fails() {
    let w = World::new();
    let cp = Checkpoint {
        chain_id: 31337,
        block_hash: [0xee; 32],
    };
    let e = verify_batch_inclusion(
        &cp,
        &w.headers,
        &w.account(),
        &w.storage(0),
        &CONTRACT,
        &w.layout,
        0,
    )
    .unwrap_err();
    assert_eq!(e.code(), "LIGHT_HEADER_NOT_ON_CHAIN");
    // Stapled chain that skips a block.
    let mut gap = w.headers.clone();
    gap.remove(3);
    let e = w
        .verify_with(&gap, &w.account(), &w.storage(0), 0)
        .unwrap_err();
    assert_eq!(
        e,
        LightError::HeaderNumberGap {
            index: 2,
            got: 104,
            expected: 103
        }
    );
    assert_eq!(e.code(), "LIGHT_HEADER_NUMBER_GAP");
}

#[test]
fn a_reorged_away_block_fails() {
    let w = World::new();
    // The proven block and its child on a fork from block 99: same numbers, other hashes.
    let mut fork = Vec::new();
    let mut parent = [0x98; 32];
    for (i, n) in (100..102u64).enumerate() {
        let state = if i == 0 {
            w.accounts.root()
        } else {
            [0x77; 32]
        };
        let h = header(&parent, n, &state, POSTED_AT + 101 + 12 * i as u64);
        parent = keccak256(&h);
        fork.push(h);
    }
    let mut headers = fork.clone();
    headers.extend_from_slice(&w.headers[2..]);
    let e = w
        .verify_with(&headers, &w.account(), &w.storage(0), 0)
        .unwrap_err();
    assert_eq!(
        e,
        LightError::Reorged {
            number: 101,
            got: keccak256(&fork[1]),
            expected: keccak256(&w.headers[1])
        }
    );
    assert_eq!(e.code(), "LIGHT_REORGED");
}

#[test]
fn account_and_contract_checks() {
    let w = World::new();
    let mut other = w.account();
    other.address = [0x01; 20];
    let e = w
        .verify_with(&w.headers, &other, &w.storage(0), 0)
        .unwrap_err();
    assert_eq!(e.code(), "LIGHT_ADDRESS_MISMATCH");
    // An address with no account: a proof of absence.
    let ghost = [0xfe; 20];
    let absent = AccountProof {
        address: ghost,
        proof: w.accounts.proof(&keccak256(&ghost)),
        ..w.account()
    };
    let e = verify_batch_inclusion(
        &w.checkpoint(),
        &w.headers,
        &absent,
        &w.storage(0),
        &ghost,
        &w.layout,
        0,
    )
    .unwrap_err();
    assert_eq!(e.code(), "LIGHT_ACCOUNT_ABSENT");
    let layout = BatchLayout {
        code_hash: Some([0; 32]),
        ..w.layout
    };
    let e = verify_batch_inclusion(
        &w.checkpoint(),
        &w.headers,
        &w.account(),
        &w.storage(0),
        &CONTRACT,
        &layout,
        0,
    )
    .unwrap_err();
    assert_eq!(e.code(), "LIGHT_CODE_HASH_MISMATCH");
    let bad = BatchLayout {
        posted_at: SlotField::new(1, 28, 8),
        ..w.layout
    };
    let e = verify_batch_inclusion(
        &w.checkpoint(),
        &w.headers,
        &w.account(),
        &w.storage(0),
        &CONTRACT,
        &bad,
        0,
    )
    .unwrap_err();
    assert_eq!(e.code(), "LIGHT_LAYOUT_INVALID");
}

#[test]
fn batch_state_checks() {
    let w = World::new();
    // Batch 5 was never posted: every slot proves absent (zero).
    let e = w.verify(5).unwrap_err();
    assert_eq!(e, LightError::BatchNotPosted { batch_index: 5 });
    let w = World::with_batch1(9);
    assert_eq!(
        w.verify(1).unwrap_err().code(),
        "LIGHT_DISPUTE_STATE_INVALID"
    );
    let long = BatchLayout {
        challenge_window_secs: u64::MAX,
        ..w.layout
    };
    let e = verify_batch_inclusion(
        &w.checkpoint(),
        &w.headers,
        &w.account(),
        &w.storage(0),
        &CONTRACT,
        &long,
        0,
    )
    .unwrap_err();
    assert_eq!(e.code(), "LIGHT_TIME_OVERFLOW");
}

#[test]
fn header_budgets() {
    let w = World::new();
    let none: [Vec<u8>; 0] = [];
    assert_eq!(
        w.verify_with(&none, &w.account(), &w.storage(0), 0)
            .unwrap_err()
            .code(),
        "LIGHT_NO_HEADERS"
    );
    let many = vec![w.headers[0].clone(); MAX_HEADERS + 1];
    assert_eq!(
        w.verify_with(&many, &w.account(), &w.storage(0), 0)
            .unwrap_err()
            .code(),
        "LIGHT_TOO_MANY_HEADERS"
    );
}

#[test]
fn slot_math_matches_solidity() {
    // keccak256(abi.encode(uint256(0), uint256(2))), the first batch's slot in Settlement.
    let base = BatchLayout::settlement(1, None).batch_slot(0);
    assert_eq!(base, keccak256(&[[0u8; 32], word_of(2)].concat()));
    assert_eq!(slot_add(&[0xff; 32], 1), [0; 32]);
    let mut s = [0u8; 32];
    s[31] = 0xff;
    let mut t = [0u8; 32];
    t[30] = 1;
    t[31] = 2;
    assert_eq!(slot_add(&s, 3), t);
    assert_eq!(BatchLayout::settlement(1, None).words(), vec![0, 1, 2, 3]);
}

#[test]
fn the_settlement_layout_is_valid() {
    // The only layout a stapled chain section is checked against (`ChainProof::verify`), so
    // `LIGHT_LAYOUT_INVALID` comes only from layouts a caller builds.
    for (window, code_hash) in [(0, None), (1, Some([7; 32])), (u64::MAX, None)] {
        assert_eq!(
            BatchLayout::settlement(window, code_hash).validate(),
            Ok(())
        );
    }
}
