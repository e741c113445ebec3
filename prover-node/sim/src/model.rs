//! Protocol parameters, scenarios, strategies, and the closed-form economics.

use crate::costs::CostModel;
use serde::{Deserialize, Serialize};

/// Protocol parameters (defaults: the devnet parameters of `contracts/src/deploy.rs`, the node's
/// 200 ms micro-batch window, one batch post a minute).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Params {
    /// Spot-check rate: probability that a posted receipt is selected.
    pub rho: f64,
    /// A node's stake (ETH) and the least stake to keep posting.
    pub stake_eth: f64,
    pub min_stake_eth: f64,
    /// Slashed for a lost dispute, as a fraction of the initial stake (capped at what is left).
    pub slash_fraction: f64,
    /// Slashed for a missed spot-check proof, as a fraction of the initial stake.
    pub spot_slash_fraction: f64,
    /// Share of a dispute slash paid to the winning challenger (rest burned / treasury).
    pub winner_share: f64,
    /// Share of a missed-proof slash paid to the reporter.
    pub reporter_share: f64,
    /// Challenger bond (ETH).
    pub bond_eth: f64,
    pub challenge_window_s: f64,
    pub proof_window_s: f64,
    pub move_timeout_s: f64,
    pub seed_delay_blocks: f64,
    pub micro_batch_interval_s: f64,
    pub batch_interval_s: f64,
    pub block_time_s: f64,
    pub gas_price_gwei: f64,
    /// The node proves every row of the spot-checked matrix step (not built) rather than the
    /// one unit of R rows the seed draws (`proveSpotCheck`, the contracts as built).
    pub whole_step_spot_checks: bool,
    /// Proofs are computed on the node's own machine (taking time from inference).
    pub prove_on_node: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            rho: 0.01,
            stake_eth: 1.0,
            min_stake_eth: 1.0,
            slash_fraction: 0.5,
            spot_slash_fraction: 0.5,
            winner_share: 0.5,
            reporter_share: 0.5,
            bond_eth: 0.1,
            challenge_window_s: 300.0,
            proof_window_s: 600.0,
            move_timeout_s: 120.0,
            seed_delay_blocks: 2.0,
            micro_batch_interval_s: 0.2,
            batch_interval_s: 60.0,
            block_time_s: 12.0,
            gas_price_gwei: 1.0,
            whole_step_spot_checks: false,
            prove_on_node: true,
        }
    }
}

/// What a node does.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Honest,
    /// Serve a cheaper model while naming the registered one.
    CheapModel,
    /// Skip the work: return cached or made-up output with a made-up trace.
    SkipWork,
    /// Compute honestly but replace the answer (one sampled token): value extraction.
    TamperOutput,
    /// Answer honestly, never post spot-check proofs.
    WithholdProofs,
    /// Skip work, bribe challengers to stay silent, front-run honest reports with a sock puppet.
    Collude,
    /// Skip work on hardware without a TEE, signing reports with a leaked attestation key.
    LeakedTee,
}

pub const CHEATERS: [Strategy; 6] = [
    Strategy::CheapModel,
    Strategy::SkipWork,
    Strategy::TamperOutput,
    Strategy::WithholdProofs,
    Strategy::Collude,
    Strategy::LeakedTee,
];

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Honest => "honest",
            Strategy::CheapModel => "cheap-model",
            Strategy::SkipWork => "skip-work",
            Strategy::TamperOutput => "tamper-output",
            Strategy::WithholdProofs => "withhold-proofs",
            Strategy::Collude => "collude",
            Strategy::LeakedTee => "leaked-tee",
        }
    }

    pub fn parse(s: &str) -> Option<Strategy> {
        [Strategy::Honest]
            .into_iter()
            .chain(CHEATERS)
            .find(|x| x.name() == s)
    }

    /// The answer differs from the registered model's.
    pub fn wrong_output(self) -> bool {
        !matches!(self, Strategy::Honest | Strategy::WithholdProofs)
    }

    /// Probability that the spot check of a selected cheated receipt cannot be proved. A spot
    /// check proves one unit of the first layer matrix step at or after the sampled index
    /// (docs/PROTOCOL.md 7.8), so only wrong layer matrix steps are seen. A cheaper model,
    /// skipped work or a leaked-TEE node gets every matrix step wrong (1). One replaced token
    /// leaves one wrong `SAMPLE` step, every later step computed honestly from the replaced
    /// token: no matrix step is wrong, and no spot check ever sees it (0; only a challenger
    /// who re-executes does).
    pub fn spot_catch_fraction(self) -> f64 {
        match self {
            Strategy::Honest | Strategy::WithholdProofs | Strategy::TamperOutput => 0.0,
            _ => 1.0,
        }
    }

    /// Fraction of the honest engine work the node does on a cheated receipt.
    pub fn compute_fraction(self, cheap_model_ratio: f64) -> f64 {
        match self {
            Strategy::CheapModel => cheap_model_ratio,
            Strategy::SkipWork | Strategy::Collude | Strategy::LeakedTee => 0.0,
            _ => 1.0,
        }
    }

    pub fn colludes(self) -> bool {
        self == Strategy::Collude
    }
}

/// Workload, population and market of one simulated scenario.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Scenario {
    pub seed: u64,
    pub duration_s: f64,
    pub nodes: usize,
    /// Strategy of each Byzantine node (cycled), and how many of the nodes are Byzantine.
    pub byzantine: Vec<Strategy>,
    pub byzantine_fraction: f64,
    /// Fraction of its receipts a cheating node cheats on.
    pub cheat_fraction: f64,
    /// Total user requests per second (Poisson), routed uniformly to nodes that can post.
    pub request_rate: f64,
    pub prompt_tokens: f64,
    pub completion_tokens: f64,
    /// Node throughput relative to the measured CPU engine (1 = measured).
    pub engine_speedup: f64,
    pub challengers: usize,
    /// Probability that a challenger watches a given batch.
    pub challenger_presence: f64,
    /// Fraction of a watched batch's receipts a challenger re-executes.
    pub audit_fraction: f64,
    /// Fraction of challengers a colluding node has bribed.
    pub bribed_challengers: f64,
    /// Probability that someone reports a missed spot-check proof.
    pub reporter_presence: f64,
    /// Fee a user pays per query (USD): scenario input.
    pub fee_usd: f64,
    /// What a briber pays the node per wrong answer (USD): scenario input.
    pub value_at_risk_usd: f64,
    /// Work of the cheaper model relative to the registered one.
    pub cheap_model_ratio: f64,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            seed: 1,
            duration_s: 4.0 * 3600.0,
            nodes: 12,
            byzantine: vec![],
            byzantine_fraction: 0.0,
            cheat_fraction: 1.0,
            request_rate: 1.2,
            prompt_tokens: 128.0,
            completion_tokens: 128.0,
            engine_speedup: 1.0,
            challengers: 3,
            challenger_presence: 0.0,
            audit_fraction: 0.05,
            bribed_challengers: 0.0,
            reporter_presence: 1.0,
            fee_usd: 0.01,
            value_at_risk_usd: 0.0,
            cheap_model_ratio: 0.25,
        }
    }
}

/// Per-query figures of one (params, scenario, costs) triple.
#[derive(Clone, Debug, Serialize)]
pub struct QueryCosts {
    pub engine_s: f64,
    pub trace_hash_s: f64,
    pub node_overhead_s: f64,
    pub trace_steps: f64,
    /// Proof units per selected receipt (as built: one).
    pub units_per_selected: f64,
    pub prove_s_per_selected: f64,
    /// Proving seconds of the costliest step a spot check can prove (what a proof window must
    /// cover).
    pub prove_s_max: f64,
    /// Gas of the node's `proveSpotCheck` transaction per selected receipt: the measured `DOWN`
    /// transaction, an upper bound for every layer matrix shape.
    pub spot_gas_per_selected: f64,
    /// Seconds of a node machine per answered query, baseline (engine without trace) and OTR.
    pub baseline_s: f64,
    pub otr_s: f64,
}

pub fn query_costs(c: &CostModel, p: &Params, s: &Scenario) -> QueryCosts {
    let engine_s = c.engine_time_s(s.prompt_tokens, s.completion_tokens) / s.engine_speedup;
    let trace_hash_s = c.trace_hash_s(s.prompt_tokens, s.completion_tokens);
    let node_overhead_s = c.node_answer_overhead_ms / 1000.0;
    let units = c.units_per_selected(
        s.prompt_tokens,
        s.completion_tokens,
        p.whole_step_spot_checks,
    );
    let prove = units * c.zk_prove_unit_s;
    let baseline_s = (engine_s - trace_hash_s).max(engine_s * 0.01);
    let otr_s = engine_s + node_overhead_s + if p.prove_on_node { p.rho * prove } else { 0.0 };
    QueryCosts {
        engine_s,
        trace_hash_s,
        node_overhead_s,
        trace_steps: c.trace_steps(s.prompt_tokens, s.completion_tokens),
        units_per_selected: units,
        prove_s_per_selected: prove,
        prove_s_max: c.max_units_per_step(p.whole_step_spot_checks) * c.zk_prove_unit_s,
        spot_gas_per_selected: c.gas_spot_check,
        baseline_s,
        otr_s,
    }
}

/// Share of a query's trace steps that are matrix-vector products (layer matrices and
/// `LOGITS`).
pub fn matrix_step_fraction(c: &CostModel, s: &Scenario) -> f64 {
    let m = c.spot_check_selection(s.prompt_tokens, s.completion_tokens);
    m.all_matvec_steps / m.steps
}

/// Rounds of bisection over a trace of `steps` leaves.
pub fn dispute_rounds(steps: f64) -> f64 {
    steps.max(2.0).log2().ceil()
}

/// Gas of one dispute played to the end (open, bisection, one-step proof by Groth16).
pub fn dispute_gas(c: &CostModel, steps: f64) -> f64 {
    c.gas_open_dispute + dispute_rounds(steps) * c.gas_dispute_round + c.gas_groth16_verify_tx
}

/// Cost per query broken down (USD), honest network.
#[derive(Clone, Debug, Serialize)]
pub struct CostBreakdown {
    pub gas_price_gwei: f64,
    pub inference_usd: f64,
    pub attestation_usd: f64,
    pub trace_and_receipt_usd: f64,
    pub batch_gas_usd: f64,
    pub reward_registration_gas_usd: f64,
    pub spot_proving_usd: f64,
    pub spot_verification_gas_usd: f64,
    pub disputes_usd: f64,
    pub total_overhead_usd: f64,
    pub gas_per_query: f64,
}

/// `receipts_per_batch` receipts posted in `headers` micro-batch headers per batch;
/// `dispute_rate`: disputes per query (0 in an honest network).
pub fn cost_breakdown(
    c: &CostModel,
    p: &Params,
    s: &Scenario,
    receipts_per_batch: f64,
    headers_per_batch: f64,
    dispute_rate: f64,
) -> CostBreakdown {
    let q = query_costs(c, p, s);
    let g = p.gas_price_gwei;
    let batch_gas = (c.post_batch_gas(headers_per_batch) + c.gas_record_seed) / receipts_per_batch;
    let reg_gas = c.gas_register_work_per_receipt;
    // One proof transaction per selected receipt (an honest node proves every one).
    let spot_gas = p.rho * q.spot_gas_per_selected;
    let disp_gas = dispute_rate * dispute_gas(c, q.trace_steps);
    // The node's self-check per answer is its attestation cost; the GPU report is made by the
    // GPU's security processor once per micro-batch (no host compute modelled).
    let attestation_s = c.attest_verify_warm_ms / 1000.0;
    let inference_usd = c.machine_usd(q.engine_s - q.trace_hash_s);
    let attestation_usd = c.machine_usd(attestation_s);
    let trace_and_receipt_usd = c.machine_usd(q.trace_hash_s + q.node_overhead_s - attestation_s);
    let spot_proving_usd = c.machine_usd(p.rho * q.prove_s_per_selected);
    let total_overhead_usd = attestation_usd
        + trace_and_receipt_usd
        + c.gas_usd(batch_gas + reg_gas + spot_gas + disp_gas, g)
        + spot_proving_usd;
    CostBreakdown {
        gas_price_gwei: g,
        inference_usd,
        attestation_usd,
        trace_and_receipt_usd,
        batch_gas_usd: c.gas_usd(batch_gas, g),
        reward_registration_gas_usd: c.gas_usd(reg_gas, g),
        spot_proving_usd,
        spot_verification_gas_usd: c.gas_usd(spot_gas, g),
        disputes_usd: c.gas_usd(disp_gas, g),
        total_overhead_usd,
        gas_per_query: batch_gas + reg_gas + spot_gas + disp_gas,
    }
}

/// The closed-form view of one cheating strategy.
#[derive(Clone, Debug, Serialize)]
pub struct Deterrence {
    pub strategy: Strategy,
    /// Probability that one cheated receipt is caught (spot check or challenger).
    pub p_detect: f64,
    /// Expected gain per cheated receipt (USD): work saved plus value extracted.
    pub gain_usd: f64,
    /// Receipts a node answers per second.
    pub rate: f64,
    /// Seconds from answering a receipt to the slash its detection triggers.
    pub lag_s: f64,
    /// Penalty on the first detection (USD), net of what a colluder recovers, plus the fees of
    /// the cheated receipts detected by the time it lands.
    pub penalty_usd: f64,
    /// Expected gain before the slash lands: gain * (1/p + rate * q * lag).
    pub expected_gain_usd: f64,
    /// expected_gain - penalty: negative = cheating does not pay.
    pub expected_profit_usd: f64,
}

/// Per-receipt detection probability of a strategy: spot checks see it with probability rho x
/// [`Strategy::spot_catch_fraction`] (times the chance someone reports the missed proof),
/// honest challengers with the chance one of them re-executes the receipt.
pub fn p_detect(st: Strategy, p: &Params, s: &Scenario) -> f64 {
    if st == Strategy::Honest {
        return 0.0;
    }
    if st == Strategy::WithholdProofs {
        return p.rho * s.reporter_presence;
    }
    let spot = p.rho * st.spot_catch_fraction() * s.reporter_presence;
    let honest_challengers = if st.colludes() {
        s.challengers as f64 * (1.0 - s.bribed_challengers)
    } else {
        s.challengers as f64
    };
    // Every modelled cheat's first wrong step has a verifier that settles it: a replaced token
    // its `SAMPLE` (greedy or sampled, `SampleStepVerifier`), the others a layer or embedding
    // step (a layer matrix step's `MatRowStepVerifier` needs no unit keys), so a dispute slashes.
    let chal = 1.0 - (1.0 - s.challenger_presence * s.audit_fraction).powf(honest_challengers);
    1.0 - (1.0 - spot) * (1.0 - chal)
}

/// Probability that a cheater is caught within `k` cheated receipts: 1 - (1 - p)^k.
pub fn detect_within(p: f64, k: f64) -> f64 {
    1.0 - (1.0 - p).powf(k)
}

pub fn deterrence(st: Strategy, c: &CostModel, p: &Params, s: &Scenario) -> Deterrence {
    let q = query_costs(c, p, s);
    let pd = p_detect(st, p, s);
    let rate = s.request_rate / s.nodes as f64;
    let saved_s = q.engine_s * (1.0 - st.compute_fraction(s.cheap_model_ratio));
    let gain_usd = match st {
        Strategy::Honest => 0.0,
        Strategy::WithholdProofs => c.machine_usd(p.rho * q.prove_s_per_selected),
        _ => c.machine_usd(saved_s) + s.value_at_risk_usd,
    };
    let spot_lag = p.batch_interval_s / 2.0 + p.block_time_s + p.proof_window_s + p.block_time_s;
    let dispute_lag = p.batch_interval_s / 2.0
        + p.block_time_s
        + q.engine_s
        + 2.0 * dispute_rounds(q.trace_steps) * p.move_timeout_s;
    let challengers_matter = s.challenger_presence > 0.0 && st != Strategy::WithholdProofs;
    let lag_s = if challengers_matter {
        spot_lag.max(dispute_lag)
    } else {
        spot_lag
    };
    let frac = p.slash_fraction.min(p.spot_slash_fraction);
    let recovered = if st.colludes() {
        p.winner_share.min(p.reporter_share)
    } else {
        0.0
    };
    let penalty_eth = (frac * p.stake_eth).min(p.stake_eth) * (1.0 - recovered);
    // Fees of the cheated receipts detected before the slash lands are forfeited too.
    let forfeited = if st.wrong_output() && pd > 0.0 {
        s.fee_usd * (1.0 + rate * s.cheat_fraction * pd * lag_s)
    } else {
        0.0
    };
    let penalty_usd = penalty_eth * c.eth_usd + forfeited;
    // Nothing gained, nothing to expect (even when nothing detects it).
    let expected_gain_usd = if gain_usd == 0.0 {
        0.0
    } else if pd > 0.0 {
        gain_usd * (1.0 / pd + rate * s.cheat_fraction * lag_s)
    } else {
        f64::INFINITY
    };
    Deterrence {
        strategy: st,
        p_detect: pd,
        gain_usd,
        rate,
        lag_s,
        penalty_usd,
        expected_gain_usd,
        expected_profit_usd: expected_gain_usd - penalty_usd,
    }
}

/// The least stake (ETH) at which `st`'s expected profit is at most `-margin` times its
/// expected gain (penalty >= (1 + margin) * gain); infinite when nothing detects it.
pub fn min_stake_eth(st: Strategy, c: &CostModel, p: &Params, s: &Scenario, margin: f64) -> f64 {
    let mut p1 = p.clone();
    p1.stake_eth = 1.0;
    let d = deterrence(st, c, &p1, s);
    if !d.expected_gain_usd.is_finite() || d.penalty_usd <= 0.0 {
        return f64::INFINITY;
    }
    if d.expected_gain_usd == 0.0 {
        return 0.0;
    }
    // The slash scales linearly with stake; forfeited fees do not.
    let mut p0 = p1.clone();
    p0.stake_eth = 0.0;
    let fixed = deterrence(st, c, &p0, s).penalty_usd;
    let per_eth = d.penalty_usd - fixed;
    (((1.0 + margin) * d.expected_gain_usd - fixed) / per_eth).max(0.0)
}
