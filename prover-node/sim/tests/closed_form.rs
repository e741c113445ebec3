//! Closed-form checks of the simulator, determinism, and the costs file.

use otr_sim::costs::{CostModel, CostsFile, EMBEDDED};
use otr_sim::des::{detection_trials, simulate};
use otr_sim::model::{
    detect_within, deterrence, min_stake_eth, p_detect, query_costs, Params, Scenario, Strategy,
    CHEATERS,
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

/// The spot-check selection rate in the simulation is rho.
#[test]
fn simulated_selection_rate_is_rho() {
    let c = costs();
    let p = Params {
        rho: 0.05,
        prove_on_node: false,
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
