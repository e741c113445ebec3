//! Closed-form checks of the simulator, determinism, and the costs file.

use otr_sim::costs::{CostModel, CostsFile, EMBEDDED};
use otr_sim::des::{detection_trials, simulate};
use otr_sim::model::{
    cost_breakdown, detect_within, deterrence, matrix_step_fraction, min_stake_eth, p_detect,
    query_costs, unprovable_step_fraction, Params, Scenario, Strategy, CHEATERS,
};
use otr_sim::svg::{line_chart, Series};

fn costs() -> CostModel {
    CostModel::embedded()
}

/// Monte Carlo detection within k receipts matches 1 - (1 - rho)^k (spot checks only).
#[test]
fn detection_matches_closed_form_spot_checks_only() {
    let c = costs();
    let s = Scenario::default();
    let steps = query_costs(&c, &Params::default(), &s).trace_steps;
    let trials = 20_000u64;
    for (rho, k) in [(0.01, 100u64), (0.05, 20), (0.001, 500)] {
        let p = Params {
            rho,
            ..Params::default()
        };
        for st in [
            Strategy::SkipWork,
            Strategy::CheapModel,
            Strategy::WithholdProofs,
        ] {
            let closed = 1.0 - (1.0 - rho).powi(k as i32);
            assert!((detect_within(p_detect(st, &p, &s, steps), k as f64) - closed).abs() < 1e-12);
            let mc = detection_trials(st, &p, &s, steps, k, trials, 42);
            let sd = (closed * (1.0 - closed) / trials as f64).sqrt();
            assert!(
                (mc - closed).abs() < 4.0 * sd + 1e-3,
                "{} rho {rho} k {k}: monte carlo {mc} vs closed {closed}",
                st.name()
            );
        }
    }
}

/// With challengers, p = 1 - (1 - rho)(1 - presence*audit)^n, and Monte Carlo agrees.
#[test]
fn detection_with_challengers() {
    let c = costs();
    let s = Scenario {
        challenger_presence: 0.5,
        audit_fraction: 0.1,
        challengers: 3,
        ..Scenario::default()
    };
    let p = Params {
        rho: 0.01,
        ..Params::default()
    };
    let steps = query_costs(&c, &p, &s).trace_steps;
    let expect = 1.0 - (1.0 - 0.01) * (1.0f64 - 0.05).powi(3);
    let pd = p_detect(Strategy::SkipWork, &p, &s, steps);
    assert!((pd - expect).abs() < 1e-12);
    let closed = detect_within(pd, 10.0);
    let mc = detection_trials(Strategy::SkipWork, &p, &s, steps, 10, 20_000, 9);
    assert!((mc - closed).abs() < 0.015, "{mc} vs {closed}");
    // Bribed challengers do not help against a colluder; withholding is invisible to them.
    let sb = Scenario {
        bribed_challengers: 1.0,
        ..s.clone()
    };
    assert!((p_detect(Strategy::Collude, &p, &sb, steps) - 0.01).abs() < 1e-12);
    assert!((p_detect(Strategy::WithholdProofs, &p, &s, steps) - 0.01).abs() < 1e-12);
    // A one-token tamper is invisible to spot checks: rho / steps.
    let s0 = Scenario::default();
    assert!((p_detect(Strategy::TamperOutput, &p, &s0, steps) - 0.01 / steps).abs() < 1e-15);
}

/// At the least deterring stake the expected profit is zero (margin 0); just above it every
/// strategy loses, just below it the strategy pays.
#[test]
fn profit_sign_at_boundary_stake() {
    let c = costs();
    for x in [0.0, 1.0, 100.0] {
        for presence in [0.0, 1.0] {
            let s = Scenario {
                value_at_risk_usd: x,
                challenger_presence: presence,
                ..Scenario::default()
            };
            for st in CHEATERS {
                let p = Params::default();
                let m = min_stake_eth(st, &c, &p, &s, 0.0);
                if !m.is_finite() || m == 0.0 {
                    continue;
                }
                let at = |stake: f64| {
                    let p = Params {
                        stake_eth: stake,
                        min_stake_eth: stake,
                        ..Params::default()
                    };
                    deterrence(st, &c, &p, &s).expected_profit_usd
                };
                assert!(at(m * 1.001) < 0.0, "{} x {x}: above {m}", st.name());
                assert!(at(m * 0.999) > 0.0, "{} x {x}: below {m}", st.name());
                // The margin scales the requirement.
                assert!(min_stake_eth(st, &c, &p, &s, 0.5) > m);
            }
        }
    }
}

/// Closed-form signs at the boundaries of the parameter space.
#[test]
fn profit_signs_at_extremes() {
    let c = costs();
    let s = Scenario::default();
    // No stake and no fee to forfeit: every work-saving strategy pays (it saves work and loses
    // nothing).
    let p0 = Params {
        stake_eth: 0.0,
        min_stake_eth: 0.0,
        ..Params::default()
    };
    let free = Scenario {
        fee_usd: 0.0,
        ..Scenario::default()
    };
    for st in [
        Strategy::SkipWork,
        Strategy::CheapModel,
        Strategy::WithholdProofs,
    ] {
        let d = deterrence(st, &c, &p0, &free);
        assert!(d.expected_profit_usd > 0.0, "{}", st.name());
        assert_eq!(d.penalty_usd, 0.0, "{}", st.name());
    }
    // rho = 0 and no challengers: nothing detects a cheater (infinite expected gain).
    let pz = Params {
        rho: 0.0,
        ..Params::default()
    };
    assert!(deterrence(Strategy::SkipWork, &c, &pz, &s)
        .expected_profit_usd
        .is_infinite());
    // Defaults (1 ETH, rho 1%): every work-saving strategy loses money.
    let p = Params::default();
    for st in CHEATERS {
        if st != Strategy::TamperOutput {
            assert!(
                deterrence(st, &c, &p, &s).expected_profit_usd < 0.0,
                "{}",
                st.name()
            );
        }
    }
    // A $100 bribe per one-token tamper pays at any stake on the grid without challengers.
    let sb = Scenario {
        value_at_risk_usd: 100.0,
        ..Scenario::default()
    };
    let pb = Params {
        stake_eth: 10_000.0,
        min_stake_eth: 10_000.0,
        ..Params::default()
    };
    assert!(deterrence(Strategy::TamperOutput, &c, &pb, &sb).expected_profit_usd > 0.0);
    // Collusion recovers half the slash: it needs twice the stake of skip-work.
    let ms = min_stake_eth(Strategy::SkipWork, &c, &p, &sb, 0.0);
    let mc = min_stake_eth(Strategy::Collude, &c, &p, &sb, 0.0);
    assert!(mc > 1.9 * ms && mc < 2.1 * ms, "{mc} vs {ms}");
}

/// The event simulation agrees in sign with the closed form well away from the boundary.
#[test]
fn simulation_profit_signs() {
    let c = costs();
    for (stake, pays) in [(0.01, true), (1.0, false)] {
        let p = Params {
            stake_eth: stake,
            min_stake_eth: stake,
            prove_on_node: false,
            ..Params::default()
        };
        let s = Scenario {
            byzantine: vec![Strategy::SkipWork],
            byzantine_fraction: 1.0 / 12.0,
            value_at_risk_usd: 1.0,
            duration_s: 12.0 * 3600.0,
            seed: 3,
            ..Scenario::default()
        };
        let closed = deterrence(Strategy::SkipWork, &c, &p, &s).expected_profit_usd;
        let r = simulate(&c, &p, &s);
        let sim = r.by_strategy["skip-work"].cheat_net_usd_per_node;
        assert_eq!(closed > 0.0, pays, "closed {closed}");
        assert_eq!(sim > 0.0, pays, "simulated {sim}");
    }
}

/// The spot-check selection rate in the simulation is rho; when the sampled step is drawn
/// among provable steps, honest nodes are never slashed.
#[test]
fn simulated_selection_rate_is_rho() {
    let c = costs();
    let p = Params {
        rho: 0.05,
        prove_on_node: false,
        sample_provable_only: true,
        ..Params::default()
    };
    let s = Scenario {
        duration_s: 8.0 * 3600.0,
        ..Scenario::default()
    };
    let r = simulate(&c, &p, &s);
    let sel: u64 = r.nodes.iter().map(|n| n.selected).sum();
    let served: u64 = r.nodes.iter().map(|n| n.served).sum();
    let rate = sel as f64 / served as f64;
    let sd = (0.05 * 0.95 / served as f64).sqrt();
    assert!((rate - 0.05).abs() < 5.0 * sd + 0.002, "{rate}");
    assert_eq!(r.bad_served_fraction, 0.0);
    assert!(
        r.nodes.iter().all(|n| n.slashed_eth == 0.0),
        "honest nodes are never slashed"
    );
}

/// As built, the sampled step is uniform over the whole trace: an honest node misses its proof
/// (and is slashed) for the unprovable share of its selected receipts.
#[test]
fn honest_nodes_miss_unprovable_steps_as_built() {
    let c = costs();
    // No ejection (least stake 0), so every node serves the whole run.
    let p = Params {
        rho: 0.2,
        min_stake_eth: 0.0,
        prove_on_node: false,
        ..Params::default()
    };
    let s = Scenario {
        duration_s: 8.0 * 3600.0,
        ..Scenario::default()
    };
    let u = query_costs(&c, &p, &s).unprovable_share;
    assert!((u - unprovable_step_fraction(&c, &s)).abs() < 1e-15);
    let r = simulate(&c, &p, &s);
    let sel: u64 = r.nodes.iter().map(|n| n.selected).sum();
    let missed: u64 = r.nodes.iter().map(|n| n.missed_proofs).sum();
    let share = missed as f64 / sel as f64;
    let sd = (u * (1.0 - u) / sel as f64).sqrt();
    assert!(sel > 5_000, "{sel}");
    assert!(
        (share - u).abs() < 5.0 * sd,
        "missed {share} vs unprovable {u}"
    );
    assert!(r.nodes.iter().all(|n| n.strategy == "honest"));
    assert!(r.nodes.iter().filter(|n| n.slashed_eth > 0.0).count() >= 10);
    // The closed form charges the same expectation: rho x share x the missed-proof slash.
    let b = cost_breakdown(&c, &p, &s, 6.0, 6.0, 0.0);
    let expect = p.rho * u * p.spot_slash_fraction * p.stake_eth * c.eth_usd;
    assert!((b.honest_slash_usd - expect).abs() < 1e-12 * expect);
    let only = Params {
        sample_provable_only: true,
        ..p.clone()
    };
    assert_eq!(
        cost_breakdown(&c, &only, &s, 6.0, 6.0, 0.0).honest_slash_usd,
        0.0
    );
}

/// The step mix of a 128 + 128 query of Gemma 3 270M: its classes add up to the trace the
/// engine measures (289 steps per fed position, 3 per sampled one), the unprovable steps are
/// exactly EMBED, LOGITS, SAMPLE and the attention steps past the measured gas cap, and the
/// expected proof gas is the step-weighted mean of the measured per-operator gas.
#[test]
fn spot_check_mix_of_a_gemma_query() {
    let c = costs();
    let s = Scenario::default();
    let (prompt, completion) = (s.prompt_tokens, s.completion_tokens);
    let m = c.spot_check_mix(prompt, completion);
    let steps = c.trace_steps(prompt, completion);
    assert_eq!(steps, 74_079.0);
    assert_eq!(m.steps, steps);
    assert_eq!(
        m.classes.iter().map(|k| k.steps).sum::<f64>(),
        steps,
        "classes cover the trace"
    );
    let fed = prompt + completion - 1.0;
    // Positions 96..254 attend over 97..255 positions: past the measured cap of 96.
    let long_attn = c.n_layers * (fed - c.attn_max_visible);
    assert_eq!(c.attn_max_visible, 96.0);
    assert_eq!(
        steps - m.provable_steps,
        fed + 2.0 * completion + long_attn,
        "EMBED + LOGITS + SAMPLE + long ATTN"
    );
    assert_eq!(steps - m.provable_steps, 3_373.0);
    // The matrix-vector share counts LOGITS (unprovable) as the report states.
    let mat = (fed * c.n_layers * 7.0 + completion) / steps;
    assert!((matrix_step_fraction(&c, &s) - mat).abs() < 1e-15);
    assert!((m.matvec_steps - fed * c.n_layers * 7.0).abs() < 1e-9);
    // Interpolation passes through the measured attention points; one past the cap is None.
    for &(v, g) in &c.gas_step_attn {
        assert_eq!(c.attn_step_gas(v), Some(g));
    }
    assert_eq!(c.attn_step_gas(c.attn_max_visible + 1.0), None);
    // The one-call conversion reproduces the measured residual-add spot check.
    assert_eq!(
        c.spot_check_one_call_gas(c.gas_prove_step_onchain),
        c.gas_spot_check_one_call
    );
    // The mean lies between the cheapest and the costliest provable step, and the DOWN
    // matrix transaction is a measured figure.
    let g = m.gas_if_provable();
    let lo = c.spot_check_one_call_gas(c.gas_step_v_cache);
    let hi = c.spot_check_one_call_gas(c.gas_step_attn.last().unwrap().1);
    assert!(lo < g && g < hi, "{lo} < {g} < {hi}");
    let q = query_costs(&c, &Params::default(), &s);
    assert!((q.spot_gas_per_selected - (1.0 - q.unprovable_share) * g).abs() < 1e-6);
    assert!((q.report_gas_per_selected - q.unprovable_share * c.gas_report_missed).abs() < 1e-9);
    // One unit per sampled matrix step (as built): units = matrix share among provable steps.
    let qp = query_costs(
        &c,
        &Params {
            sample_provable_only: true,
            ..Params::default()
        },
        &s,
    );
    assert!((qp.units_per_selected - m.matvec_steps / m.provable_steps).abs() < 1e-12);
    assert!(q.units_per_selected < qp.units_per_selected);
}

/// Same seed, same output; another seed, another output.
#[test]
fn deterministic() {
    let c = costs();
    let p = Params::default();
    let s = Scenario {
        byzantine: vec![
            Strategy::SkipWork,
            Strategy::Collude,
            Strategy::TamperOutput,
        ],
        byzantine_fraction: 0.5,
        challenger_presence: 0.5,
        value_at_risk_usd: 5.0,
        duration_s: 2.0 * 3600.0,
        seed: 11,
        ..Scenario::default()
    };
    let a = serde_json::to_string(&simulate(&c, &p, &s)).unwrap();
    let b = serde_json::to_string(&simulate(&c, &p, &s)).unwrap();
    assert_eq!(a, b);
    let other = serde_json::to_string(&simulate(&c, &p, &Scenario { seed: 12, ..s })).unwrap();
    assert_ne!(a, other);
}

/// The costs file names a source for every figure, placeholders are marked assumed, and the
/// interpolated post gas passes through the measured points.
#[test]
fn costs_file_is_honest() {
    let f = CostsFile::parse(EMBEDDED).unwrap();
    for (name, fig) in &f.figures {
        assert!(!fig.source.is_empty(), "{name}: no source");
        let missing = matches!(fig.value, None | Some(serde_json::Value::Null));
        if missing {
            assert!(fig.assumed, "{name}: not measured but not marked assumed");
            assert!(fig.placeholder.is_some(), "{name}: no placeholder");
        }
        if fig.kind == "assumed" {
            assert!(fig.assumed, "{name}");
        }
    }
    let c = CostModel::from_file(&f).unwrap();
    for &(h, g) in &c.gas_post_batch {
        assert!((c.post_batch_gas(h) - g).abs() < 1e-6);
    }
    let names: Vec<&str> = c.assumed.iter().map(|a| a.name.as_str()).collect();
    assert!(names.contains(&"market.eth_usd"));
    // The spot-check transactions are measured now (docs/BENCHMARKS.md, Settlement gas).
    for measured in [
        "gas.spot_check_one_call",
        "gas.spot_check_matvec",
        "gas.record_seed",
        "gas.report_missed",
        "gas.prove_step.attn",
    ] {
        assert!(!names.contains(&measured), "{measured} is measured");
        assert_eq!(f.figures[measured].kind, "measured", "{measured}");
    }
    assert!(c.assumed_line().starts_with("ASSUMED"));
    // A figure with neither value nor placeholder is refused.
    let bad = EMBEDDED.replace("\"placeholder\": 3000", "\"placeholder\": null");
    assert!(CostModel::from_file(&CostsFile::parse(&bad).unwrap()).is_err());
}

#[test]
fn svg_is_well_formed() {
    let s = line_chart(
        "t <&>",
        "x",
        "y",
        &[Series {
            name: "a".into(),
            points: vec![(0.0, 0.0), (1.0, 1.0)],
            dashed: false,
        }],
        false,
        false,
        None,
    );
    assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
    assert!(s.contains("t &lt;&amp;&gt;"));
}
