//! The discrete-event simulation: users (Poisson arrivals), nodes (FIFO servers with a stake and a
//! strategy), the chain (block times, gas), spot checks, challengers and disputes.
//!
//! Deterministic: one seeded RNG, events ordered by (time, insertion sequence).

use crate::costs::CostModel;
use crate::model::{dispute_gas, query_costs, Params, Scenario, Strategy};
use crate::rng::Rng;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

#[derive(Clone, Copy, Debug)]
enum Ev {
    Arrival,
    Post(usize),
    Slash {
        node: usize,
        fraction: f64,
        payee_share: f64,
        spot: bool,
    },
}

struct Item {
    t: f64,
    seq: u64,
    ev: Ev,
}
impl PartialEq for Item {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    // Reversed: BinaryHeap is a max-heap, the earliest event must come first.
    fn cmp(&self, o: &Self) -> Ordering {
        o.t.total_cmp(&self.t).then(o.seq.cmp(&self.seq))
    }
}

#[derive(Clone, Debug)]
struct Receipt {
    arrival: f64,
    mb_close: f64,
    bad: bool,
}

struct Node {
    strategy: Strategy,
    stake: f64,
    active: bool,
    free_at: f64,
    pending: Vec<Receipt>,
    st: NodeStats,
}

/// What happened to one node.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NodeStats {
    pub strategy: String,
    pub served: u64,
    pub cheated: u64,
    pub selected: u64,
    pub proved: u64,
    pub missed_proofs: u64,
    pub disputes_lost: u64,
    /// Cheated receipts caught by a spot check or a dispute.
    pub bad_detected: u64,
    /// Cheated receipts that reached final finality with no detection.
    pub bad_finalized: u64,
    /// Cheated receipts never posted (the node was ejected first): never final.
    pub bad_unsettled: u64,
    pub slashed_eth: f64,
    pub recovered_eth: f64,
    pub ejected_at_s: Option<f64>,
    pub fees_usd: f64,
    pub forfeited_fees_usd: f64,
    pub cheat_gain_usd: f64,
    pub gas: f64,
    pub prove_s: f64,
    pub busy_s: f64,
}

/// Aggregates over the nodes of one strategy.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StrategyStats {
    pub nodes: usize,
    pub served: u64,
    pub cheated: u64,
    pub bad_detected: u64,
    pub bad_finalized: u64,
    pub bad_unsettled: u64,
    pub ejected: usize,
    pub mean_ejection_s: Option<f64>,
    pub slashed_eth: f64,
    /// Per node: cheat gains - (slashed - recovered) * eth_usd - forfeited fees.
    pub cheat_net_usd_per_node: f64,
    pub fees_usd: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ChallengerStats {
    pub audits: u64,
    pub audit_cost_usd: f64,
    pub disputes_won: u64,
    pub rewards_eth: f64,
    pub gas: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SimReport {
    pub seed: u64,
    pub duration_s: f64,
    pub arrivals: u64,
    /// Requests assigned to a node.
    pub served: u64,
    /// Answers finished within the simulated time.
    pub completed: u64,
    pub dropped: u64,
    pub throughput_qps: f64,
    pub provisional_latency_s: Percentiles,
    pub final_latency_s: Percentiles,
    pub by_strategy: BTreeMap<String, StrategyStats>,
    pub nodes: Vec<NodeStats>,
    pub challengers: ChallengerStats,
    pub reporter_rewards_eth: f64,
    pub node_gas: f64,
    pub gas_per_query: f64,
    pub bad_served_fraction: f64,
    pub bad_finalized_fraction: f64,
    pub assumed: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Percentiles {
    pub mean: f64,
    pub p50: f64,
    pub p99: f64,
}

fn percentiles(mut v: Vec<f64>) -> Percentiles {
    if v.is_empty() {
        return Percentiles::default();
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Percentiles {
        mean: v.iter().sum::<f64>() / v.len() as f64,
        p50: at(0.5),
        p99: at(0.99),
    }
}

/// The strategy of node `i`: the first `round(fraction * nodes)` nodes are Byzantine, cycling
/// through `byzantine`.
pub fn node_strategies(s: &Scenario) -> Vec<Strategy> {
    let nb = if s.byzantine.is_empty() {
        0
    } else {
        (s.byzantine_fraction * s.nodes as f64).round() as usize
    };
    (0..s.nodes)
        .map(|i| {
            if i < nb {
                s.byzantine[i % s.byzantine.len()]
            } else {
                Strategy::Honest
            }
        })
        .collect()
}

pub fn simulate(c: &CostModel, p: &Params, s: &Scenario) -> SimReport {
    let q = query_costs(c, p, s);
    let mut rng = Rng::new(s.seed);
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<Item>, t: f64, ev: Ev| {
        seq += 1;
        heap.push(Item { t, seq, ev });
    };
    let mut nodes: Vec<Node> = node_strategies(s)
        .into_iter()
        .map(|st| Node {
            strategy: st,
            stake: p.stake_eth,
            active: true,
            free_at: 0.0,
            pending: Vec::new(),
            st: NodeStats {
                strategy: st.name().to_string(),
                ..Default::default()
            },
        })
        .collect();
    push(&mut heap, rng.exp(s.request_rate), Ev::Arrival);
    for i in 0..nodes.len() {
        let offset = p.batch_interval_s * (i as f64 + 1.0) / nodes.len() as f64;
        push(&mut heap, offset, Ev::Post(i));
    }
    let n_bribed = (s.bribed_challengers * s.challengers as f64).round() as usize;
    let mut chal = ChallengerStats::default();
    let mut reporter_rewards = 0.0;
    let (mut arrivals, mut served, mut dropped, mut completed) = (0u64, 0u64, 0u64, 0u64);
    let mut prov = Vec::new();
    let mut fin = Vec::new();
    let steps = q.trace_steps;
    let verify_s = (c.gpu_report_ms + c.attest_verify_warm_ms) / 1000.0;
    let finality_wait = p.challenge_window_s.max(p.proof_window_s);
    let d_gas = dispute_gas(c, steps);
    let dispute_time = 2.0 * crate::model::dispute_rounds(steps) * p.move_timeout_s;

    while let Some(Item { t, ev, .. }) = heap.pop() {
        if t > s.duration_s {
            break;
        }
        match ev {
            Ev::Arrival => {
                arrivals += 1;
                push(&mut heap, t + rng.exp(s.request_rate), Ev::Arrival);
                let active: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].active).collect();
                if active.is_empty() {
                    dropped += 1;
                    continue;
                }
                let i = active[rng.below(active.len() as u64) as usize];
                let n = &mut nodes[i];
                let cheats = n.strategy.wrong_output() && rng.bernoulli(s.cheat_fraction);
                let frac = if cheats {
                    n.strategy.compute_fraction(s.cheap_model_ratio)
                } else {
                    1.0
                };
                let service = q.engine_s * frac + q.node_overhead_s;
                let start = t.max(n.free_at);
                let finish = start + service;
                n.free_at = finish;
                n.st.busy_s += service;
                n.st.served += 1;
                served += 1;
                completed += (finish <= s.duration_s) as u64;
                if cheats {
                    n.st.cheated += 1;
                    n.st.cheat_gain_usd +=
                        c.machine_usd(q.engine_s * (1.0 - frac)) + s.value_at_risk_usd;
                }
                let mb_close =
                    (finish / p.micro_batch_interval_s).ceil() * p.micro_batch_interval_s;
                prov.push(mb_close + verify_s - t);
                n.pending.push(Receipt {
                    arrival: t,
                    mb_close,
                    bad: cheats,
                });
            }
            Ev::Post(i) => {
                if !nodes[i].active {
                    continue;
                }
                push(&mut heap, t + p.batch_interval_s, Ev::Post(i));
                let (ready, rest): (Vec<Receipt>, Vec<Receipt>) =
                    nodes[i].pending.drain(..).partition(|r| r.mb_close <= t);
                nodes[i].pending = rest;
                if ready.is_empty() {
                    continue;
                }
                let incl = (t / p.block_time_s).ceil() * p.block_time_s;
                let seed_at = incl + p.seed_delay_blocks * p.block_time_s;
                let mut mbs: Vec<u64> = ready
                    .iter()
                    .map(|r| (r.mb_close / p.micro_batch_interval_s).round() as u64)
                    .collect();
                mbs.dedup();
                let strategy = nodes[i].strategy;
                let f = strategy.spot_catch_fraction();
                let mut gas = c.post_batch_gas(mbs.len() as f64)
                    + c.gas_record_seed
                    + c.gas_register_work_per_receipt * ready.len() as f64;
                let present: Vec<bool> = (0..s.challengers)
                    .map(|k| {
                        rng.bernoulli(s.challenger_presence)
                            && !(strategy.colludes() && k < n_bribed)
                    })
                    .collect();
                for r in &ready {
                    let mut detected = false;
                    if rng.bernoulli(p.rho) {
                        nodes[i].st.selected += 1;
                        // Every spot check is one unit proof of a layer matrix step, which an
                        // honest node can always give; a cheated receipt whose matrix steps are
                        // wrong cannot be proved.
                        let provable =
                            strategy != Strategy::WithholdProofs && !(r.bad && rng.bernoulli(f));
                        if provable {
                            nodes[i].st.proved += 1;
                            nodes[i].st.prove_s += q.prove_s_per_selected;
                            gas += q.spot_gas_per_selected;
                            if p.prove_on_node {
                                let n = &mut nodes[i];
                                n.free_at = n.free_at.max(seed_at) + q.prove_s_per_selected;
                                n.st.busy_s += q.prove_s_per_selected;
                            }
                        } else {
                            if strategy == Strategy::WithholdProofs {
                                nodes[i].st.cheat_gain_usd += c.machine_usd(q.prove_s_per_selected);
                            }
                            nodes[i].st.missed_proofs += 1;
                            if rng.bernoulli(s.reporter_presence) {
                                detected = true;
                                let share = p.reporter_share;
                                push(
                                    &mut heap,
                                    incl + p.proof_window_s + p.block_time_s,
                                    Ev::Slash {
                                        node: i,
                                        fraction: p.spot_slash_fraction,
                                        payee_share: share,
                                        spot: true,
                                    },
                                );
                            }
                        }
                    }
                    // Challengers re-execute a share of the receipts of the batches they watch.
                    let mut found = false;
                    for &on in &present {
                        if on && rng.bernoulli(s.audit_fraction) {
                            chal.audits += 1;
                            chal.audit_cost_usd += c.machine_usd(q.engine_s);
                            found |= r.bad;
                        }
                    }
                    // Every modelled cheat's first wrong step is settled in the game (a
                    // replaced token, greedy or sampled, at its `SAMPLE` step).
                    if found && q.engine_s < p.challenge_window_s {
                        detected = true;
                        push(
                            &mut heap,
                            incl + q.engine_s + p.block_time_s + dispute_time,
                            Ev::Slash {
                                node: i,
                                fraction: p.slash_fraction,
                                payee_share: p.winner_share,
                                spot: false,
                            },
                        );
                        if strategy.colludes() {
                            nodes[i].st.gas += d_gas; // its sock puppet plays the game
                        } else {
                            chal.gas += d_gas;
                        }
                    }
                    let n = &mut nodes[i];
                    if r.bad {
                        if detected {
                            n.st.bad_detected += 1;
                        } else {
                            n.st.bad_finalized += 1;
                        }
                    }
                    if detected && r.bad {
                        n.st.forfeited_fees_usd += s.fee_usd;
                    } else {
                        n.st.fees_usd += s.fee_usd;
                    }
                    fin.push(incl + finality_wait - r.arrival);
                }
                nodes[i].st.gas += gas;
            }
            Ev::Slash {
                node,
                fraction,
                payee_share,
                spot,
            } => {
                let n = &mut nodes[node];
                let amt = (fraction * p.stake_eth).min(n.stake);
                if amt <= 0.0 {
                    continue;
                }
                n.stake -= amt;
                n.st.slashed_eth += amt;
                if !spot {
                    n.st.disputes_lost += 1;
                }
                if n.strategy.colludes() {
                    n.st.recovered_eth += amt * payee_share;
                } else if spot {
                    reporter_rewards += amt * payee_share;
                } else {
                    chal.disputes_won += 1;
                    chal.rewards_eth += amt * payee_share;
                }
                if n.active && n.stake < p.min_stake_eth - 1e-12 {
                    n.active = false;
                    n.st.ejected_at_s = Some(t);
                    n.st.bad_unsettled += n.pending.iter().filter(|r| r.bad).count() as u64;
                    n.pending.clear();
                }
            }
        }
    }

    let mut by: BTreeMap<String, StrategyStats> = BTreeMap::new();
    let mut node_gas = 0.0;
    let (mut bad_served, mut bad_final) = (0u64, 0u64);
    for n in &nodes {
        let e = by.entry(n.st.strategy.clone()).or_default();
        e.nodes += 1;
        e.served += n.st.served;
        e.cheated += n.st.cheated;
        e.bad_detected += n.st.bad_detected;
        e.bad_finalized += n.st.bad_finalized;
        e.bad_unsettled += n.st.bad_unsettled;
        e.slashed_eth += n.st.slashed_eth;
        e.fees_usd += n.st.fees_usd;
        e.cheat_net_usd_per_node += n.st.cheat_gain_usd
            - (n.st.slashed_eth - n.st.recovered_eth) * c.eth_usd
            - n.st.forfeited_fees_usd;
        if let Some(x) = n.st.ejected_at_s {
            e.ejected += 1;
            e.mean_ejection_s = Some(e.mean_ejection_s.unwrap_or(0.0) + x);
        }
        node_gas += n.st.gas;
        bad_served += n.st.cheated;
        bad_final += n.st.bad_finalized;
    }
    for e in by.values_mut() {
        e.cheat_net_usd_per_node /= e.nodes as f64;
        if let Some(x) = e.mean_ejection_s {
            e.mean_ejection_s = Some(x / e.ejected as f64);
        }
    }
    SimReport {
        seed: s.seed,
        duration_s: s.duration_s,
        arrivals,
        served,
        completed,
        dropped,
        throughput_qps: completed as f64 / s.duration_s,
        provisional_latency_s: percentiles(prov),
        final_latency_s: percentiles(fin),
        by_strategy: by,
        nodes: nodes.into_iter().map(|n| n.st).collect(),
        challengers: chal,
        reporter_rewards_eth: reporter_rewards,
        node_gas,
        gas_per_query: node_gas / served.max(1) as f64,
        bad_served_fraction: bad_served as f64 / served.max(1) as f64,
        bad_finalized_fraction: bad_final as f64 / served.max(1) as f64,
        assumed: c.assumed.iter().map(|a| a.name.clone()).collect(),
    }
}

/// Monte Carlo estimate of the probability that a cheater is caught within `k` cheated receipts,
/// drawing the spot check and each challenger per receipt as the simulation does.
pub fn detection_trials(
    st: Strategy,
    p: &Params,
    s: &Scenario,
    k: u64,
    trials: u64,
    seed: u64,
) -> f64 {
    let mut rng = Rng::new(seed);
    let f = st.spot_catch_fraction();
    let n_bribed = (s.bribed_challengers * s.challengers as f64).round() as usize;
    let mut caught = 0u64;
    for _ in 0..trials {
        let mut hit = false;
        for _ in 0..k {
            if rng.bernoulli(p.rho) {
                let missed = st == Strategy::WithholdProofs || rng.bernoulli(f);
                if missed && rng.bernoulli(s.reporter_presence) {
                    hit = true;
                }
            }
            if st != Strategy::WithholdProofs {
                for ch in 0..s.challengers {
                    if st.colludes() && ch < n_bribed {
                        continue;
                    }
                    // A challenger finds it; the dispute slashes.
                    if rng.bernoulli(s.challenger_presence * s.audit_fraction) {
                        hit = true;
                    }
                }
            }
            if hit {
                break;
            }
        }
        caught += hit as u64;
    }
    caught as f64 / trials as f64
}
