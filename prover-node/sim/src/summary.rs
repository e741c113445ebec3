//! The plain-text summary of one simulation run (`otr simulate`, `otr-sim run`).

use crate::costs::CostModel;
use crate::des::SimReport;
use crate::model::Scenario;

/// Human-readable summary of a run: throughput, latencies, bad answers, per-strategy outcomes,
/// challengers, and the line naming the assumed (unmeasured) costs.
pub fn run_summary(c: &CostModel, s: &Scenario, r: &SimReport) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "seed {}, {} nodes, {:.1} h: {} requests, {} served, {} dropped, {:.4} q/s\n",
        r.seed,
        s.nodes,
        r.duration_s / 3600.0,
        r.arrivals,
        r.served,
        r.dropped,
        r.throughput_qps
    ));
    o.push_str(&format!(
        "latency: provisional mean {:.2} s p99 {:.2} s; final mean {:.0} s\n",
        r.provisional_latency_s.mean, r.provisional_latency_s.p99, r.final_latency_s.mean
    ));
    o.push_str(&format!(
        "bad answers: {:.2}% served, {:.2}% finalized undetected; gas per query {:.0}\n",
        r.bad_served_fraction * 100.0,
        r.bad_finalized_fraction * 100.0,
        r.gas_per_query
    ));
    for (name, st) in &r.by_strategy {
        o.push_str(&format!(
            "  {name:>16}: {} nodes, {} served, {} cheated, {} caught, {} finalized bad, {} ejected{}, slashed {:.3} ETH, cheat net ${:.4}/node\n",
            st.nodes, st.served, st.cheated, st.bad_detected, st.bad_finalized, st.ejected,
            st.mean_ejection_s.map(|t| format!(" (mean {:.0} s)", t)).unwrap_or_default(),
            st.slashed_eth, st.cheat_net_usd_per_node
        ));
    }
    o.push_str(&format!(
        "challengers: {} audits (${:.4}), {} disputes won, {:.3} ETH rewards; reporters {:.3} ETH\n",
        r.challengers.audits,
        r.challengers.audit_cost_usd,
        r.challengers.disputes_won,
        r.challengers.rewards_eth,
        r.reporter_rewards_eth
    ));
    o.push_str(&format!("{}\n", c.assumed_line()));
    o
}
