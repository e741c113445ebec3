//! EIP-1186 (`eth_getProof`) account and storage proofs, checked against a state root.
//!
//! - Account: the path is keccak-256 of the 20-byte address in the state trie; the leaf value is
//!   the RLP list `[nonce, balance, storageRoot, codeHash]` (integers canonical, roots 32 bytes).
//! - Storage: the path is keccak-256 of the 32-byte slot in the account's storage trie
//!   (root `storageRoot`); the leaf value is the RLP of the slot's value as a canonical integer
//!   (big-endian, no leading zero byte). A proof of absence proves the value 0; so does a
//!   stored empty value (anvil keeps slots written with zero); a zero-led value is invalid.

use alloc::vec::Vec;

use super::error::{LightError, Part, ProofKind};
use super::keccak256;
use super::rlp::{self, RlpError};
use super::trie::verify_proof;
use crate::error::GotExpected;
use crate::rollup::{Address, Hash};

/// One `eth_getProof` account answer: the stapled account fields and the account proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountProof {
    pub address: Address,
    pub nonce: u64,
    /// 256-bit big-endian.
    pub balance: [u8; 32],
    pub storage_hash: Hash,
    pub code_hash: Hash,
    /// The trie nodes, root first (`accountProof`).
    pub proof: Vec<Vec<u8>>,
}

/// One `eth_getProof` storage answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageProof {
    /// The slot, as a 32-byte big-endian word.
    pub key: Hash,
    /// The stapled value, 256-bit big-endian.
    pub value: [u8; 32],
    /// The trie nodes, root first.
    pub proof: Vec<Vec<u8>>,
}

/// An account as the state trie holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Account {
    pub nonce: u64,
    pub balance: [u8; 32],
    pub storage_root: Hash,
    pub code_hash: Hash,
}

fn u64_word(v: u64) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[24..].copy_from_slice(&v.to_be_bytes());
    w
}

impl Account {
    /// Decodes an account leaf value `[nonce, balance, storageRoot, codeHash]`.
    pub fn decode(value: &[u8]) -> Result<Account, LightError> {
        decode_account(value)
    }
}

fn decode_account(value: &[u8]) -> Result<Account, LightError> {
    let e = |error: RlpError| LightError::Rlp {
        part: Part::AccountValue,
        error,
    };
    let top = rlp::decode_exact(value).map_err(e)?;
    let items = top.list_items(4).map_err(e)?;
    let Some(items) = items.filter(|i| i.len() == 4) else {
        return Err(LightError::AccountInvalid {
            offset: 0,
            what: "not a list of 4 items [nonce, balance, storageRoot, codeHash]",
        });
    };
    let hash = |i: usize, what| -> Result<Hash, LightError> {
        items[i]
            .bytes()
            .map_err(e)?
            .try_into()
            .map_err(|_| LightError::AccountInvalid {
                offset: items[i].offset,
                what,
            })
    };
    Ok(Account {
        nonce: items[0].as_u64().map_err(e)?,
        balance: items[1].as_word().map_err(e)?,
        storage_root: hash(2, "storageRoot is not 32 bytes")?,
        code_hash: hash(3, "codeHash is not 32 bytes")?,
    })
}

impl AccountProof {
    /// Proves the account at `expected_address` under `state_root` and checks the stapled
    /// fields against it.
    pub fn verify(
        &self,
        state_root: &Hash,
        expected_address: &Address,
    ) -> Result<Account, LightError> {
        if self.address != *expected_address {
            return Err(LightError::AddressMismatch(GotExpected {
                got: self.address,
                expected: *expected_address,
            }));
        }
        let path = keccak256(&self.address);
        let value = verify_proof(state_root, &path, &self.proof, ProofKind::Account)?.ok_or(
            LightError::AccountAbsent {
                address: self.address,
            },
        )?;
        let account = decode_account(value)?;
        let checks = [
            ("nonce", u64_word(self.nonce), u64_word(account.nonce)),
            ("balance", self.balance, account.balance),
            ("storageHash", self.storage_hash, account.storage_root),
            ("codeHash", self.code_hash, account.code_hash),
        ];
        for (field, got, expected) in checks {
            if got != expected {
                return Err(LightError::AccountMismatch {
                    field,
                    got,
                    expected,
                });
            }
        }
        Ok(account)
    }
}

impl StorageProof {
    /// Proves the slot's value under `storage_root` (proof `index` labels errors) and checks
    /// the stapled value against it. Returns the proven value.
    pub fn verify(&self, storage_root: &Hash, index: usize) -> Result<[u8; 32], LightError> {
        let path = keccak256(&self.key);
        let proven =
            match verify_proof(storage_root, &path, &self.proof, ProofKind::Storage(index))? {
                None => [0u8; 32],
                Some(value) => decode_storage_value(value, index)?,
            };
        if proven != self.value {
            return Err(LightError::ValueMismatch {
                slot: self.key,
                got: self.value,
                expected: proven,
            });
        }
        Ok(proven)
    }
}

/// Decodes a storage leaf value (the RLP of a canonical integer) as a 32-byte word;
/// `index` labels errors.
pub fn decode_storage_value(value: &[u8], index: usize) -> Result<[u8; 32], LightError> {
    let e = |error| LightError::Rlp {
        part: Part::StorageValue(index),
        error,
    };
    let item = rlp::decode_exact(value).map_err(e)?;
    // A stored zero (the RLP `0x80`) proves 0, as an absence does: mainnet clients delete
    // slots written with zero, but anvil keeps them in its trie (its state root commits to the
    // empty value), so refusing them would refuse every struct member written as zero there.
    item.as_word().map_err(e)
}
