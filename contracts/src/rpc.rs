//! The JSON-RPC host: the settlement contracts on any EVM node (`--chain-rpc URL`), behind the
//! same [`Host`] trait as the embedded revm chain.
//!
//! Built from alloy's consensus types (`alloy-consensus`: the EIP-1559 transaction, its signing
//! hash and EIP-2718 encoding; the block header and its RLP) and a blocking HTTP client (`ureq`,
//! TLS through the system OpenSSL), not from alloy's async provider stack: the node and the
//! challenger drive the chain from one thread with blocking calls, and the provider would add
//! an async runtime and about a hundred crates for the dozen methods used here
//! (contracts/README.md).
//!
//! - Transactions are signed locally (EIP-1559, type 2) with keys registered by
//!   [`RpcHost::add_signer`]; the node's secp256k1 key is its EVM account. There is no
//!   `eth_sendTransaction`: a `from` with no key is rejected.
//! - Before sending, the call is simulated (`eth_call` against the pending state): a revert
//!   there is returned as [`CallError::Revert`] with the revert data, so
//!   [`CallError::is`]`("NotStaked")` works as on revm, and nothing is sent. A transaction that
//!   is mined but fails (the state moved between simulation and inclusion) is re-run with
//!   `eth_call` at its block for the revert data.
//! - Return data of a mined transaction: from `debug_traceTransaction` (call tracer) where the
//!   node offers it (anvil, geth, reth), else the simulation's.
//! - [`Host::advance`] is for dev chains only (anvil, Hardhat): `evm_increaseTime` and
//!   `anvil_mine`/`evm_mine`; elsewhere it returns [`CallError::Rejected`].
//! - Light-client material: [`RpcHost::get_proof`] (`eth_getProof` as `otr-core` types) and
//!   [`RpcHost::header_rlp`] (the header rebuilt from `eth_getBlockByNumber` fields and checked
//!   against the block hash: `debug_getRawHeader` is not offered by anvil).

use crate::host::{CallError, Host, TxOutcome};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, Bytes, Log, LogData, Signature, TxKind, B256, U256};
use k256::ecdsa::SigningKey;
use otr_core::chain::{AccountProof, StorageProof};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Anvil's (and Hardhat's) prefunded account 0: its well-known dev key. Dev chains only.
pub const ANVIL_DEV_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// The EVM address of a secp256k1 key.
pub fn key_address(key: &SigningKey) -> Address {
    let point = key.verifying_key().to_encoded_point(false);
    Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
}

/// A JSON-RPC client for one EVM node, with the keys it signs with.
#[derive(Clone)]
pub struct RpcHost {
    url: String,
    agent: ureq::Agent,
    signers: BTreeMap<Address, SigningKey>,
    chain_id: Option<u64>,
    client: Option<String>,
    next_id: u64,
    /// How long [`Host::send`] waits for a receipt.
    pub receipt_timeout: Duration,
    /// Fee policy of [`Host::send`]: the cap and when a pending transaction is replaced.
    pub fees: FeePolicy,
    trace_supported: Option<bool>,
}

/// How [`RpcHost`] prices its transactions (EIP-1559).
///
/// A transaction offers `max_fee = 2 base + tip` (the node's suggested tip, 1 gwei without
/// one), never more than `max_fee_cap`; when the base fee alone reaches the cap the send is
/// refused before anything is signed (`fee cap` in the error). A transaction still pending
/// after `replace_after` is replaced: the same nonce signed again with both fees raised by
/// `bump_percent` (at least the 10% that nodes require of a replacement), within the cap, at
/// most `max_replacements` times; the send waits for whichever of them is mined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeePolicy {
    /// Highest `max_fee_per_gas` offered, wei (`None`: no cap).
    pub max_fee_cap: Option<u128>,
    /// How long a transaction may stay pending before it is replaced.
    pub replace_after: Duration,
    /// Raise of both fees per replacement, percent (at least 10).
    pub bump_percent: u32,
    /// Most replacements of one transaction.
    pub max_replacements: u32,
}

impl Default for FeePolicy {
    fn default() -> Self {
        FeePolicy {
            max_fee_cap: None,
            replace_after: Duration::from_secs(30),
            bump_percent: 25,
            max_replacements: 4,
        }
    }
}

impl FeePolicy {
    /// The offer for a base fee and suggested tip: `(max_fee, tip)`, or why nothing can be
    /// offered under the cap.
    pub fn offer(&self, base: u128, tip: u128) -> Result<(u128, u128), String> {
        let max_fee = base.saturating_mul(2).saturating_add(tip);
        match self.max_fee_cap {
            None => Ok((max_fee, tip)),
            Some(cap) if base >= cap => Err(format!(
                "fee cap: the base fee {base} wei is at or above the cap of {cap} wei per gas; \
                 nothing sent (raise --chain-max-fee-gwei or wait for lower fees)"
            )),
            Some(cap) => Ok((max_fee.min(cap), tip.min(cap - base))),
        }
    }

    /// The fees of the next replacement of a transaction offering `(max_fee, tip)`, or `None`
    /// when the cap leaves no room for the raise nodes require.
    pub fn bumped(&self, max_fee: u128, tip: u128) -> Option<(u128, u128)> {
        let pct = u128::from(self.bump_percent.max(10));
        let up = |x: u128| x.saturating_add((x.saturating_mul(pct)).div_ceil(100).max(1));
        let (f, t) = (up(max_fee), up(tip));
        let f = self.max_fee_cap.map_or(f, |cap| f.min(cap));
        // Nodes accept a replacement only with both fees at least 10% higher.
        let enough = |new: u128, old: u128| new.saturating_mul(10) >= old.saturating_mul(11);
        (enough(f, max_fee) && enough(t.min(f), tip)).then_some((f, t.min(f)))
    }
}

impl std::fmt::Debug for RpcHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcHost")
            .field("url", &self.url)
            .field("chain_id", &self.chain_id)
            .field("signers", &self.signers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A JSON-RPC error answer.
#[derive(Clone, Debug)]
struct RpcError {
    code: i64,
    message: String,
    data: Option<Value>,
}

impl RpcError {
    /// The revert data of an `execution reverted` error (`data` as hex, or `{ data: hex }`).
    fn revert_data(&self) -> Option<Bytes> {
        let d = self.data.as_ref()?;
        let s = d
            .as_str()
            .or_else(|| d.get("data").and_then(Value::as_str))?;
        parse_bytes(s).ok()
    }
}

fn rejected(m: impl Into<String>) -> CallError {
    CallError::Rejected(m.into())
}

/// One log of a receipt or of `eth_getLogs`.
fn parse_log(l: &Value) -> Result<Log, CallError> {
    let topics = l["topics"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| fixed::<32>(t, "topic").map(B256::from))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    Ok(Log {
        address: Address::from(fixed::<20>(&l["address"], "log address")?),
        data: LogData::new_unchecked(topics, parse_bytes(as_str(&l["data"], "log data")?)?),
    })
}

fn parse_bytes(s: &str) -> Result<Bytes, CallError> {
    let h = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(h)
        .map(Bytes::from)
        .map_err(|_| rejected(format!("not hex: {s:.80}")))
}

fn as_str<'v>(v: &'v Value, what: &str) -> Result<&'v str, CallError> {
    v.as_str()
        .ok_or_else(|| rejected(format!("the node's answer has no {what}")))
}

/// A quantity (`0x`-hex) as a `u64`.
fn quantity(v: &Value, what: &str) -> Result<u64, CallError> {
    let s = as_str(v, what)?;
    u64::from_str_radix(s.strip_prefix("0x").unwrap_or(s), 16)
        .map_err(|_| rejected(format!("{what} is not a u64 quantity: {s:.80}")))
}

/// A quantity or 32-byte data as a big-endian 32-byte word.
fn word(v: &Value, what: &str) -> Result<[u8; 32], CallError> {
    let s = as_str(v, what)?;
    let h = s.strip_prefix("0x").unwrap_or(s);
    if h.len() > 64 {
        return Err(rejected(format!("{what} is longer than 32 bytes")));
    }
    let padded = format!("{h:0>64}");
    let b = hex::decode(padded).map_err(|_| rejected(format!("{what} is not hex")))?;
    Ok(b.try_into().unwrap_or([0u8; 32]))
}

fn fixed<const N: usize>(v: &Value, what: &str) -> Result<[u8; N], CallError> {
    let b = parse_bytes(as_str(v, what)?)?;
    b.as_ref()
        .try_into()
        .map_err(|_| rejected(format!("{what} is not {N} bytes")))
}

fn hex_q(v: u64) -> String {
    format!("0x{v:x}")
}

fn hex_b(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

fn proof_nodes(v: &Value, what: &str) -> Result<Vec<Vec<u8>>, CallError> {
    v.as_array()
        .ok_or_else(|| rejected(format!("{what} is not a list")))?
        .iter()
        .map(|n| parse_bytes(as_str(n, what)?).map(|b| b.to_vec()))
        .collect()
}

impl RpcHost {
    /// Connects to `url` and reads its chain id (so an unreachable node fails here).
    pub fn connect(url: &str) -> Result<Self, CallError> {
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::NativeTls)
            .build();
        let agent = ureq::config::Config::builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .tls_config(tls)
            .build()
            .new_agent();
        let mut h = RpcHost {
            url: url.to_string(),
            agent,
            signers: BTreeMap::new(),
            chain_id: None,
            client: None,
            next_id: 0,
            receipt_timeout: Duration::from_secs(120),
            fees: FeePolicy::default(),
            trace_supported: None,
        };
        h.chain_id()?;
        Ok(h)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Registers a key to sign transactions from its address; returns the address.
    pub fn add_signer(&mut self, key: SigningKey) -> Address {
        let a = key_address(&key);
        self.signers.insert(a, key);
        a
    }

    fn raw(&mut self, method: &str, params: Value) -> Result<Result<Value, RpcError>, CallError> {
        self.next_id += 1;
        let body =
            json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params});
        let mut resp = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .send(body.to_string())
            .map_err(|e| rejected(format!("{method}: {}: {e}", self.url)))?;
        let status = resp.status();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| rejected(format!("{method}: reading the answer: {e}")))?;
        let v: Value = serde_json::from_str(&text).map_err(|_| {
            rejected(format!(
                "{method}: HTTP {status}, not a JSON-RPC answer: {text:.200}"
            ))
        })?;
        if let Some(e) = v.get("error") {
            return Ok(Err(RpcError {
                code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                data: e.get("data").cloned(),
            }));
        }
        Ok(Ok(v.get("result").cloned().unwrap_or(Value::Null)))
    }

    /// One JSON-RPC call; an error answer becomes [`CallError::Rejected`].
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, CallError> {
        self.raw(method, params)?
            .map_err(|e| rejected(format!("{method}: {} (code {})", e.message, e.code)))
    }

    /// `web3_clientVersion`, cached.
    pub fn client_version(&mut self) -> String {
        if self.client.is_none() {
            let v = self
                .request("web3_clientVersion", json!([]))
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            self.client = Some(v);
        }
        self.client.clone().unwrap_or_default()
    }

    /// Whether the node is a dev chain (anvil, Hardhat, Ganache) that takes `evm_*` and
    /// `anvil_*` methods.
    pub fn is_dev(&mut self) -> bool {
        let v = self.client_version().to_ascii_lowercase();
        v.starts_with("anvil") || v.contains("hardhat") || v.contains("ganache")
    }

    pub fn balance(&mut self, who: Address) -> Result<U256, CallError> {
        let v = self.request("eth_getBalance", json!([who, "latest"]))?;
        Ok(U256::from_be_bytes(word(&v, "balance")?))
    }

    pub fn code(&mut self, who: Address) -> Result<Bytes, CallError> {
        let v = self.request("eth_getCode", json!([who, "latest"]))?;
        parse_bytes(as_str(&v, "code")?)
    }

    /// The storage word at `slot` of `address` at the head (`eth_getStorageAt`).
    pub fn storage_at(&mut self, address: Address, slot: &[u8; 32]) -> Result<[u8; 32], CallError> {
        let v = self.request("eth_getStorageAt", json!([address, hex_b(slot), "latest"]))?;
        word(&v, "storage word")
    }

    /// Dev chains only: pays `wei` to `to` from anvil's prefunded account 0 (a signed transfer).
    pub fn dev_fund(&mut self, to: Address, wei: U256) -> Result<(), CallError> {
        if !self.is_dev() {
            return Err(rejected(
                "funding from the dev account is for dev chains (anvil) only",
            ));
        }
        let key = SigningKey::from_slice(&hex::decode(ANVIL_DEV_KEY).unwrap_or_default())
            .map_err(|_| rejected("dev key"))?;
        let from = self.add_signer(key);
        self.send(from, Some(to), Bytes::new(), wei).map(|_| ())
    }

    /// The block `number` (`eth_getBlockByNumber`, no transactions), or `None` past the head.
    pub fn block(&mut self, number: u64) -> Result<Option<Value>, CallError> {
        let v = self.request("eth_getBlockByNumber", json!([hex_q(number), false]))?;
        Ok((!v.is_null()).then_some(v))
    }

    /// The block hash of `number`.
    pub fn block_hash(&mut self, number: u64) -> Result<B256, CallError> {
        let b = self
            .block(number)?
            .ok_or_else(|| rejected(format!("no block {number}")))?;
        Ok(B256::from(fixed::<32>(&b["hash"], "block hash")?))
    }

    /// The RLP of block `number`'s header, rebuilt from the `eth_getBlockByNumber` fields (the
    /// fork's field list, as alloy's `Header` encodes it) and checked against the block hash
    /// the node reports. Returns the RLP and the hash.
    pub fn header_rlp(&mut self, number: u64) -> Result<(Vec<u8>, B256), CallError> {
        let b = self
            .block(number)?
            .ok_or_else(|| rejected(format!("no block {number}")))?;
        let hash = B256::from(fixed::<32>(&b["hash"], "block hash")?);
        let header: alloy_consensus::Header = serde_json::from_value(b)
            .map_err(|e| rejected(format!("block {number}: header fields: {e}")))?;
        let rlp = alloy_rlp::encode(&header);
        if keccak256(&rlp) != hash {
            return Err(rejected(format!(
                "block {number}: the header fields do not re-encode to the block hash \
                 (a header format this client does not know)"
            )));
        }
        Ok((rlp, hash))
    }

    /// The RLP headers of blocks `from..=to`, oldest first, each checked to be its child's
    /// parent (a reorg while fetching is an error: fetch again).
    pub fn header_chain(&mut self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, CallError> {
        if to < from {
            return Err(rejected(format!("header chain {from}..={to} is empty")));
        }
        let mut out: Vec<Vec<u8>> = Vec::with_capacity((to - from + 1) as usize);
        let mut prev: Option<B256> = None;
        for n in from..=to {
            let (rlp, hash) = self.header_rlp(n)?;
            if let Some(p) = prev {
                // parentHash is the header's first field: after the list prefix.
                let parent: alloy_consensus::Header =
                    alloy_rlp::Decodable::decode(&mut &rlp[..])
                        .map_err(|e| rejected(format!("block {n}: {e}")))?;
                if parent.parent_hash != p {
                    return Err(rejected(format!(
                        "block {n} does not follow block {} (a reorg while fetching)",
                        n - 1
                    )));
                }
            }
            prev = Some(hash);
            out.push(rlp);
        }
        Ok(out)
    }

    /// `eth_getProof` for `address` and `slots` at block `number`, as the light client's types.
    pub fn get_proof(
        &mut self,
        address: Address,
        slots: &[[u8; 32]],
        number: u64,
    ) -> Result<(AccountProof, Vec<StorageProof>), CallError> {
        let keys: Vec<String> = slots.iter().map(|s| hex_b(s)).collect();
        let v = self.request("eth_getProof", json!([address, keys, hex_q(number)]))?;
        let account = AccountProof {
            address: fixed::<20>(&v["address"], "address")?,
            nonce: quantity(&v["nonce"], "nonce")?,
            balance: word(&v["balance"], "balance")?,
            storage_hash: fixed::<32>(&v["storageHash"], "storageHash")?,
            code_hash: fixed::<32>(&v["codeHash"], "codeHash")?,
            proof: proof_nodes(&v["accountProof"], "accountProof")?,
        };
        let sp = v["storageProof"]
            .as_array()
            .ok_or_else(|| rejected("storageProof is not a list"))?;
        if sp.len() != slots.len() {
            return Err(rejected(format!(
                "eth_getProof answered {} storage proofs for {} slots",
                sp.len(),
                slots.len()
            )));
        }
        let storage = sp
            .iter()
            .map(|p| {
                Ok(StorageProof {
                    key: word(&p["key"], "storage key")?,
                    value: word(&p["value"], "storage value")?,
                    proof: proof_nodes(&p["proof"], "storage proof")?,
                })
            })
            .collect::<Result<Vec<_>, CallError>>()?;
        Ok((account, storage))
    }

    fn call_object(from: Address, to: Option<Address>, data: &Bytes, value: U256) -> Value {
        let mut o = json!({"data": hex_b(data), "value": format!("0x{value:x}")});
        if from != Address::ZERO {
            o["from"] = json!(from);
        }
        if let Some(to) = to {
            o["to"] = json!(to);
        }
        o
    }

    /// `eth_call` at `block`; a revert with data becomes [`CallError::Revert`].
    fn eth_call(&mut self, call: &Value, block: &str) -> Result<Bytes, CallError> {
        match self.raw("eth_call", json!([call, block]))? {
            Ok(v) => parse_bytes(as_str(&v, "call output")?),
            Err(e) => match e.revert_data() {
                Some(data) => Err(CallError::Revert { data, gas_used: 0 }),
                None if e.message.contains("revert") => Err(CallError::Revert {
                    data: Bytes::new(),
                    gas_used: 0,
                }),
                None => Err(rejected(format!(
                    "eth_call: {} (code {})",
                    e.message, e.code
                ))),
            },
        }
    }

    /// The offer of [`FeePolicy::offer`] for the chain's latest base fee and suggested tip.
    fn fees(&mut self) -> Result<(u128, u128), CallError> {
        let latest = self.request("eth_getBlockByNumber", json!(["latest", false]))?;
        let base = word(&latest["baseFeePerGas"], "baseFeePerGas")
            .map(|w| U256::from_be_bytes(w).saturating_to::<u128>())
            .unwrap_or(0);
        let tip = self
            .request("eth_maxPriorityFeePerGas", json!([]))
            .ok()
            .and_then(|v| word(&v, "tip").ok())
            .map(|w| U256::from_be_bytes(w).saturating_to::<u128>())
            .unwrap_or(1_000_000_000);
        self.fees.offer(base, tip).map_err(rejected)
    }

    /// The receipt of whichever of `hashes` is mined first, or `None` after `wait`.
    fn wait_any_receipt(
        &mut self,
        hashes: &[String],
        wait: Duration,
    ) -> Result<Option<(String, Value)>, CallError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            for h in hashes {
                let r = self.request("eth_getTransactionReceipt", json!([h]))?;
                if !r.is_null() {
                    return Ok(Some((h.clone(), r)));
                }
            }
            if start.elapsed() > wait {
                return Ok(None);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// The return data of a mined transaction from the call tracer, where the node has one.
    fn traced_output(&mut self, tx_hash: &str) -> Option<Bytes> {
        if self.trace_supported == Some(false) {
            return None;
        }
        let r = self
            .raw(
                "debug_traceTransaction",
                json!([tx_hash, {"tracer": "callTracer"}]),
            )
            .ok()?;
        match r {
            Ok(v) => {
                self.trace_supported = Some(true);
                v.get("output")
                    .and_then(Value::as_str)
                    .and_then(|s| parse_bytes(s).ok())
            }
            Err(_) => {
                self.trace_supported = Some(false);
                None
            }
        }
    }
}

impl Host for RpcHost {
    fn chain_id(&mut self) -> Result<u64, CallError> {
        if let Some(id) = self.chain_id {
            return Ok(id);
        }
        let v = self.request("eth_chainId", json!([]))?;
        let id = quantity(&v, "chain id")?;
        self.chain_id = Some(id);
        Ok(id)
    }

    fn send(
        &mut self,
        from: Address,
        to: Option<Address>,
        data: Bytes,
        value: U256,
    ) -> Result<TxOutcome, CallError> {
        let key = self
            .signers
            .get(&from)
            .cloned()
            .ok_or_else(|| rejected(format!("no key to sign for {from}")))?;
        let chain_id = self.chain_id()?;
        let call = Self::call_object(from, to, &data, value);
        // The simulation: reverts are returned before anything is sent.
        let simulated = self.eth_call(&call, "pending")?;
        let gas = match self.raw("eth_estimateGas", json!([call]))? {
            Ok(v) => quantity(&v, "gas estimate")?,
            Err(e) => {
                return Err(match e.revert_data() {
                    Some(data) => CallError::Revert { data, gas_used: 0 },
                    None => rejected(format!("eth_estimateGas: {}", e.message)),
                })
            }
        };
        let nonce = quantity(
            &self.request("eth_getTransactionCount", json!([from, "pending"]))?,
            "nonce",
        )?;
        let (mut max_fee, mut tip) = self.fees()?;
        let sign = |max_fee: u128, tip: u128| -> Result<Vec<u8>, CallError> {
            let tx = TxEip1559 {
                chain_id,
                nonce,
                gas_limit: gas.saturating_add(gas / 4).saturating_add(10_000),
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: tip,
                to: to.map_or(TxKind::Create, TxKind::Call),
                value,
                access_list: Default::default(),
                input: data.clone(),
            };
            let sighash = tx.signature_hash();
            let (sig, recid) = key
                .sign_prehash_recoverable(sighash.as_slice())
                .map_err(|e| rejected(format!("signing: {e}")))?;
            let signature = Signature::from_signature_and_parity(sig, recid.is_y_odd());
            Ok(TxEnvelope::Eip1559(tx.into_signed(signature)).encoded_2718())
        };
        let raw = sign(max_fee, tip)?;
        let tx_hash = self.request("eth_sendRawTransaction", json!([hex_b(&raw)]))?;
        let mut hashes = vec![as_str(&tx_hash, "transaction hash")?.to_string()];
        // Wait; replace a transaction left pending (same nonce, higher fees, within the cap).
        let start = Instant::now();
        let policy = self.fees;
        let mut replacements = 0;
        let (tx_hash, receipt) = loop {
            let left = self.receipt_timeout.saturating_sub(start.elapsed());
            let can_replace = replacements < policy.max_replacements;
            let wait = if can_replace {
                policy.replace_after.min(left)
            } else {
                left
            };
            if let Some(found) = self.wait_any_receipt(&hashes, wait)? {
                break found;
            }
            if start.elapsed() >= self.receipt_timeout {
                return Err(rejected(format!(
                    "transaction {} not mined within {} s",
                    hashes.join(", "),
                    self.receipt_timeout.as_secs()
                )));
            }
            match policy.bumped(max_fee, tip).filter(|_| can_replace) {
                Some((f, t)) => {
                    replacements += 1;
                    let raw = sign(f, t)?;
                    match self.raw("eth_sendRawTransaction", json!([hex_b(&raw)]))? {
                        Ok(h) => {
                            hashes.push(as_str(&h, "transaction hash")?.to_string());
                            (max_fee, tip) = (f, t);
                        }
                        // Already mined (nonce too low) or refused: keep waiting for the ones
                        // sent.
                        Err(_) => continue,
                    }
                }
                None => replacements = policy.max_replacements,
            }
        };
        let gas_used = quantity(&receipt["gasUsed"], "gasUsed")?;
        if quantity(&receipt["status"], "status")? != 1 {
            // Mined but failed: re-run it where it ran for the revert data.
            let block = as_str(&receipt["blockNumber"], "blockNumber")?.to_string();
            return Err(match self.eth_call(&call, &block) {
                Err(CallError::Revert { data, .. }) => CallError::Revert { data, gas_used },
                _ => CallError::Halt {
                    reason: format!("transaction {tx_hash} failed on-chain"),
                    gas_used,
                },
            });
        }
        let created = match receipt.get("contractAddress").and_then(Value::as_str) {
            Some(a) if to.is_none() => {
                Some(Address::from(fixed::<20>(&json!(a), "contractAddress")?))
            }
            _ => None,
        };
        let output = match created {
            Some(a) => self.code(a)?,
            None => self.traced_output(&tx_hash).unwrap_or(simulated),
        };
        let logs = receipt["logs"]
            .as_array()
            .map(|ls| {
                ls.iter()
                    .map(parse_log)
                    .collect::<Result<Vec<_>, CallError>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(TxOutcome {
            output,
            created,
            gas_used,
            logs,
        })
    }

    fn call(&mut self, from: Address, to: Address, data: Bytes) -> Result<Bytes, CallError> {
        let call = Self::call_object(from, Some(to), &data, U256::ZERO);
        self.eth_call(&call, "latest")
    }

    fn timestamp(&mut self) -> Result<u64, CallError> {
        let b = self.request("eth_getBlockByNumber", json!(["latest", false]))?;
        quantity(&b["timestamp"], "timestamp")
    }

    fn block_number(&mut self) -> Result<u64, CallError> {
        let v = self.request("eth_blockNumber", json!([]))?;
        quantity(&v, "block number")
    }

    fn advance(&mut self, secs: u64, blocks: u64) -> Result<(), CallError> {
        if !self.is_dev() {
            let client = self.client_version();
            return Err(rejected(format!(
                "moving time is for dev chains only; {} is `{client}`",
                self.url
            )));
        }
        if secs > 0 {
            self.request("evm_increaseTime", json!([secs]))?;
        }
        if blocks > 0 {
            if self.request("anvil_mine", json!([hex_q(blocks)])).is_err() {
                for _ in 0..blocks {
                    self.request("evm_mine", json!([]))?;
                }
            }
        } else if secs > 0 {
            // The time moves with the next block: mine it so `timestamp` reflects it.
            self.request("evm_mine", json!([]))?;
        }
        Ok(())
    }

    fn logs(
        &mut self,
        address: Address,
        topic0: B256,
        from_block: u64,
    ) -> Result<Vec<Log>, CallError> {
        let v = self.request(
            "eth_getLogs",
            json!([{
                "address": format!("{address:#x}"),
                "topics": [format!("{topic0:#x}")],
                "fromBlock": hex_q(from_block),
                "toBlock": "latest",
            }]),
        )?;
        v.as_array()
            .ok_or_else(|| rejected("eth_getLogs: not an array"))?
            .iter()
            .map(parse_log)
            .collect()
    }
}
