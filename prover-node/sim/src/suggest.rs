//! `otr-sim params suggest`: parameters that make every cheating strategy unprofitable.

use crate::costs::CostModel;
use crate::model::{
    cost_breakdown, deterrence, min_stake_eth, query_costs, Params, Scenario, CHEATERS,
};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    pub rho: f64,
    pub stake_eth: f64,
    pub binding_strategy: String,
    pub overhead_usd_per_query: f64,
    pub stake_capital_usd_per_query: f64,
    pub total_usd_per_query: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Suggestion {
    pub value_at_risk_usd: f64,
    pub gas_price_gwei: f64,
    pub margin: f64,
    pub challenger_presence: f64,
    pub params: Params,
    pub chosen: Candidate,
    pub candidates: Vec<Candidate>,
    /// Strategies no rho deters within `max_stake_eth`: name, the per-receipt re-execution
    /// probability that would deter them at the chosen stake, and the least stake that would.
    pub not_deterred: Vec<(String, Option<f64>, f64)>,
    pub provisional_latency_s: f64,
    pub final_latency_s: f64,
    /// The chosen stake exceeds `--max-stake`.
    pub stake_impractical: bool,
    pub max_stake_eth: f64,
    pub assumed: Vec<String>,
}

/// Required stakes above this (ETH) count as "not deterred by any stake".
pub const UNDETERRABLE_ETH: f64 = 1.0e6;

pub struct Inputs {
    pub value_at_risk_usd: f64,
    pub gas_price_gwei: f64,
    pub margin: f64,
    pub challenger_presence: f64,
    pub audit_fraction: f64,
    pub challengers: usize,
    pub rate_per_node: f64,
    pub block_time_s: f64,
    /// Blocks a challenger or reporter must be able to wait out (censorship, congestion).
    pub safety_blocks: f64,
    /// Stakes above this are reported as "not deterred by stake".
    pub max_stake_eth: f64,
}

impl Inputs {
    /// The two required inputs, every other one at its documented default: margin 0.5, no
    /// challenger presence, audit fraction 0.05, 3 challengers, 0.1 requests/s per node,
    /// 12 s blocks, 25 safety blocks, stakes up to 1000 ETH.
    pub fn new(value_at_risk_usd: f64, gas_price_gwei: f64) -> Self {
        Inputs {
            value_at_risk_usd,
            gas_price_gwei,
            margin: 0.5,
            challenger_presence: 0.0,
            audit_fraction: 0.05,
            challengers: 3,
            rate_per_node: 0.1,
            block_time_s: 12.0,
            safety_blocks: 25.0,
            max_stake_eth: 1000.0,
        }
    }
}

pub fn suggest(c: &CostModel, i: &Inputs) -> Suggestion {
    let s = Scenario {
        nodes: 1,
        request_rate: i.rate_per_node,
        value_at_risk_usd: i.value_at_risk_usd,
        challenger_presence: i.challenger_presence,
        audit_fraction: i.audit_fraction,
        challengers: i.challengers,
        ..Scenario::default()
    };
    let mut base = Params {
        gas_price_gwei: i.gas_price_gwei,
        block_time_s: i.block_time_s,
        ..Params::default()
    };
    let q = query_costs(c, &base, &s);
    // Windows: a challenger re-executes a receipt, then needs `safety_blocks` to get its
    // transaction in; a node proves a selected step after the seed block, with the same margin
    // (twice the proving time of the costliest step it can be asked to prove).
    base.challenge_window_s = (q.engine_s + i.safety_blocks * i.block_time_s)
        .max(base.challenge_window_s)
        .ceil();
    let rhos = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2];
    let params_for = |rho: f64| {
        let mut p = base.clone();
        p.rho = rho;
        let qp = query_costs(c, &p, &s);
        p.proof_window_s = (p.seed_delay_blocks * p.block_time_s
            + 2.0 * qp.prove_s_max
            + i.safety_blocks * p.block_time_s)
            .ceil();
        p
    };
    // Required stake of every strategy at every rho.
    let req: Vec<Vec<f64>> = rhos
        .iter()
        .map(|&r| {
            let p = params_for(r);
            CHEATERS
                .iter()
                .map(|&st| min_stake_eth(st, c, &p, &s, i.margin))
                .collect()
        })
        .collect();
    // A strategy no rho deters within --max-stake is left to re-execution and reported.
    let excluded: Vec<bool> = (0..CHEATERS.len())
        .map(|k| req.iter().all(|row| row[k] > i.max_stake_eth))
        .collect();
    let mut candidates = Vec::new();
    for (ri, &rho) in rhos.iter().enumerate() {
        let mut p = params_for(rho);
        let mut stake = 0.0;
        let mut binding = "none".to_string();
        for (k, st) in CHEATERS.iter().enumerate() {
            if !excluded[k] && req[ri][k] > stake {
                stake = req[ri][k];
                binding = st.name().into();
            }
        }
        p.stake_eth = stake;
        p.min_stake_eth = stake;
        let receipts = (i.rate_per_node * p.batch_interval_s).max(1.0);
        let headers = receipts.min(p.batch_interval_s / p.micro_batch_interval_s);
        let overhead = cost_breakdown(c, &p, &s, receipts, headers, 0.0).total_overhead_usd;
        let capital =
            stake * c.eth_usd * c.capital_cost_per_year / (i.rate_per_node * 365.25 * 86400.0);
        candidates.push((
            Candidate {
                rho,
                stake_eth: stake,
                binding_strategy: binding,
                overhead_usd_per_query: overhead,
                stake_capital_usd_per_query: capital,
                total_usd_per_query: overhead + capital,
            },
            p,
        ));
    }
    // The cheapest candidate within --max-stake; else the one with the least stake.
    let pick = candidates
        .iter()
        .filter(|(k, _)| k.stake_eth <= i.max_stake_eth)
        .min_by(|a, b| a.0.total_usd_per_query.total_cmp(&b.0.total_usd_per_query))
        .or_else(|| {
            candidates
                .iter()
                .min_by(|a, b| a.0.stake_eth.total_cmp(&b.0.stake_eth))
        })
        .expect("candidates")
        .clone();
    let (chosen, p) = pick;
    let chosen_stake = chosen.stake_eth;
    let mut not_deterred = Vec::new();
    for (k, &st) in CHEATERS.iter().enumerate() {
        if excluded[k] {
            let d = deterrence(st, c, &p, &s);
            // Need penalty >= (1+m) g (1/p + rate lag)  =>  1/p <= penalty/((1+m) g) - rate lag.
            let room = d.penalty_usd / ((1.0 + i.margin) * d.gain_usd) - d.rate * d.lag_s;
            let need = if room > 1.0 { Some(1.0 / room) } else { None };
            let least = req.iter().map(|row| row[k]).fold(f64::INFINITY, f64::min);
            not_deterred.push((st.name().to_string(), need, least));
        }
    }
    let candidates: Vec<Candidate> = candidates.into_iter().map(|(k, _)| k).collect();
    let provisional =
        p.micro_batch_interval_s / 2.0 + (c.gpu_report_ms + c.attest_verify_warm_ms) / 1000.0;
    let final_latency =
        p.batch_interval_s / 2.0 + p.block_time_s + p.challenge_window_s.max(p.proof_window_s);
    Suggestion {
        value_at_risk_usd: i.value_at_risk_usd,
        gas_price_gwei: i.gas_price_gwei,
        margin: i.margin,
        challenger_presence: i.challenger_presence,
        params: p,
        chosen,
        candidates,
        not_deterred,
        provisional_latency_s: provisional,
        final_latency_s: final_latency,
        stake_impractical: chosen_stake > i.max_stake_eth,
        max_stake_eth: i.max_stake_eth,
        assumed: c.assumed.iter().map(|a| a.name.clone()).collect(),
    }
}

pub fn render(c: &CostModel, g: &Suggestion) -> String {
    let p = &g.params;
    let mut s = String::new();
    s.push_str(&format!(
        "Parameters for value at risk ${} per answer, gas {} gwei, margin {:.0}% (expected penalty >= {:.2} x expected gain), challenger presence {}:\n\n",
        g.value_at_risk_usd, g.gas_price_gwei, g.margin * 100.0, 1.0 + g.margin, g.challenger_presence
    ));
    s.push_str(&format!(
        "  rho (spot-check rate)     {:.3} ({}% of receipts)\n  stake                     {:.3} ETH (${:.0}; binding strategy: {})\n  slash fractions           dispute {} / missed proof {} of the stake; winner {} / reporter {} of it\n  challenge window          {} s\n  proof window              {} s\n  batch interval            {} s, micro-batch {} s, block {} s\n",
        p.rho, p.rho * 100.0, p.stake_eth, p.stake_eth * c.eth_usd, g.chosen.binding_strategy,
        p.slash_fraction, p.spot_slash_fraction, p.winner_share, p.reporter_share,
        p.challenge_window_s, p.proof_window_s, p.batch_interval_s, p.micro_batch_interval_s, p.block_time_s
    ));
    s.push_str(&format!(
        "\nImplied:\n  provisional finality      {:.2} s after the answer (micro-batch wait + GPU report + verification)\n  final finality            {:.0} s ({:.1} min)\n  cost per query            ${:.6} verification overhead + ${:.6} stake capital = ${:.6}\n",
        g.provisional_latency_s, g.final_latency_s, g.final_latency_s / 60.0,
        g.chosen.overhead_usd_per_query, g.chosen.stake_capital_usd_per_query, g.chosen.total_usd_per_query
    ));
    if g.stake_impractical {
        s.push_str(&format!(
            "\nWARNING: the stake needed ({:.1} ETH) exceeds --max-stake {} ETH. A node collects bribes until its slash lands, so lower the value at risk per answer, shorten the detection lag (proof window, move timeout), or add challengers.\n",
            p.stake_eth, g.max_stake_eth
        ));
    }
    for (st, need, least) in &g.not_deterred {
        if least.is_finite() {
            s.push_str(&format!(
                "\nWARNING: {st} is NOT deterred by these parameters: it needs a stake of {least:.3e} ETH at best (over --max-stake {} ETH).",
                g.max_stake_eth
            ));
        } else {
            s.push_str(&format!(
                "\nWARNING: {st} is NOT deterred by these parameters: spot checks never see it, so no stake deters it by itself."
            ));
        }
        match need {
            Some(x) => s.push_str(&format!(
                " At this stake it is deterred only if each receipt is re-executed by an honest challenger (or the user) with probability >= {x:.4}.\n"
            )),
            None => s.push_str(" No challenger coverage deters it at this stake.\n"),
        }
    }
    s.push_str("\nAll candidates (rho, stake, cost per query):\n");
    for k in &g.candidates {
        s.push_str(&format!(
            "  rho {:>6.3}  stake {:>12.3} ETH  overhead ${:.6}  capital ${:.6}  total ${:.6}  ({})\n",
            k.rho, k.stake_eth, k.overhead_usd_per_query, k.stake_capital_usd_per_query, k.total_usd_per_query, k.binding_strategy
        ));
    }
    s.push_str(&format!("\n{}\n", c.assumed_line()));
    s
}
