//! Deploying and wiring the settlement contracts, and the typed calls the node and the
//! challenger make. Works on any [`Host`]: the embedded revm chain or an RPC node.

use crate::bindings::{
    dispute_game::DisputeGame, model_registry::ModelRegistry, node_staking::NodeStaking,
    rewards::Rewards, settlement::Settlement, spot_checks::SpotChecks,
};
use crate::host::{self, CallError, Host, TxOutcome};
use crate::proofs::{self, ReceiptRef};
use alloy_primitives::{Address, Bytes, FixedBytes, U256};
use alloy_sol_types::SolConstructor;
use otr_core::rollup::merkle::Hash;
use otr_core::rollup::{ChainStatus, DisputeState, MicroBatchHeader};

/// Protocol parameters fixed at deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Least stake to post batches (wei).
    pub min_stake: U256,
    /// Seconds between a withdrawal request and the payout.
    pub withdrawal_delay: u64,
    /// Seconds a batch can be challenged (PROTOCOL §8).
    pub challenge_window: u64,
    /// Seconds past the window a node's stake stays locked after it posts.
    pub lock_extension: u64,
    /// Least challenger bond (wei).
    pub min_bond: U256,
    /// Seconds each side has for a dispute move.
    pub move_timeout: u64,
    /// Slashed from a node that loses a dispute (wei, capped at its stake).
    pub slash_amount: U256,
    /// Share of the slashed stake (or forfeited bond) paid to the winner, in basis points.
    pub winner_bps: u64,
    /// The spot-check seed is the hash of block `postedBlock + seed_delay_blocks`.
    pub seed_delay_blocks: u64,
    /// Spot-check rate, parts per million (10_000 = 1%).
    pub rho_ppm: u64,
    /// Seconds after posting by which selected receipts must be proved.
    pub proof_window: u64,
    /// Slashed for a missed spot-check proof (wei).
    pub spot_slash: U256,
    /// Share of it paid to the reporter, in basis points.
    pub reporter_bps: u64,
    /// Reward epoch length (seconds) and the delay after an epoch before claims open.
    pub epoch_length: u64,
    pub claim_delay: u64,
}

impl Params {
    /// The devnet defaults: windows of minutes, 1 ETH stake, 0.1 ETH bond, 1% spot checks.
    pub fn devnet() -> Self {
        let eth = U256::from(10u64).pow(U256::from(18u64));
        Params {
            min_stake: eth,
            withdrawal_delay: 600,
            challenge_window: 300,
            lock_extension: 600,
            min_bond: eth / U256::from(10u64),
            move_timeout: 120,
            slash_amount: eth / U256::from(2u64),
            winner_bps: 5_000,
            seed_delay_blocks: 2,
            rho_ppm: 10_000,
            proof_window: 600,
            spot_slash: eth / U256::from(2u64),
            reporter_bps: 5_000,
            epoch_length: 3_600,
            claim_delay: 1_800,
        }
    }
}

/// Addresses of one deployment, and the typed calls on them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    pub owner: Address,
    pub registry: Address,
    pub staking: Address,
    pub settlement: Address,
    pub dispute_game: Address,
    pub spot_checks: Address,
    pub rewards: Address,
}

/// One operator's matrix shape for [`Deployment::set_matvec_verifier`]: stage class (1 layer,
/// 2 head), operator code, matrix rows and cols, rows per unit `R`, and the Groth16 verifier of
/// that unit circuit ([`Deployment::deploy_matvec_groth16`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatVecShape {
    pub stage_class: u8,
    pub op: u8,
    pub rows: u32,
    pub cols: u32,
    pub unit_rows: u32,
    pub verifier: Address,
}

/// The node's `proveUnit` arguments (docs/PROTOCOL.md §7.9, step 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitMove {
    /// The step's input (`Act16::bytes`) and whole output (i64le).
    pub x: Vec<u8>,
    pub y: Vec<u8>,
    /// `C_W` (32-byte big-endian) and its RFC 6962 opening in the registry's `poseidonRoot`.
    pub c_w: [u8; 32],
    pub cw_index: u64,
    pub cw_size: u64,
    pub cw_path: Vec<[u8; 32]>,
    /// The Groth16 proof, EIP-197 order.
    pub proof: [U256; 8],
}

/// The finality of a batch as the settlement contract reports it (PROTOCOL §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchFinality {
    Unknown,
    InWindow { posted_at: u64, ends_at: u64 },
    Disputed { posted_at: u64, ends_at: u64 },
    Slashed { posted_at: u64, slashed_wei: u128 },
    Final { since: u64 },
}

/// Deploys a contract from its creation code and ABI-encoded constructor arguments.
pub fn deploy_code<H: Host + ?Sized>(
    host: &mut H,
    from: Address,
    code: &[u8],
    args: Vec<u8>,
) -> Result<(Address, TxOutcome), CallError> {
    let mut data = code.to_vec();
    data.extend_from_slice(&args);
    let out = host.send(from, None, data.into(), U256::ZERO)?;
    let addr = out
        .created
        .ok_or_else(|| CallError::Rejected("creation returned no address".into()))?;
    Ok((addr, out))
}

impl Deployment {
    /// Deploys all six contracts from `owner`, wires them (slashers, adjudicators, the
    /// settlement's time lock) and returns their addresses. `genesis` starts reward epoch 0.
    pub fn deploy<H: Host + ?Sized>(
        host: &mut H,
        owner: Address,
        p: &Params,
        genesis: u64,
    ) -> Result<Self, CallError> {
        let (registry, _) = deploy_code(
            host,
            owner,
            &ModelRegistry::BYTECODE,
            ModelRegistry::constructorCall { owner_: owner }.abi_encode(),
        )?;
        let (staking, _) = deploy_code(
            host,
            owner,
            &NodeStaking::BYTECODE,
            NodeStaking::constructorCall {
                owner_: owner,
                minStake_: p.min_stake,
                withdrawalDelay_: U256::from(p.withdrawal_delay),
            }
            .abi_encode(),
        )?;
        let (settlement, _) = deploy_code(
            host,
            owner,
            &Settlement::BYTECODE,
            Settlement::constructorCall {
                owner_: owner,
                staking_: staking,
                challengeWindow_: U256::from(p.challenge_window),
                lockExtension_: U256::from(p.lock_extension),
            }
            .abi_encode(),
        )?;
        let (dispute_game, _) = deploy_code(
            host,
            owner,
            &DisputeGame::BYTECODE,
            DisputeGame::constructorCall {
                owner_: owner,
                settlement_: settlement,
                staking_: staking,
                registry_: registry,
                minBond_: p.min_bond,
                moveTimeout_: U256::from(p.move_timeout),
                slashAmount_: p.slash_amount,
                winnerBps_: U256::from(p.winner_bps),
            }
            .abi_encode(),
        )?;
        let (spot_checks, _) = deploy_code(
            host,
            owner,
            &SpotChecks::BYTECODE,
            SpotChecks::constructorCall {
                owner_: owner,
                settlement_: settlement,
                staking_: staking,
                registry_: registry,
                seedDelayBlocks_: U256::from(p.seed_delay_blocks),
                rhoPpm_: U256::from(p.rho_ppm),
                proofWindow_: U256::from(p.proof_window),
                slashAmount_: p.spot_slash,
                reporterBps_: U256::from(p.reporter_bps),
            }
            .abi_encode(),
        )?;
        let (rewards, _) = deploy_code(
            host,
            owner,
            &Rewards::BYTECODE,
            Rewards::constructorCall {
                settlement_: settlement,
                spotChecks_: spot_checks,
                registry_: registry,
                genesis_: U256::from(genesis),
                epochLength_: U256::from(p.epoch_length),
                claimDelay_: U256::from(p.claim_delay),
            }
            .abi_encode(),
        )?;
        let z = U256::ZERO;
        host::send(
            host,
            owner,
            staking,
            &NodeStaking::setSlasherCall {
                who: dispute_game,
                allowed: true,
            },
            z,
        )?;
        host::send(
            host,
            owner,
            staking,
            &NodeStaking::setSlasherCall {
                who: spot_checks,
                allowed: true,
            },
            z,
        )?;
        host::send(
            host,
            owner,
            staking,
            &NodeStaking::setSettlementCall { s: settlement },
            z,
        )?;
        host::send(
            host,
            owner,
            settlement,
            &Settlement::setAdjudicatorCall {
                who: dispute_game,
                allowed: true,
            },
            z,
        )?;
        host::send(
            host,
            owner,
            settlement,
            &Settlement::setAdjudicatorCall {
                who: spot_checks,
                allowed: true,
            },
            z,
        )?;
        Ok(Deployment {
            owner,
            registry,
            staking,
            settlement,
            dispute_game,
            spot_checks,
            rewards,
        })
    }

    /// Stakes `wei` for `node`.
    pub fn stake<H: Host + ?Sized>(
        &self,
        host: &mut H,
        node: Address,
        wei: U256,
    ) -> Result<TxOutcome, CallError> {
        host::send(host, node, self.staking, &NodeStaking::stakeCall {}, wei).map(|r| r.1)
    }

    /// Posts `headers` (consecutive headers of `node`'s chain) as one batch; returns its index.
    pub fn post_batch<H: Host + ?Sized>(
        &self,
        host: &mut H,
        node: Address,
        headers: &[MicroBatchHeader],
    ) -> Result<(u64, TxOutcome), CallError> {
        let call = Settlement::postBatchCall {
            root: FixedBytes(proofs::batch_root(headers)),
            headers: Bytes::from(proofs::headers_calldata(headers)),
        };
        let (index, out) = host::send(host, node, self.settlement, &call, U256::ZERO)?;
        Ok((index.saturating_to(), out))
    }

    pub fn batch<H: Host + ?Sized>(
        &self,
        host: &mut H,
        index: u64,
    ) -> Result<Settlement::Batch, CallError> {
        host::view(
            host,
            self.settlement,
            &Settlement::batchCall {
                index: U256::from(index),
            },
        )
    }

    /// The batch's finality, evaluated by the contract at the chain's current time.
    pub fn finality<H: Host + ?Sized>(
        &self,
        host: &mut H,
        index: u64,
    ) -> Result<BatchFinality, CallError> {
        let f = host::view(
            host,
            self.settlement,
            &Settlement::finalityCall {
                index: U256::from(index),
            },
        )?;
        Ok(match f.status {
            1 => BatchFinality::InWindow {
                posted_at: f.postedAt,
                ends_at: f.endsAt,
            },
            2 => BatchFinality::Disputed {
                posted_at: f.postedAt,
                ends_at: f.endsAt,
            },
            3 => BatchFinality::Slashed {
                posted_at: f.postedAt,
                slashed_wei: f.slashedWei,
            },
            4 => BatchFinality::Final { since: f.endsAt },
            _ => BatchFinality::Unknown,
        })
    }

    /// The `ChainStatus` of a bundle (PROTOCOL §2.3) for a posted batch.
    pub fn chain_status<H: Host + ?Sized>(
        &self,
        host: &mut H,
        index: u64,
    ) -> Result<ChainStatus, CallError> {
        let b = self.batch(host, index)?;
        let window: U256 = host::view(host, self.settlement, &Settlement::challengeWindowCall {})?;
        let dispute = match b.disputeState {
            1 => DisputeState::Open,
            2 => DisputeState::ResolvedNodeWon,
            3 => DisputeState::ResolvedNodeLost {
                slashed_wei: b.slashedWei,
            },
            _ => DisputeState::None,
        };
        Ok(ChainStatus {
            batch_posted_at: b.postedAt,
            challenge_window_secs: window.saturating_to(),
            dispute,
        })
    }

    /// Opens a dispute over one receipt; returns the dispute id.
    pub fn open_dispute<H: Host + ?Sized>(
        &self,
        host: &mut H,
        challenger: Address,
        r: &ReceiptRef,
        bond: U256,
    ) -> Result<(u64, TxOutcome), CallError> {
        let call = DisputeGame::openDisputeCall { r: r.into() };
        let (id, out) = host::send(host, challenger, self.dispute_game, &call, bond)?;
        Ok((id.saturating_to(), out))
    }

    /// Slashes, with no game, the node of a receipt whose `traceSteps` is not its token counts'
    /// trace layout (`DisputeGame.challengeLayout`); the bond is returned. Returns the amount
    /// slashed.
    pub fn challenge_layout<H: Host + ?Sized>(
        &self,
        host: &mut H,
        challenger: Address,
        r: &ReceiptRef,
        bond: U256,
    ) -> Result<(U256, TxOutcome), CallError> {
        let call = DisputeGame::challengeLayoutCall { r: r.into() };
        host::send(host, challenger, self.dispute_game, &call, bond)
    }

    pub fn dispute<H: Host + ?Sized>(
        &self,
        host: &mut H,
        id: u64,
    ) -> Result<DisputeGame::Dispute, CallError> {
        host::view(
            host,
            self.dispute_game,
            &DisputeGame::disputeCall { id: U256::from(id) },
        )
    }

    /// The node's bisection move, computed from its trace.
    pub fn bisect<H: Host + ?Sized>(
        &self,
        host: &mut H,
        node: Address,
        id: u64,
        trace: &proofs::Trace,
    ) -> Result<TxOutcome, CallError> {
        let d = self.dispute(host, id)?;
        let mid = d.agreeSize + (d.disagreeSize - d.agreeSize) / 2;
        let call = DisputeGame::bisectCall {
            id: U256::from(id),
            midRoot: FixedBytes(trace.prefix_root(mid)),
            consistency: proofs::words(&trace.consistency(mid, d.disagreeSize)),
        };
        host::send(host, node, self.dispute_game, &call, U256::ZERO).map(|r| r.1)
    }

    /// The challenger's move: compares the node's revealed prefix root with its own trace.
    pub fn respond<H: Host + ?Sized>(
        &self,
        host: &mut H,
        challenger: Address,
        id: u64,
        own: &proofs::Trace,
    ) -> Result<(bool, TxOutcome), CallError> {
        let d = self.dispute(host, id)?;
        let mid = d.agreeSize + (d.disagreeSize - d.agreeSize) / 2;
        let agree = mid <= own.len() && own.prefix_root(mid) == d.midRoot.0;
        let call = DisputeGame::respondCall {
            id: U256::from(id),
            agree,
        };
        host::send(host, challenger, self.dispute_game, &call, U256::ZERO).map(|r| (agree, r.1))
    }

    /// The node's one-step proof of leaf `agreeSize` with inputs at `input_indices` (opened in
    /// the agreed prefix) and the operator's `witness`.
    pub fn prove_step<H: Host + ?Sized>(
        &self,
        host: &mut H,
        node: Address,
        id: u64,
        trace: &proofs::Trace,
        input_indices: &[u64],
        witness: Vec<u8>,
    ) -> Result<TxOutcome, CallError> {
        let d = self.dispute(host, id)?;
        let a = d.agreeSize;
        let (out_leaf, out_path) = disputed_leaf(&d, trace);
        let inputs = agreed_openings(trace, input_indices, a);
        let call = DisputeGame::proveStepCall {
            id: U256::from(id),
            outLeaf: out_leaf,
            outPath: out_path,
            inputs,
            witness: witness.into(),
        };
        host::send(host, node, self.dispute_game, &call, U256::ZERO).map(|r| r.1)
    }

    /// The node's claim at a step settled by refutation (`DisputeGame.claimStep`; a greedy
    /// `SAMPLE`): leaf `agreeSize`, its inputs at `input_indices` (opened in the agreed prefix)
    /// and `claim`, the step's output bytes.
    pub fn claim_step<H: Host + ?Sized>(
        &self,
        host: &mut H,
        node: Address,
        id: u64,
        trace: &proofs::Trace,
        input_indices: &[u64],
        claim: Vec<u8>,
    ) -> Result<TxOutcome, CallError> {
        let d = self.dispute(host, id)?;
        let a = d.agreeSize;
        let (out_leaf, out_path) = disputed_leaf(&d, trace);
        let inputs = agreed_openings(trace, input_indices, a);
        let call = DisputeGame::claimStepCall {
            id: U256::from(id),
            outLeaf: out_leaf,
            outPath: out_path,
            inputs,
            claim: claim.into(),
        };
        host::send(host, node, self.dispute_game, &call, U256::ZERO).map(|r| r.1)
    }

    /// The verifier of the node's claim in dispute `id` (zero before `claimStep`).
    pub fn claim_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        id: u64,
    ) -> Result<Address, CallError> {
        self.claim(host, id).map(|c| c.verifier)
    }

    /// The node's claim in dispute `id`: verifier, named part, stage (0 none, 1 claimed, 2 part
    /// named, 3 part revealed).
    pub fn claim<H: Host + ?Sized>(
        &self,
        host: &mut H,
        id: u64,
    ) -> Result<DisputeGame::claimsReturn, CallError> {
        host::view(
            host,
            self.dispute_game,
            &DisputeGame::claimsCall(U256::from(id)),
        )
    }

    /// Whether the registry's verifier for `(stage, op)` of `model_id` settles the step by
    /// claim and refutation (`IRefutableStep`: it answers `parts`).
    pub fn refutable<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        stage: u16,
        op: u8,
    ) -> Result<bool, CallError> {
        let v = self.step_verifier(host, model_id, stage, op)?;
        if v == Address::ZERO {
            return Ok(false);
        }
        let call = crate::bindings::refutable_step::IRefutableStep::partsCall {
            modelId: FixedBytes(model_id),
            claim: Bytes::new(),
        };
        Ok(host::view(host, v, &call).is_ok())
    }

    /// The challenger's move after a claim with parts: the part it asks the node to reveal.
    pub fn name_part<H: Host + ?Sized>(
        &self,
        host: &mut H,
        challenger: Address,
        id: u64,
        c: &StepClaim,
        part: u64,
    ) -> Result<TxOutcome, CallError> {
        let (out_leaf, in_leaves, claim) = c.call_args();
        let call = DisputeGame::namePartCall {
            id: U256::from(id),
            outLeaf: out_leaf,
            inLeaves: in_leaves,
            claim,
            part: U256::from(part),
        };
        host::send(host, challenger, self.dispute_game, &call, U256::ZERO).map(|r| r.1)
    }

    /// The node's move after `namePart`: the named part's bytes.
    pub fn reveal_part<H: Host + ?Sized>(
        &self,
        host: &mut H,
        node: Address,
        id: u64,
        c: &StepClaim,
        data: &[u8],
    ) -> Result<TxOutcome, CallError> {
        let (out_leaf, in_leaves, claim) = c.call_args();
        let call = DisputeGame::revealPartCall {
            id: U256::from(id),
            outLeaf: out_leaf,
            inLeaves: in_leaves,
            claim,
            data: Bytes::copy_from_slice(data),
        };
        host::send(host, node, self.dispute_game, &call, U256::ZERO).map(|r| r.1)
    }

    /// The last event `E` of dispute `id` (`id_of` reads its id) the game emitted in block
    /// `from` or later: readers start at a block the game recorded, since RPC providers cap the
    /// block range of `eth_getLogs`.
    fn last_event<E: alloy_sol_types::SolEvent, H: Host + ?Sized>(
        &self,
        host: &mut H,
        from: u64,
        id: u64,
        id_of: impl Fn(&E) -> U256,
    ) -> Result<Option<E>, CallError> {
        Ok(host
            .logs(self.dispute_game, E::SIGNATURE_HASH, from)?
            .iter()
            .filter_map(|l| E::decode_log_data(&l.data).ok())
            .rfind(|e| id_of(e) == U256::from(id)))
    }

    /// The block of the node's claim in dispute `id`, `None` before it made one.
    fn claimed_block<H: Host + ?Sized>(
        &self,
        host: &mut H,
        id: u64,
    ) -> Result<Option<u64>, CallError> {
        let c = self.claim(host, id)?;
        Ok((c.stage != 0).then(|| c.claimedBlock.to::<u64>()))
    }

    /// The part the node revealed in dispute `id` (its `PartRevealed` event, after the claim):
    /// index and bytes.
    pub fn part_revealed<H: Host + ?Sized>(
        &self,
        host: &mut H,
        id: u64,
    ) -> Result<Option<(u64, Vec<u8>)>, CallError> {
        let Some(from) = self.claimed_block(host, id)? else {
            return Ok(None);
        };
        let e = self.last_event(host, from, id, |e: &DisputeGame::PartRevealed| e.id)?;
        Ok(e.map(|e| (e.part.to::<u64>(), e.data.to_vec())))
    }

    /// The node's claim in dispute `id` (its `StepClaimed` event), `None` before it made one.
    pub fn step_claimed<H: Host + ?Sized>(
        &self,
        host: &mut H,
        id: u64,
    ) -> Result<Option<StepClaim>, CallError> {
        let Some(from) = self.claimed_block(host, id)? else {
            return Ok(None);
        };
        let e = self.last_event(host, from, id, |e: &DisputeGame::StepClaimed| e.id)?;
        Ok(e.map(|e| StepClaim {
            out_leaf: e.outLeaf.to_vec(),
            in_leaves: e.inLeaves.iter().map(|b| b.to_vec()).collect(),
            claim: e.claim.to_vec(),
        }))
    }

    /// The challenger's refutation of the node's claim `c` (`DisputeGame.refuteStep`) with the
    /// revealed part (empty for a claim without parts) and the verifier's counterexample
    /// `witness` (`SAMPLE`: [`sample_refutation_witness`]; `LOGITS`:
    /// [`logits_refutation_witness`]).
    pub fn refute_step<H: Host + ?Sized>(
        &self,
        host: &mut H,
        challenger: Address,
        id: u64,
        c: &StepClaim,
        part: &[u8],
        witness: Vec<u8>,
    ) -> Result<TxOutcome, CallError> {
        self.send_refutation(host, challenger, id, c, part, Vec::new(), witness)
    }

    /// [`Deployment::refute_step`] with the leaves at `indices` of the challenger's `trace`
    /// opened in the agreed prefix (an `ATTN` part's keys and values:
    /// [`attn_refutation_witness`]).
    #[allow(clippy::too_many_arguments)]
    pub fn refute_step_opened<H: Host + ?Sized>(
        &self,
        host: &mut H,
        challenger: Address,
        id: u64,
        c: &StepClaim,
        part: &[u8],
        trace: &proofs::Trace,
        indices: &[u64],
        witness: Vec<u8>,
    ) -> Result<TxOutcome, CallError> {
        let a = self.dispute(host, id)?.agreeSize;
        let openings = agreed_openings(trace, indices, a);
        self.send_refutation(host, challenger, id, c, part, openings, witness)
    }

    #[allow(clippy::too_many_arguments)]
    fn send_refutation<H: Host + ?Sized>(
        &self,
        host: &mut H,
        challenger: Address,
        id: u64,
        c: &StepClaim,
        part: &[u8],
        openings: Vec<crate::bindings::dispute_game::StepOpening::Leaf>,
        witness: Vec<u8>,
    ) -> Result<TxOutcome, CallError> {
        let (out_leaf, in_leaves, claim) = c.call_args();
        let call = DisputeGame::refuteStepCall {
            id: U256::from(id),
            outLeaf: out_leaf,
            inLeaves: in_leaves,
            claim,
            part: Bytes::copy_from_slice(part),
            openings,
            witness: witness.into(),
        };
        host::send(host, challenger, self.dispute_game, &call, U256::ZERO).map(|r| r.1)
    }

    /// Node's last move at a step whose operator has no step verifier: the dispute ends with
    /// no winner (`DisputeGame.declareUnprovable`).
    pub fn declare_unprovable<H: Host + ?Sized>(
        &self,
        host: &mut H,
        node: Address,
        id: u64,
        trace: &proofs::Trace,
    ) -> Result<TxOutcome, CallError> {
        let (out_leaf, out_path) = disputed_leaf(&self.dispute(host, id)?, trace);
        let call = DisputeGame::declareUnprovableCall {
            id: U256::from(id),
            outLeaf: out_leaf,
            outPath: out_path,
        };
        host::send(host, node, self.dispute_game, &call, U256::ZERO).map(|r| r.1)
    }

    /// Ends a dispute whose side to move missed its deadline.
    pub fn timeout<H: Host + ?Sized>(
        &self,
        host: &mut H,
        from: Address,
        id: u64,
    ) -> Result<TxOutcome, CallError> {
        host::send(
            host,
            from,
            self.dispute_game,
            &DisputeGame::timeoutCall { id: U256::from(id) },
            U256::ZERO,
        )
        .map(|r| r.1)
    }

    /// Number of disputes ever opened (ids are `0..count`).
    pub fn dispute_count<H: Host + ?Sized>(&self, host: &mut H) -> Result<u64, CallError> {
        let n: U256 = host::view(host, self.dispute_game, &DisputeGame::disputeCountCall {})?;
        Ok(n.saturating_to())
    }

    /// Until when (chain time) the side to move in dispute `id` may move.
    pub fn move_deadline<H: Host + ?Sized>(&self, host: &mut H, id: u64) -> Result<u64, CallError> {
        let t: U256 = host::view(
            host,
            self.dispute_game,
            &DisputeGame::deadlineCall { id: U256::from(id) },
        )?;
        Ok(t.saturating_to())
    }

    /// The step verifier the registry names for operator `op` at trace stage `stage` of
    /// `model_id` (`Address::ZERO` when there is none: such a step cannot be proved).
    pub fn step_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        stage: u16,
        op: u8,
    ) -> Result<Address, CallError> {
        host::view(
            host,
            self.registry,
            &ModelRegistry::stepVerifierCall {
                modelId: FixedBytes(model_id),
                stage,
                op,
            },
        )
    }

    /// Registers (or replaces) `model_id` with its weights root, layer count (which maps trace
    /// stages to the registry's stage classes) and PoEA cost weight; from the owner. The config,
    /// tokenizer and Poseidon commitments are zero here.
    pub fn register_model<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        weights_root: Hash,
        num_layers: u16,
        cost_weight: u64,
    ) -> Result<TxOutcome, CallError> {
        let m = ModelRegistry::Model {
            configHash: FixedBytes([0u8; 32]),
            tokenizerHash: FixedBytes([0u8; 32]),
            weightsRoot: FixedBytes(weights_root),
            poseidonRoot: FixedBytes([0u8; 32]),
            costWeight: cost_weight,
            numLayers: num_layers,
            active: true,
        };
        host::send(
            host,
            self.owner,
            self.registry,
            &ModelRegistry::registerModelCall {
                modelId: FixedBytes(model_id),
                m,
                vks: vec![],
            },
            U256::ZERO,
        )
        .map(|r| r.1)
    }

    /// Deploys the residual-add step verifier (`verifiers/WideAddStepVerifier.sol`) and names
    /// it, from the owner, for `RESID_ATTN` (9) and `RESID_FFN` (15) of `model_id`'s layers.
    /// Right for models whose residual is a plain add (Llama; not Gemma's post norms).
    pub fn set_wide_add_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
    ) -> Result<Address, CallError> {
        self.deploy_step_verifier(
            host,
            model_id,
            &crate::bindings::wide_add::WideAddStepVerifier::BYTECODE,
            vec![],
            &[(1, 9), (1, 15)],
        )
    }

    /// Deploys the RMSNorm step verifier (`verifiers/NormStepVerifier.sol`, bound to this
    /// deployment's registry) and names it, from the owner, for `model_id`'s `ATTN_NORM` (layer
    /// op 0), `FFN_NORM` (layer op 10) and `FINAL_NORM` (head op 0), and, when `post_norms`
    /// (Gemma 3: `h + rms_norm(x)`), for `RESID_ATTN` (9) and `RESID_FFN` (15).
    pub fn set_norm_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        post_norms: bool,
    ) -> Result<Address, CallError> {
        use crate::bindings::norm_step::NormStepVerifier;
        let mut steps = vec![(1u8, 0u8), (1, 10), (2, 0)];
        if post_norms {
            steps.extend([(1, 9), (1, 15)]);
        }
        self.deploy_step_verifier(
            host,
            model_id,
            &NormStepVerifier::BYTECODE,
            NormStepVerifier::constructorCall {
                registry_: self.registry,
            }
            .abi_encode(),
            &steps,
        )
    }

    /// Deploys the QK-norm + RoPE step verifier (`verifiers/RopeStepVerifier.sol`) with the
    /// model's RoPE table roots `[global layers, local layers]` (engine `Model::rope_roots`) and
    /// names it, from the owner, for `model_id`'s `Q_ROPE` (layer op 4) and `K_ROPE` (5).
    pub fn set_rope_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        rope_roots: [Hash; 2],
    ) -> Result<Address, CallError> {
        use crate::bindings::rope_step::RopeStepVerifier;
        self.deploy_step_verifier(
            host,
            model_id,
            &RopeStepVerifier::BYTECODE,
            RopeStepVerifier::constructorCall {
                registry_: self.registry,
                ropeRootGlobal_: FixedBytes(rope_roots[0]),
                ropeRootLocal_: FixedBytes(rope_roots[1]),
            }
            .abi_encode(),
            &[(1, 4), (1, 5)],
        )
    }

    /// Deploys the token-embedding step verifier (`verifiers/EmbedStepVerifier.sol`) for the
    /// weights `weights_root` with their embedding-row root, vocabulary and embedding scale
    /// (engine `Model::embed_rows_root`, `Config::embed_scale_q32`) and names it, from the owner,
    /// for `model_id`'s `EMBED` (stage 0, op 1).
    pub fn set_embed_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        weights_root: Hash,
        rows_root: Hash,
        vocab: u64,
        scale_q32: i64,
    ) -> Result<Address, CallError> {
        use crate::bindings::embed_step::EmbedStepVerifier;
        self.deploy_step_verifier(
            host,
            model_id,
            &EmbedStepVerifier::BYTECODE,
            EmbedStepVerifier::constructorCall {
                registry_: self.registry,
                weightsRoot_: FixedBytes(weights_root),
                rowsRoot_: FixedBytes(rows_root),
                vocab_: U256::from(vocab),
                scaleQ32_: scale_q32,
            }
            .abi_encode(),
            &[(0, 1)],
        )
    }

    /// Deploys the prompt step verifier (`verifiers/PromptStepVerifier.sol`, settled by
    /// refutation) for a tokenizer's vocabulary-piece tree (engine `Tokenizer::pieces_root`,
    /// `pieces` leaves; `bos`: the BOS a leading token is skipped as, engine
    /// `Tokenizer::prompt_bos`) and its text-sorted tree (`texts_root`, `texts` leaves: engine
    /// `Tokenizer::text_tree`), and names it, from the owner, for `model_id`'s `PROMPT` (stage 0,
    /// op 0).
    #[allow(clippy::too_many_arguments)]
    pub fn set_prompt_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        pieces_root: Hash,
        pieces: u64,
        bos: Option<u32>,
        texts_root: Hash,
        texts: u64,
    ) -> Result<Address, CallError> {
        use crate::bindings::prompt_step::PromptStepVerifier;
        self.deploy_step_verifier(
            host,
            model_id,
            &PromptStepVerifier::BYTECODE,
            PromptStepVerifier::constructorCall {
                piecesRoot_: FixedBytes(pieces_root),
                vocab_: U256::from(pieces),
                bos_: bos.map(U256::from).unwrap_or(U256::MAX),
                textsRoot_: FixedBytes(texts_root),
                texts_: U256::from(texts),
            }
            .abi_encode(),
            &[(0, 0)],
        )
    }

    /// Deploys the sampling step verifier (`verifiers/SampleStepVerifier.sol`, settled by
    /// refutation: greedy and sampled picks) for a vocabulary of `vocab` tokens and the engine's
    /// 2^-x table (`exp_digest`: engine `tables::exp2_table_digest`), and names it, from the
    /// owner, for `model_id`'s `SAMPLE` (head op 2).
    pub fn set_sample_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        vocab: u64,
        exp_digest: Hash,
    ) -> Result<Address, CallError> {
        use crate::bindings::sample_step::SampleStepVerifier;
        self.deploy_step_verifier(
            host,
            model_id,
            &SampleStepVerifier::BYTECODE,
            SampleStepVerifier::constructorCall {
                registry_: self.registry,
                vocab_: U256::from(vocab),
                expTableDigest_: FixedBytes(exp_digest),
            }
            .abi_encode(),
            &[(2, 2)],
        )
    }

    /// Deploys the `LOGITS` step verifier of a model whose head multiplies by its token
    /// embedding (`verifiers/LogitsStepVerifier.sol`, settled by refutation) for the weights
    /// `weights_root` with their embedding-row root and vocabulary, and names it, from the
    /// owner, for `model_id`'s `LOGITS` (head op 1).
    pub fn set_logits_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        weights_root: Hash,
        rows_root: Hash,
        vocab: u64,
    ) -> Result<Address, CallError> {
        use crate::bindings::logits_step::LogitsStepVerifier;
        self.deploy_step_verifier(
            host,
            model_id,
            &LogitsStepVerifier::BYTECODE,
            LogitsStepVerifier::constructorCall {
                registry_: self.registry,
                weightsRoot_: FixedBytes(weights_root),
                rowsRoot_: FixedBytes(rows_root),
                vocab_: U256::from(vocab),
            }
            .abi_encode(),
            &[(2, 1)],
        )
    }

    /// Deploys the layer matrix steps' refutation verifier (`verifiers/MatRowStepVerifier.sol`)
    /// for the weights `weights_root` and their matrix-rows root (engine
    /// `Model::matrix_rows_root`), and names it, from the owner, for `model_id`'s `Q K V O GATE
    /// UP DOWN` (layer ops 1, 2, 3, 8, 11, 12, 14). A `MatVecStepVerifier` named later for an
    /// operator (`set_matvec_verifier`) replaces it there.
    pub fn set_matrow_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        weights_root: Hash,
        matrices_root: Hash,
    ) -> Result<Address, CallError> {
        use crate::bindings::matrow_step::MatRowStepVerifier;
        self.deploy_step_verifier(
            host,
            model_id,
            &MatRowStepVerifier::BYTECODE,
            MatRowStepVerifier::constructorCall {
                registry_: self.registry,
                weightsRoot_: FixedBytes(weights_root),
                matricesRoot_: FixedBytes(matrices_root),
            }
            .abi_encode(),
            &LAYER_MATRIX_OPS.map(|op| (1, op)),
        )
    }

    /// Deploys the V_CACHE step verifier (`verifiers/VCacheStepVerifier.sol`, bound to this
    /// deployment's registry) and names it, from the owner, for `model_id`'s `V_CACHE` (layer
    /// op 6).
    pub fn set_vcache_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
    ) -> Result<Address, CallError> {
        use crate::bindings::vcache_step::VCacheStepVerifier;
        self.deploy_step_verifier(
            host,
            model_id,
            &VCacheStepVerifier::BYTECODE,
            VCacheStepVerifier::constructorCall {
                registry_: self.registry,
            }
            .abi_encode(),
            &[(1, 6)],
        )
    }

    /// Deploys the gated-activation step verifier (`verifiers/ActStepVerifier.sol`) with the
    /// commitment of the model's activation table (engine `Model::act_table_digest`) and names
    /// it, from the owner, for `model_id`'s `ACT` (layer op 13).
    pub fn set_act_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        table_digest: Hash,
    ) -> Result<Address, CallError> {
        use crate::bindings::act_step::ActStepVerifier;
        self.deploy_step_verifier(
            host,
            model_id,
            &ActStepVerifier::BYTECODE,
            ActStepVerifier::constructorCall {
                registry_: self.registry,
                tableDigest_: FixedBytes(table_digest),
            }
            .abi_encode(),
            &[(1, 13)],
        )
    }

    /// Deploys the attention step verifier (`verifiers/AttnStepVerifier.sol`) with the
    /// commitment of the engine's 2^-x table (engine `tables::exp2_table_digest`) and names it,
    /// from the owner, for `model_id`'s `ATTN` (layer op 7).
    pub fn set_attn_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        exp_table_digest: Hash,
        limits: AttnLimits,
    ) -> Result<Address, CallError> {
        use crate::bindings::attn_step::AttnStepVerifier;
        self.deploy_step_verifier(
            host,
            model_id,
            &AttnStepVerifier::BYTECODE,
            AttnStepVerifier::constructorCall {
                registry_: self.registry,
                expTableDigest_: FixedBytes(exp_table_digest),
                maxVisible_: U256::from(limits.max_visible),
                window_: U256::from(limits.window),
                globalEvery_: U256::from(limits.global_every),
                chunk_: U256::from(limits.chunk),
            }
            .abi_encode(),
            &[(1, 7)],
        )
    }

    /// Deploys the Poseidon round schedule (`PoseidonRounds.sol`, once per chain) from the owner.
    pub fn deploy_poseidon_rounds<H: Host + ?Sized>(
        &self,
        host: &mut H,
    ) -> Result<Address, CallError> {
        use crate::bindings::poseidon_rounds::PoseidonRounds;
        Ok(deploy_code(host, self.owner, &PoseidonRounds::BYTECODE, vec![])?.0)
    }

    /// Deploys, from the owner, the Groth16 verifier of one unit shape
    /// (`verifiers/MatVecGroth16Verifier.sol`) with verifying key `vk` (4 public inputs) as
    /// constructor data.
    pub fn deploy_matvec_groth16<H: Host + ?Sized>(
        &self,
        host: &mut H,
        vk: &ark_groth16::VerifyingKey<ark_bn254::Bn254>,
    ) -> Result<Address, CallError> {
        use crate::bindings::matvec_groth16::MatVecGroth16Verifier;
        let words = crate::groth16_sol::vk_words(vk)
            .ok_or_else(|| CallError::Rejected("the key does not have 4 public inputs".into()))?;
        let args = MatVecGroth16Verifier::constructorCall { vk: words }.abi_encode();
        Ok(deploy_code(host, self.owner, &MatVecGroth16Verifier::BYTECODE, args)?.0)
    }

    /// Deploys the matrix-vector step verifier (`verifiers/MatVecStepVerifier.sol`, bound to
    /// this deployment's registry and the Poseidon schedule at `rounds`) with one shape per
    /// operator, and names it, from the owner, for each shape's `(stage class, op)` of
    /// `model_id`. `tied_output`: `LOGITS` multiplies by `token_embd.weight`.
    pub fn set_matvec_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        rounds: Address,
        tied_output: bool,
        shapes: &[MatVecShape],
    ) -> Result<Address, CallError> {
        use crate::bindings::matvec_step::MatVecStepVerifier;
        let steps: Vec<(u8, u8)> = shapes.iter().map(|s| (s.stage_class, s.op)).collect();
        let args = MatVecStepVerifier::constructorCall {
            registry_: self.registry,
            rounds_: rounds,
            tiedOutput_: tied_output,
            shapes_: shapes
                .iter()
                .map(|s| MatVecStepVerifier::Shape {
                    stageClass: s.stage_class,
                    op: s.op,
                    rows: s.rows,
                    cols: s.cols,
                    unitRows: s.unit_rows,
                    verifier: s.verifier,
                })
                .collect(),
        }
        .abi_encode();
        self.deploy_step_verifier(host, model_id, &MatVecStepVerifier::BYTECODE, args, &steps)
    }

    /// The node's first move at a matrix-vector step (leaf `agreeSize`, its input at
    /// `input_index` in the agreed prefix): publishes the whole output `y` (i64le).
    pub fn open_mat_vec<H: Host + ?Sized>(
        &self,
        host: &mut H,
        node: Address,
        id: u64,
        trace: &proofs::Trace,
        input_index: u64,
        y: &[u8],
    ) -> Result<TxOutcome, CallError> {
        let d = self.dispute(host, id)?;
        let a = d.agreeSize;
        let (out_leaf, out_path) = disputed_leaf(&d, trace);
        let call = DisputeGame::openMatVecCall {
            id: U256::from(id),
            outLeaf: out_leaf,
            outPath: out_path,
            inputs: agreed_openings(trace, &[input_index], a),
            y: Bytes::copy_from_slice(y),
        };
        host::send(host, node, self.dispute_game, &call, U256::ZERO).map(|r| r.1)
    }

    /// The challenger's move after `openMatVec`: the unit starting at `row_start`.
    pub fn name_unit<H: Host + ?Sized>(
        &self,
        host: &mut H,
        challenger: Address,
        id: u64,
        row_start: u64,
    ) -> Result<TxOutcome, CallError> {
        let call = DisputeGame::nameUnitCall {
            id: U256::from(id),
            rowStart: U256::from(row_start),
        };
        host::send(host, challenger, self.dispute_game, &call, U256::ZERO).map(|r| r.1)
    }

    /// The node's last move at a matrix-vector step: the unit proof (`proof` in the EIP-197
    /// order, `groth16_sol::proof_calldata`) with the step's input `x`, whole output `y` and the
    /// matrix commitment's opening in the registry's `poseidonRoot`.
    pub fn prove_unit<H: Host + ?Sized>(
        &self,
        host: &mut H,
        node: Address,
        id: u64,
        u: &UnitMove,
    ) -> Result<TxOutcome, CallError> {
        let call = DisputeGame::proveUnitCall {
            id: U256::from(id),
            x: Bytes::copy_from_slice(&u.x),
            y: Bytes::copy_from_slice(&u.y),
            cwIndex: U256::from(u.cw_index),
            cwSize: U256::from(u.cw_size),
            cwPath: proofs::words(&u.cw_path),
            cW: U256::from_be_bytes(u.c_w),
            proof: u.proof,
        };
        host::send(host, node, self.dispute_game, &call, U256::ZERO).map(|r| r.1)
    }

    /// Dispute `id`'s matrix-vector step (stage `None` = 0 until `openMatVec`).
    pub fn mat_vec<H: Host + ?Sized>(
        &self,
        host: &mut H,
        id: u64,
    ) -> Result<DisputeGame::matVecsReturn, CallError> {
        host::view(
            host,
            self.dispute_game,
            &DisputeGame::matVecsCall(U256::from(id)),
        )
    }

    /// The output `y` (i64le) the node published with `openMatVec` in dispute `id` (its
    /// `MatVecOpened` event), `None` before it did.
    pub fn mat_vec_opened<H: Host + ?Sized>(
        &self,
        host: &mut H,
        id: u64,
    ) -> Result<Option<Vec<u8>>, CallError> {
        // From the opening's block, recorded by the game.
        let m = self.mat_vec(host, id)?;
        if m.stage == 0 {
            return Ok(None);
        }
        let e = self.last_event(
            host,
            m.openedBlock.to::<u64>(),
            id,
            |e: &DisputeGame::MatVecOpened| e.id,
        )?;
        Ok(e.map(|e| e.y.to_vec()))
    }

    /// Deploys a step verifier (`bytecode` with constructor arguments `args`) from the owner and
    /// names it for `model_id`'s `(stage class, op)` steps.
    fn deploy_step_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        bytecode: &[u8],
        args: Vec<u8>,
        steps: &[(u8, u8)],
    ) -> Result<Address, CallError> {
        let (v, _) = deploy_code(host, self.owner, bytecode, args)?;
        for &(class, op) in steps {
            self.name_step_verifier(host, model_id, class, op, v)?;
        }
        Ok(v)
    }

    /// Names `verifier`, from the owner, for operator `op` of stage class `class` of `model_id`.
    fn name_step_verifier<H: Host + ?Sized>(
        &self,
        host: &mut H,
        model_id: Hash,
        class: u8,
        op: u8,
        verifier: Address,
    ) -> Result<(), CallError> {
        host::send(
            host,
            self.owner,
            self.registry,
            &ModelRegistry::setStepVerifierCall {
                modelId: FixedBytes(model_id),
                class_: class,
                op,
                verifier,
            },
            U256::ZERO,
        )
        .map(|_| ())
    }

    /// The stake of `node` (wei).
    pub fn stake_of<H: Host + ?Sized>(
        &self,
        host: &mut H,
        node: Address,
    ) -> Result<U256, CallError> {
        let s = host::view(host, self.staking, &NodeStaking::stakesCall(node))?;
        Ok(U256::from(s.amount))
    }

    /// The credit `who` may claim from the staking contract (payouts of disputes, rewards).
    pub fn credit_of<H: Host + ?Sized>(
        &self,
        host: &mut H,
        who: Address,
    ) -> Result<U256, CallError> {
        host::view(host, self.staking, &NodeStaking::creditCall(who))
    }

    /// Registers the PoEA work of one micro-batch of a final batch (`Rewards.registerWork`):
    /// header `header_index` of batch `batch_index`, its audit path over the batch's header
    /// hashes, and all its receipts in leaf order. Returns the attributed work.
    #[allow(clippy::too_many_arguments)]
    pub fn register_work<H: Host + ?Sized>(
        &self,
        host: &mut H,
        from: Address,
        batch_index: u64,
        header_index: u32,
        header: &MicroBatchHeader,
        header_path: &[Hash],
        receipts: &[otr_core::rollup::Receipt],
    ) -> Result<U256, CallError> {
        let call = Rewards::registerWorkCall {
            batchIndex: batch_index,
            headerIndex: header_index,
            header: Bytes::from(header.encode()),
            headerPath: proofs::words(header_path),
            receipts: Bytes::from(
                receipts
                    .iter()
                    .flat_map(|r| r.encode())
                    .collect::<Vec<u8>>(),
            ),
        };
        host::send(host, from, self.rewards, &call, U256::ZERO).map(|r| r.0)
    }

    /// The reward epoch of chain time `t`, and when its claims open.
    pub fn reward_epoch<H: Host + ?Sized>(
        &self,
        host: &mut H,
        t: u64,
    ) -> Result<(u64, u64), CallError> {
        let e: U256 = host::view(
            host,
            self.rewards,
            &Rewards::epochOfCall {
                timestamp: U256::from(t),
            },
        )?;
        let opens: U256 = host::view(host, self.rewards, &Rewards::claimOpensAtCall { epoch: e })?;
        Ok((e.saturating_to(), opens.saturating_to()))
    }

    /// Adds `wei` to the reward pool of `epoch`.
    pub fn fund_epoch<H: Host + ?Sized>(
        &self,
        host: &mut H,
        from: Address,
        epoch: u64,
        wei: U256,
    ) -> Result<TxOutcome, CallError> {
        let call = Rewards::fundCall {
            epoch: U256::from(epoch),
        };
        host::send(host, from, self.rewards, &call, wei).map(|r| r.1)
    }

    /// `node`'s claim of its share of `epoch`'s pool; returns the amount paid.
    pub fn claim_reward<H: Host + ?Sized>(
        &self,
        host: &mut H,
        node: Address,
        epoch: u64,
    ) -> Result<U256, CallError> {
        let call = Rewards::claimCall {
            epoch: U256::from(epoch),
        };
        host::send(host, node, self.rewards, &call, U256::ZERO).map(|r| r.0)
    }

    /// Records the spot-check seed of a batch (anyone, once the seed block exists).
    pub fn record_seed<H: Host + ?Sized>(
        &self,
        host: &mut H,
        from: Address,
        index: u64,
    ) -> Result<Hash, CallError> {
        let (seed, _) = host::send(
            host,
            from,
            self.spot_checks,
            &SpotChecks::recordSeedCall {
                batchIndex: U256::from(index),
            },
            U256::ZERO,
        )?;
        Ok(seed.0)
    }

    /// `SpotChecks.selectedUnit`: the unit of `units` a spot check at a matrix-vector step of
    /// receipt `receipt_hash` in batch `index` must prove.
    pub fn selected_unit<H: Host + ?Sized>(
        &self,
        host: &mut H,
        index: u64,
        receipt_hash: Hash,
        units: u64,
    ) -> Result<u64, CallError> {
        let u = host::view(
            host,
            self.spot_checks,
            &SpotChecks::selectedUnitCall {
                batchIndex: U256::from(index),
                receiptHash: receipt_hash.into(),
                units: U256::from(units),
            },
        )?;
        Ok(u.saturating_to())
    }

    /// `SpotChecks.proveSpotCheck`: for receipt `r` (trace `trace`) whose sampled index is
    /// `skipped[0]` (or `step` when `skipped` is empty), the leaves `skipped` (none a layer
    /// matrix-vector step; see [`proofs::spot_check_step`]), the proved matrix-vector step `step`
    /// with its input leaf at `input_index`, and the unit proof of the unit the contract draws
    /// (`selected_unit`).
    #[allow(clippy::too_many_arguments)]
    pub fn prove_spot_check<H: Host + ?Sized>(
        &self,
        host: &mut H,
        node: Address,
        r: &proofs::ReceiptRef,
        trace: &proofs::Trace,
        skipped: &[u64],
        step: u64,
        input_index: u64,
        u: &UnitMove,
    ) -> Result<TxOutcome, CallError> {
        use crate::bindings::spot_checks::{MatVecStepVerifier, StepOpening};
        let n = trace.len();
        let leaf = |i: u64| StepOpening::Leaf {
            index: i,
            leaf: Bytes::from(trace.leaf(i).to_vec()),
            path: proofs::words(&trace.path(i, n)),
        };
        let call = SpotChecks::proveSpotCheckCall {
            r: r.into(),
            skipped: skipped.iter().map(|&i| leaf(i)).collect(),
            out: leaf(step),
            inputs: vec![leaf(input_index)],
            u: SpotChecks::UnitProof {
                x: Bytes::copy_from_slice(&u.x),
                y: Bytes::copy_from_slice(&u.y),
                w: MatVecStepVerifier::MatrixOpening {
                    index: U256::from(u.cw_index),
                    size: U256::from(u.cw_size),
                    path: proofs::words(&u.cw_path),
                    commitment: U256::from_be_bytes(u.c_w),
                },
                proof: u.proof,
            },
        };
        host::send(host, node, self.spot_checks, &call, U256::ZERO).map(|r| r.1)
    }
}

/// The witness of `NormStepVerifier.verifyStep`: `abi.encode(bytes config, bytes[] inputs, bytes
/// weights, uint256 leafIndex, uint256 treeSize, bytes32[] path)`: the canonical config text,
/// the input tensors in leaf order (canonical bytes), the norm vector's canonical bytes and its
/// audit path in the weights tree.
pub fn norm_step_witness(
    config: &[u8],
    inputs: &[Vec<u8>],
    weights: &[u8],
    leaf_index: u64,
    tree_size: u64,
    path: &[Hash],
) -> Vec<u8> {
    alloy_sol_types::SolValue::abi_encode_params(&(
        crate::Bytes::copy_from_slice(config),
        inputs
            .iter()
            .map(|t| crate::Bytes::copy_from_slice(t))
            .collect::<Vec<_>>(),
        crate::Bytes::copy_from_slice(weights),
        U256::from(leaf_index),
        U256::from(tree_size),
        path.iter()
            .map(|h| crate::B256::from(*h))
            .collect::<Vec<_>>(),
    ))
}

/// An opened item of a witness: its bytes, leaf index, tree size and audit path.
pub type Opened<'a> = (&'a [u8], u64, u64, &'a [Hash]);

/// The witness of `RopeStepVerifier.verifyStep`: `abi.encode(bytes config, bytes input, bytes
/// weights, uint256 leafIndex, uint256 treeSize, bytes32[] path, bytes row, uint256
/// rowTreeSize, bytes32[] rowPath)`: the canonical config text, the input projection, the
/// QK-norm vector opened in the weights tree (`None` for a model without QK-norm: empty) and
/// the RoPE row of the step's position opened in its table (its leaf index is the position).
pub fn rope_step_witness(
    config: &[u8],
    input: &[u8],
    norm: Option<Opened<'_>>,
    row: Opened<'_>,
) -> Vec<u8> {
    let (w, wi, ws, wp) = norm.unwrap_or((&[], 0, 0, &[]));
    let (r, _, rs, rp) = row;
    alloy_sol_types::SolValue::abi_encode_params(&(
        crate::Bytes::copy_from_slice(config),
        crate::Bytes::copy_from_slice(input),
        crate::Bytes::copy_from_slice(w),
        U256::from(wi),
        U256::from(ws),
        wp.iter().map(|h| crate::B256::from(*h)).collect::<Vec<_>>(),
        crate::Bytes::copy_from_slice(r),
        U256::from(rs),
        rp.iter().map(|h| crate::B256::from(*h)).collect::<Vec<_>>(),
    ))
}

/// The one disputed leaf (leaf `agreeSize` of `trace`) and its audit path in the disputed
/// prefix: what `proveStep`, `openMatVec` and `declareUnprovable` open.
fn disputed_leaf(d: &DisputeGame::Dispute, trace: &proofs::Trace) -> (Bytes, Vec<crate::B256>) {
    let (a, b) = (d.agreeSize, d.disagreeSize);
    (
        Bytes::from(trace.leaf(a).to_vec()),
        proofs::words(&trace.path(a, b)),
    )
}

/// What the attention step verifier is deployed with (`AttnStepVerifier.byProof`): the most
/// visible positions it proves, the model's `sliding_window` and `global_every`, and the
/// positions per part of a claim (a longer step is settled by refutation of one part).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnLimits {
    pub max_visible: u64,
    pub window: u64,
    pub global_every: u64,
    pub chunk: u64,
}

impl AttnLimits {
    /// Limits for a model of `n_heads` query heads of `head_dim`: the most visible positions
    /// whose `ATTN` proof fits 14.5M gas (below the 16M transaction cap) by a linear estimate
    /// from Gemma 3 270M-sized steps (4 heads x 256: about 141k per visible position and 1.69M
    /// fixed, both taken to grow with `n_heads x head_dim`): 90 positions at Gemma 3 270M's
    /// size. Measured since (docs/BENCHMARKS.md): 2.91M at 8 visible, 15.25M at 96, so about
    /// 14.4M at 90, inside the target. At most `context_len`. A claim's part is half of that (at least 1): its
    /// refutation recomputes the part and carries the claim and two states besides.
    pub fn estimate(
        n_heads: u64,
        head_dim: u64,
        context_len: u64,
        window: u64,
        global_every: u64,
    ) -> Self {
        let f = (n_heads * head_dim).max(1) as f64 / 1024.0;
        let fit = ((14.5e6 - 1.69e6 * f) / (141e3 * f)).floor().max(0.0) as u64;
        AttnLimits {
            max_visible: fit.min(context_len),
            window,
            global_every,
            chunk: (fit / 2).max(1),
        }
    }
}

/// The leaves at `indices` of `trace`, each with its audit path in the agreed prefix of
/// `agreed` leaves (the inputs of a one-step move).
fn agreed_openings(
    trace: &proofs::Trace,
    indices: &[u64],
    agreed: u64,
) -> Vec<crate::bindings::dispute_game::StepOpening::Leaf> {
    indices
        .iter()
        .map(|&i| crate::bindings::dispute_game::StepOpening::Leaf {
            index: i,
            leaf: Bytes::from(trace.leaf(i).to_vec()),
            path: proofs::words(&trace.path(i, agreed)),
        })
        .collect()
}

/// A node's claim at a step settled by refutation, as its `StepClaimed` event gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepClaim {
    pub out_leaf: Vec<u8>,
    pub in_leaves: Vec<Vec<u8>>,
    pub claim: Vec<u8>,
}

impl StepClaim {
    /// `(outLeaf, inLeaves, claim)` as `namePart`, `revealPart` and `refuteStep` repeat them.
    fn call_args(&self) -> (Bytes, Vec<Bytes>, Bytes) {
        (
            Bytes::copy_from_slice(&self.out_leaf),
            self.in_leaves
                .iter()
                .map(|l| Bytes::copy_from_slice(l))
                .collect(),
            Bytes::copy_from_slice(&self.claim),
        )
    }
}

/// The counterexample of `SampleStepVerifier.refutes` against a claimed token `t`: `abi.encode(
/// uint256 j, bytes chunkT, bytes32[] pathT, bytes chunkJ, bytes32[] pathJ)`, the chunks of the
/// step's logits (`logits`, i64le) holding `t` and `j` with their paths
/// (`otr_core::rollup::tensor`). `None` when either token is outside the logits.
pub fn sample_refutation_witness(logits: &[u8], t: u64, j: u64) -> Option<Vec<u8>> {
    use otr_core::rollup::tensor::open_wide_chunk;
    let ct = open_wide_chunk(logits, t).ok()?;
    let cj = open_wide_chunk(logits, j).ok()?;
    Some(alloy_sol_types::SolValue::abi_encode_params(&(
        U256::from(j),
        Bytes::from(ct.bytes),
        proofs::words(&ct.path),
        Bytes::from(cj.bytes),
        proofs::words(&cj.path),
    )))
}

alloy_sol_types::sol! {
    /// `SampleStepVerifier.Chunk`.
    #[derive(Debug, PartialEq, Eq)]
    struct SampledChunk {
        int64 max;
        uint32 n;
        uint128 w;
        uint128 k;
        uint128 c;
    }
    /// `SampleStepVerifier.Sampled`: a sampled pick's claim.
    #[derive(Debug, PartialEq, Eq)]
    struct SampledClaim {
        uint256 sampling;
        uint32 token;
        int64 lt;
        uint64 wt;
        int64 lmax;
        bool hasKb;
        int64 lkb;
        uint32 kb;
        bool hasPb;
        int64 lpb;
        uint32 pb;
        uint64 wpb;
        uint128 wTotal;
        uint128 wKept;
        uint128 cT;
        SampledChunk[] chunks;
    }
}

/// The dispute's sampling parameters packed as `DisputeGame` gives them to
/// `IRefutableStep.checkClaim`: `temperatureMilli | topK << 32 | topPMilli << 64 | seed << 96 |
/// promptTokens << 160`.
pub fn sampling_word(
    temperature_milli: u32,
    top_k: u32,
    top_p_milli: u32,
    seed: u64,
    prompt_tokens: u32,
) -> U256 {
    U256::from(temperature_milli)
        | U256::from(top_k) << 32
        | U256::from(top_p_milli) << 64
        | U256::from(seed) << 96
        | U256::from(prompt_tokens) << 160
}

impl SampledClaim {
    /// The claim bytes (`abi.encode(Sampled)`).
    pub fn encode(&self) -> Vec<u8> {
        alloy_sol_types::SolValue::abi_encode(self)
    }

    /// Decodes claim bytes; `None` when they are not a sampled claim.
    pub fn decode(b: &[u8]) -> Option<Self> {
        <Self as alloy_sol_types::SolValue>::abi_decode(b).ok()
    }
}

/// The counterexample of `SampleStepVerifier.refutes` against a sampled claim: chunk `j` of
/// the step's logits (`logits`, i64le) with its path and the engine's 2^-x table (`table`:
/// engine `tables::exp2_table_bytes`): `abi.encode(uint256 j, bytes chunk, bytes32[] path,
/// bytes table)`. `None` when the logits have no chunk `j`.
pub fn sampled_refutation_witness(logits: &[u8], j: u64, table: &[u8]) -> Option<Vec<u8>> {
    let c = otr_core::rollup::tensor::open_wide_chunk(
        logits,
        j * otr_core::rollup::tensor::WIDE_CHUNK as u64,
    )
    .ok()?;
    Some(alloy_sol_types::SolValue::abi_encode_params(&(
        U256::from(j),
        Bytes::from(c.bytes),
        proofs::words(&c.path),
        Bytes::copy_from_slice(table),
    )))
}

/// A `LOGITS` claim (`LogitsStepVerifier.checkClaim`): the hashes of the logits' chunks
/// (`otr_core::rollup::tensor`), concatenated; for a one-chunk tensor its SHA-256.
pub fn logits_claim(logits: &[u8]) -> Vec<u8> {
    use otr_core::rollup::tensor::{wide_chunk_hashes, WIDE_CHUNK_BYTES};
    if logits.len() <= WIDE_CHUNK_BYTES {
        return otr_core::crypto::sha256(logits).to_vec();
    }
    wide_chunk_hashes(logits).concat()
}

/// Chunk `part` (bytes) of a wide tensor (`otr_core::rollup::tensor` chunks); `None` past its
/// end.
pub fn wide_chunk(bytes: &[u8], part: u64) -> Option<&[u8]> {
    use otr_core::rollup::tensor::WIDE_CHUNK_BYTES;
    let start = usize::try_from(part).ok()?.checked_mul(WIDE_CHUNK_BYTES)?;
    (start < bytes.len()).then(|| &bytes[start..(start + WIDE_CHUNK_BYTES).min(bytes.len())])
}

/// The counterexample of `LogitsStepVerifier.refutes`: `abi.encode(uint256 j, bytes x, bytes
/// row, bytes32[] rowPath)`, logit `j`'s embedding row opened in the embedding-row tree and
/// the step's input `x` (Act16 bytes).
pub fn logits_refutation_witness(j: u64, x: &[u8], row: &[u8], path: &[Hash]) -> Vec<u8> {
    alloy_sol_types::SolValue::abi_encode_params(&(
        U256::from(j),
        Bytes::copy_from_slice(x),
        Bytes::copy_from_slice(row),
        proofs::words(path),
    ))
}

/// The most prompt tokens a node serves: a `PROMPT` claim costs about 200,000 + 530 gas per token
/// (`cargo test -p otr-contracts --test contracts prompt_gas -- --nocapture`: 4,759,807 at 8,772
/// tokens), so 28,000 tokens take about 15M, under the 16,777,216 transaction cap with margin. A
/// longer prompt's claim would not fit, and its node would lose the dispute by timeout.
pub const PROMPT_CLAIM_MAX_TOKENS: usize = 28_000;

/// The node's claim at the `PROMPT` step (`PromptStepVerifier.checkClaim`): `abi.encode(bytes
/// prompt, bytes ends)`, the leaf's output (`u32le(len(text)) || text || ids`) and the u32le end
/// of each token's piece in the text (after a leading `bos`), from the pieces' lengths
/// (`surface_len`: engine `Tokenizer::piece_surface`). `None` when `prompt` is not of that form.
pub fn prompt_claim(
    prompt: &[u8],
    bos: Option<u32>,
    surface_len: impl Fn(u32) -> usize,
) -> Option<Vec<u8>> {
    let (_, ids) = prompt_parts(prompt)?;
    let skip = usize::from(bos.is_some() && ids.first() == bos.as_ref());
    let mut ends = Vec::with_capacity(4 * ids.len());
    let mut end = 0usize;
    for &t in &ids[skip..] {
        end += surface_len(t);
        ends.extend_from_slice(&u32::try_from(end).ok()?.to_le_bytes());
    }
    Some(alloy_sol_types::SolValue::abi_encode_params(&(
        Bytes::copy_from_slice(prompt),
        Bytes::from(ends),
    )))
}

/// A `PROMPT` claim's `(prompt, ends)` ([`prompt_claim`]); `None` when it is not of that form.
pub fn prompt_claim_decode(claim: &[u8]) -> Option<(Vec<u8>, Vec<u32>)> {
    let (p, e) = <(Bytes, Bytes) as alloy_sol_types::SolValue>::abi_decode_params(claim).ok()?;
    if !e.len().is_multiple_of(4) {
        return None;
    }
    let ends = e
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Some((p.to_vec(), ends))
}

/// A `PROMPT` output's `(text, ids)`: `u32le(len(text)) || text || ids` (u32le each).
pub use otr_core::prompt::prompt_parts;

/// The first token of a `PROMPT` claim whose piece is not the claimed text between its ends,
/// given each id's piece (`surface`: engine `Tokenizer::piece_surface`): its index counted after
/// a leading `bos` (what [`prompt_refutation_witness`] names) and its id; `None` when every piece
/// is its text (an honest claim).
pub fn prompt_wrong_token(
    claim: &[u8],
    bos: Option<u32>,
    surface: impl Fn(u32) -> Vec<u8>,
) -> Option<(u64, u32)> {
    let (prompt, ends) = prompt_claim_decode(claim)?;
    let (text, ids) = prompt_parts(&prompt)?;
    let skip = usize::from(bos.is_some() && ids.first() == bos.as_ref());
    let mut start = 0usize;
    for (k, (&t, &end)) in ids.get(skip..)?.iter().zip(&ends).enumerate() {
        let end = end as usize;
        if text.get(start..end) != Some(&surface(t)[..]) {
            return Some((k as u64, t));
        }
        start = end;
    }
    None
}

/// A wrong piece, the first counterexample of `PromptStepVerifier.refutes`:
/// `abi.encode(uint256 0, uint256 k, uint8 kind, bytes surface, bytes32[] path)`, token `k`'s
/// piece (engine `Tokenizer::piece_kind`, `piece_surface`) opened in the vocabulary-piece tree.
pub fn prompt_refutation_witness(k: u64, kind: u8, surface: &[u8], path: &[Hash]) -> Vec<u8> {
    alloy_sol_types::SolValue::abi_encode_params(&(
        U256::ZERO,
        U256::from(k),
        U256::from(kind), // uint8: the same word
        Bytes::copy_from_slice(surface),
        proofs::words(path),
    ))
}

/// A mergeable pair, the second counterexample of `PromptStepVerifier.refutes`:
/// `abi.encode(uint256 1, uint256 k, uint256 merged, bytes32[] pathA, bytes32[] pathB,
/// bytes32[] pathM)`: tokens `k` and `k + 1` (after a skipped BOS) and the piece `merged` they
/// make (engine `Tokenizer::mergeable_pair`), each opened in the vocabulary-piece tree.
pub fn prompt_merge_witness(
    k: u64,
    merged: u32,
    path_a: &[Hash],
    path_b: &[Hash],
    path_merged: &[Hash],
) -> Vec<u8> {
    alloy_sol_types::SolValue::abi_encode_params(&(
        U256::from(1),
        U256::from(k),
        U256::from(merged),
        proofs::words(path_a),
        proofs::words(path_b),
        proofs::words(path_merged),
    ))
}

/// One leaf of the text-sorted vocabulary tree opened (engine `TextOpening`): `(index, id,
/// score_key, text, path)`.
pub type TextOpening = (u64, u32, u32, Vec<u8>, Vec<Hash>);

/// A non-canonical pair, the third counterexample of `PromptStepVerifier.refutes`:
/// `abi.encode(uint256 2, uint256 k, bytes32[] pathA, bytes32[] pathB, TextOpening[] os)`:
/// tokens `k` and `k + 1` opened as mergeable pieces and the text tree's openings of every text
/// the tokenizer's replay on their text looks up (engine `Tokenizer::non_canonical_pair`).
pub fn prompt_replay_witness(
    k: u64,
    path_a: &[Hash],
    path_b: &[Hash],
    openings: &[TextOpening],
) -> Vec<u8> {
    let os = text_openings(openings);
    alloy_sol_types::SolValue::abi_encode_params(&(
        U256::from(2),
        U256::from(k),
        proofs::words(path_a),
        proofs::words(path_b),
        os,
    ))
}

/// A misplaced byte, the fourth counterexample of `PromptStepVerifier.refutes`:
/// `abi.encode(uint256 3, uint256 k, bytes32[] path, TextOpening c)`: byte token `k` opened
/// in the vocabulary-piece tree and its character's leaf of the text tree (engine
/// `Tokenizer::misplaced_byte`).
pub fn prompt_byte_witness(k: u64, path: &[Hash], c: &TextOpening) -> Vec<u8> {
    let (index, id, key, text, cpath) = c;
    alloy_sol_types::SolValue::abi_encode_params(&(
        U256::from(3),
        U256::from(k),
        proofs::words(path),
        (
            U256::from(*index),
            U256::from(*id),
            U256::from(*key),
            Bytes::copy_from_slice(text),
            proofs::words(cpath),
        ),
    ))
}

/// A spelled special, the fifth counterexample of `PromptStepVerifier.refutes`:
/// `abi.encode(uint256 4, uint256 i, uint256 p, uint256 len, uint256 sid, bytes32[] pathS,
/// bytes32[][] paths)`: the special token `sid`'s text at byte `p` (`len` bytes) of the
/// prompt's text, opened in the vocabulary-piece tree, and tokens `i ..` (one path each, all
/// it overlaps) opened as mergeable pieces (engine `Tokenizer::spelled_special`).
pub fn prompt_special_witness(
    i: u64,
    p: u64,
    len: u64,
    sid: u32,
    path_special: &[Hash],
    paths: &[Vec<Hash>],
) -> Vec<u8> {
    let paths: Vec<Vec<FixedBytes<32>>> = paths.iter().map(|p| proofs::words(p)).collect();
    alloy_sol_types::SolValue::abi_encode_params(&(
        U256::from(4),
        U256::from(i),
        U256::from(p),
        U256::from(len),
        U256::from(sid),
        proofs::words(path_special),
        paths,
    ))
}

/// A non-canonical pair with a byte side, the sixth counterexample of
/// `PromptStepVerifier.refutes`: `abi.encode(uint256 5, uint256 k, uint256 ra, uint256 rb,
/// bytes32[][] paths, TextOpening[] os)`: tokens `k ..` as two units of `ra` and `rb` tokens (a
/// mergeable piece, or the byte tokens of one character), one piece path per token, and the text
/// tree's openings of the replay's lookups (engine `Tokenizer::non_canonical_bytes`).
pub fn prompt_units_witness(
    k: u64,
    ra: u64,
    rb: u64,
    paths: &[Vec<Hash>],
    openings: &[TextOpening],
) -> Vec<u8> {
    let paths: Vec<Vec<FixedBytes<32>>> = paths.iter().map(|p| proofs::words(p)).collect();
    alloy_sol_types::SolValue::abi_encode_params(&(
        U256::from(5),
        U256::from(k),
        U256::from(ra),
        U256::from(rb),
        paths,
        text_openings(openings),
    ))
}

/// The text openings as the verifier's `TextOpening` tuples.
fn text_openings(openings: &[TextOpening]) -> Vec<(U256, U256, U256, Bytes, Vec<FixedBytes<32>>)> {
    openings
        .iter()
        .map(|(index, id, key, text, path)| {
            (
                U256::from(*index),
                U256::from(*id),
                U256::from(*key),
                Bytes::copy_from_slice(text),
                proofs::words(path),
            )
        })
        .collect()
}

/// The layer operators that multiply by a matrix: `Q K V O GATE UP DOWN`.
pub const LAYER_MATRIX_OPS: [u8; 7] = [1, 2, 3, 8, 11, 12, 14];

/// One row of a layer matrix opened in two levels (engine `Model::matrix_row_opening`): the row
/// (`u32le(rm) || i32le(re) || block scales || quants`) with its path in the matrix's row tree,
/// and that tree's root with the matrix's rows, leaf index, tree size and path in the
/// matrix-rows tree.
#[derive(Clone, Debug, Default)]
pub struct MatrixRow {
    pub row: Vec<u8>,
    pub row_path: Vec<Hash>,
    pub rows: u64,
    pub rows_root: Hash,
    pub index: u64,
    pub size: u64,
    pub path: Vec<Hash>,
}

/// The counterexample of `MatRowStepVerifier.refutes`: `abi.encode(uint256 j, bytes x, bytes
/// row, bytes32[] rowPath, uint256 rows, bytes32 rowsRoot, uint256 index, uint256 size,
/// bytes32[] path)`: row `j` of the step's matrix, opened, and the step's input `x`.
pub fn matrow_refutation_witness(j: u64, x: &[u8], m: &MatrixRow) -> Vec<u8> {
    alloy_sol_types::SolValue::abi_encode_params(&(
        U256::from(j),
        Bytes::copy_from_slice(x),
        Bytes::copy_from_slice(&m.row),
        proofs::words(&m.row_path),
        U256::from(m.rows),
        FixedBytes(m.rows_root),
        U256::from(m.index),
        U256::from(m.size),
        proofs::words(&m.path),
    ))
}

/// The greedy pick of `logits` (i64le; engine `sampling::sample` at temperature 0): the largest
/// value, the smallest index on ties. `None` for no logits.
pub fn greedy_pick(logits: &[u8]) -> Option<u64> {
    let mut best: Option<(u64, i64)> = None;
    for (i, c) in logits.chunks_exact(8).enumerate() {
        let v = i64::from_le_bytes(c.try_into().expect("8 bytes"));
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i as u64, v));
        }
    }
    best.map(|(i, _)| i)
}

/// The witness of `EmbedStepVerifier.verifyStep`: `abi.encode(bytes tokens, bytes row,
/// bytes32[] rowPath)`, the input leaf's tensor (the prompt's ids, or the sampled token, u32le)
/// and the token's embedding row (engine `EmbedRowOpening::row`) with its audit path.
pub fn embed_step_witness(tokens: &[u8], row: &[u8], path: &[Hash]) -> Vec<u8> {
    alloy_sol_types::SolValue::abi_encode_params(&(
        crate::Bytes::copy_from_slice(tokens),
        crate::Bytes::copy_from_slice(row),
        path.iter()
            .map(|h| crate::B256::from(*h))
            .collect::<Vec<_>>(),
    ))
}

/// The witness of `VCacheStepVerifier.verifyStep`: `abi.encode(bytes config, bytes input)`, the
/// canonical config text and the value projection (canonical bytes).
pub fn vcache_step_witness(config: &[u8], input: &[u8]) -> Vec<u8> {
    alloy_sol_types::SolValue::abi_encode_params(&(
        crate::Bytes::copy_from_slice(config),
        crate::Bytes::copy_from_slice(input),
    ))
}

/// The witness of `ActStepVerifier.verifyStep`: `abi.encode(bytes gate, bytes up, bytes
/// table)`, the two projections (canonical bytes) and the activation table's canonical bytes
/// (engine `Model::act_table_bytes`).
pub fn act_step_witness(gate: &[u8], up: &[u8], table: &[u8]) -> Vec<u8> {
    alloy_sol_types::SolValue::abi_encode_params(&(
        crate::Bytes::copy_from_slice(gate),
        crate::Bytes::copy_from_slice(up),
        crate::Bytes::copy_from_slice(table),
    ))
}

/// The witness of `AttnStepVerifier.verifyStep`: `abi.encode(bytes config, bytes q, bytes ks,
/// bytes vs, bytes table)`: the canonical config text, the query heads (the `Q_ROPE` output),
/// the visible keys and values position after position (the `K_ROPE` / `V_CACHE` outputs
/// concatenated) and the 2^-x table (engine `tables::exp2_table_bytes`).
pub fn attn_step_witness(config: &[u8], q: &[u8], ks: &[u8], vs: &[u8], table: &[u8]) -> Vec<u8> {
    alloy_sol_types::SolValue::abi_encode_params(&(
        crate::Bytes::copy_from_slice(config),
        crate::Bytes::copy_from_slice(q),
        crate::Bytes::copy_from_slice(ks),
        crate::Bytes::copy_from_slice(vs),
        crate::Bytes::copy_from_slice(table),
    ))
}

/// An `ATTN` claim (`AttnStepVerifier.checkClaim`): `abi.encode(bytes config, bytes last,
/// bytes32[] digests)` from the states after each part (engine `attn_parts::encode_state`).
pub fn attn_claim(config: &[u8], states: &[Vec<u8>]) -> Vec<u8> {
    let digests: Vec<FixedBytes<32>> = states
        .iter()
        .map(|s| FixedBytes(otr_core::crypto::sha256(s)))
        .collect();
    let last = states.last().cloned().unwrap_or_default();
    alloy_sol_types::SolValue::abi_encode_params(&(
        crate::Bytes::copy_from_slice(config),
        crate::Bytes::from(last),
        digests,
    ))
}

/// An `ATTN` claim read back: `(config, last, digests)`; `None` when it is not one.
pub fn attn_claim_decode(claim: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Vec<Hash>)> {
    let (config, last, digests) =
        <(crate::Bytes, crate::Bytes, Vec<FixedBytes<32>>) as alloy_sol_types::SolValue>::abi_decode_params(claim)
            .ok()?;
    Some((
        config.to_vec(),
        last.to_vec(),
        digests.into_iter().map(|d| d.0).collect(),
    ))
}

/// Part `part` of an `ATTN` claim as the node reveals it (`AttnStepVerifier.checkPart`):
/// `abi.encode(bytes prev, bytes cur)`, the states before and after it (`prev` empty for part
/// 0). `None` past the last part.
pub fn attn_part(states: &[Vec<u8>], part: u64) -> Option<Vec<u8>> {
    let i = usize::try_from(part).ok()?;
    let cur = states.get(i)?.clone();
    let prev = match i {
        0 => Vec::new(),
        _ => states[i - 1].clone(),
    };
    Some(alloy_sol_types::SolValue::abi_encode_params(&(
        crate::Bytes::from(prev),
        crate::Bytes::from(cur),
    )))
}

/// An `ATTN` part read back: `(prev, cur)`.
pub fn attn_part_decode(part: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (prev, cur) =
        <(crate::Bytes, crate::Bytes) as alloy_sol_types::SolValue>::abi_decode_params(part)
            .ok()?;
    Some((prev.to_vec(), cur.to_vec()))
}

/// The counterexample of `AttnStepVerifier.refutes`: `abi.encode(bytes q, bytes ks, bytes vs,
/// bytes table)`, the query heads and the part's keys and values (position after position).
pub fn attn_refutation_witness(q: &[u8], ks: &[u8], vs: &[u8], table: &[u8]) -> Vec<u8> {
    alloy_sol_types::SolValue::abi_encode_params(&(
        crate::Bytes::copy_from_slice(q),
        crate::Bytes::copy_from_slice(ks),
        crate::Bytes::copy_from_slice(vs),
        crate::Bytes::copy_from_slice(table),
    ))
}
