//! Closed-form checks of the simulator, determinism, and the costs file.

use otr_sim::costs::{CostModel, CostsFile, EMBEDDED};
use otr_sim::des::{detection_trials, simulate};
use otr_sim::model::{
    cost_breakdown, detect_within, deterrence, matrix_step_fraction, min_stake_eth, p_detect,
    query_costs, Params, Scenario, Strategy, CHEATERS,
};
use otr_sim::svg::{line_chart, Series};

fn costs() -> CostModel {
    CostModel::embedded()
}

/// Monte Carlo detection within k receipts matches 1 - (1 - rho)^k (spot checks only).
#[test]
fn detection_matches_closed_form_spot_checks_only() {
    let s = Scenario::default();
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
            assert!((detect_within(p_detect(st, &p, &s), k as f64) - closed).abs() < 1e-12);
            let mc = detection_trials(st, &p, &s, k, trials, 42);
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
    let expect = 1.0 - (1.0 - 0.01) * (1.0f64 - 0.05).powi(3);
    let pd = p_detect(Strategy::SkipWork, &p, &s);
    assert!((pd - expect).abs() < 1e-12);
    let closed = detect_within(pd, 10.0);
    let mc = detection_trials(Strategy::SkipWork, &p, &s, 10, 20_000, 9);
    assert!((mc - closed).abs() < 0.015, "{mc} vs {closed}");
    // Bribed challengers do not help against a colluder; withholding is invisible to them.
    let sb = Scenario {
        bribed_challengers: 1.0,
        ..s.clone()
    };
    assert!((p_detect(Strategy::Collude, &p, &sb) - 0.01).abs() < 1e-12);
    assert!((p_detect(Strategy::WithholdProofs, &p, &s) - 0.01).abs() < 1e-12);
    // A one-token tamper leaves every layer matrix step right: spot checks (which prove only
    // layer matrix steps) never catch it; challengers who re-execute find it and refute the
    // token at its `SAMPLE` step (greedy or sampled).
    let s0 = Scenario::default();
    assert_eq!(p_detect(Strategy::TamperOutput, &p, &s0), 0.0);
    assert_eq!(
        detection_trials(Strategy::TamperOutput, &p, &s0, 1_000, 200, 5),
        0.0
    );
    let chal = 1.0 - (1.0f64 - 0.05).powi(3);
    assert!((p_detect(Strategy::TamperOutput, &p, &s) - chal).abs() < 1e-12);
    let mc = detection_trials(Strategy::TamperOutput, &p, &s, 10, 20_000, 9);
    let closed = detect_within(chal, 10.0);
    assert!((mc - closed).abs() < 0.015, "{mc} vs {closed}");
    assert!(p_detect(Strategy::SkipWork, &p, &s) > p_detect(Strategy::SkipWork, &p, &s0));
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

/// The spot-check selection rate in the simulation is rho, and honest nodes prove every
/// selected receipt: every spot check is one unit proof of a layer matrix step.
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

/// As built, an honest node proves every selected receipt (one unit each) and is never
/// slashed, even at a high rho; the closed form charges one `proveSpotCheck` per selection.
#[test]
fn honest_nodes_prove_every_selected_receipt() {
    let c = costs();
    let p = Params {
        rho: 0.2,
        prove_on_node: false,
        ..Params::default()
    };
    let s = Scenario {
        duration_s: 8.0 * 3600.0,
        ..Scenario::default()
    };
    let r = simulate(&c, &p, &s);
    let sel: u64 = r.nodes.iter().map(|n| n.selected).sum();
    let proved: u64 = r.nodes.iter().map(|n| n.proved).sum();
    let missed: u64 = r.nodes.iter().map(|n| n.missed_proofs).sum();
    assert!(sel > 5_000, "{sel}");
    assert_eq!(proved, sel);
    assert_eq!(missed, 0);
    assert!(r.nodes.iter().all(|n| n.strategy == "honest"));
    assert!(r
        .nodes
        .iter()
        .all(|n| n.slashed_eth == 0.0 && n.ejected_at_s.is_none()));
    // Proving time: exactly one unit per selected receipt.
    let prove_s: f64 = r.nodes.iter().map(|n| n.prove_s).sum();
    assert!((prove_s - sel as f64 * c.zk_prove_unit_s).abs() < 1e-6 * prove_s);
    // Gas: rho x one measured proveSpotCheck per query, on top of the rest.
    let q = query_costs(&c, &p, &s);
    assert_eq!(q.units_per_selected, 1.0);
    assert_eq!(q.spot_gas_per_selected, c.gas_spot_check);
    let b = cost_breakdown(&c, &p, &s, 6.0, 6.0, 0.0);
    let rest = cost_breakdown(
        &c,
        &Params {
            rho: 0.0,
            ..p.clone()
        },
        &s,
        6.0,
        6.0,
        0.0,
    );
    assert!((b.gas_per_query - rest.gas_per_query - 0.2 * c.gas_spot_check).abs() < 1e-6);
}

/// A node that alters one sampled token is never caught by spot checks (its layer matrix steps
/// are right), one that skips the work always is when selected.
#[test]
fn tamper_output_escapes_spot_checks_skip_work_does_not() {
    let c = costs();
    let p = Params {
        rho: 0.2,
        prove_on_node: false,
        stake_eth: 100.0,
        min_stake_eth: 0.0,
        ..Params::default()
    };
    for (st, caught) in [(Strategy::TamperOutput, false), (Strategy::SkipWork, true)] {
        let s = Scenario {
            byzantine: vec![st],
            byzantine_fraction: 1.0 / 12.0,
            duration_s: 4.0 * 3600.0,
            ..Scenario::default()
        };
        let r = simulate(&c, &p, &s);
        let x = &r.by_strategy[st.name()];
        assert!(x.cheated > 50, "{} cheated {}", st.name(), x.cheated);
        if caught {
            assert!(x.bad_detected > 0 && x.slashed_eth > 0.0, "{}", st.name());
        } else {
            assert_eq!(x.bad_detected, 0, "{}", st.name());
            assert_eq!(x.slashed_eth, 0.0, "{}", st.name());
            assert!(x.bad_finalized > 0 && x.bad_finalized <= x.cheated);
            // It proves every selected receipt: the proved step is a right matrix step.
            for n in r.nodes.iter().filter(|n| n.strategy == st.name()) {
                assert!(n.selected > 0);
                assert_eq!((n.proved, n.missed_proofs), (n.selected, 0));
            }
        }
    }
}

/// The layer matrix a spot check proves, for a query of Gemma 3 270M's shape, against a brute
/// force over the actual trace order: for every sampled index, walk forward (wrapping) to the
/// first layer matrix step.
#[test]
fn spot_check_selection_matches_the_trace_order() {
    let c = costs();
    let layer_ops = otr_sim::costs::LAYER_OPS;
    assert_eq!(
        1.0 + c.n_layers * layer_ops.len() as f64,
        c.steps_per_position
    );
    for (prompt, completion) in [(128.0, 128.0), (5.0, 3.0), (1.0, 1.0), (7.0, 1.0)] {
        // The trace: (op name, is layer matrix) in (position, stage, op) order.
        let fed = (prompt + completion - 1.0) as usize;
        let sampled = completion as usize;
        let mut trace: Vec<(&str, bool)> = vec![("PROMPT", false)];
        for i in 0..fed {
            trace.push(("EMBED", false));
            for _ in 0..c.n_layers as usize {
                trace.extend(layer_ops.iter().copied());
            }
            if i + sampled >= fed {
                trace.extend([("FINAL_NORM", false), ("LOGITS", false), ("SAMPLE", false)]);
            }
        }
        let n = trace.len();
        assert_eq!(n as f64, c.trace_steps(prompt, completion));
        let mut hits: std::collections::BTreeMap<&str, (f64, f64, f64)> = Default::default();
        for s in 0..n {
            let mut j = s;
            let mut skipped = 0.0;
            while !trace[j].1 {
                j = (j + 1) % n;
                skipped += 1.0;
            }
            let e = hits.entry(trace[j].0).or_default();
            e.0 += 1.0;
            e.1 += skipped;
            e.2 = f64::max(e.2, skipped);
        }
        let sel = c.spot_check_selection(prompt, completion);
        assert_eq!(sel.steps, n as f64);
        assert_eq!(sel.classes.len(), 7);
        let mut total_p = 0.0;
        let mut total_skipped = 0.0;
        for k in &sel.classes {
            let (count, skipped, most) = hits[k.name];
            assert!(
                (k.probability - count / n as f64).abs() < 1e-12,
                "{} {prompt}+{completion}",
                k.name
            );
            assert!(
                (k.mean_skipped - skipped / count).abs() < 1e-12,
                "{}",
                k.name
            );
            assert_eq!(k.max_skipped, most, "{}", k.name);
            assert_eq!(k.steps, fed as f64 * c.n_layers);
            total_p += k.probability;
            total_skipped += skipped;
        }
        assert!((total_p - 1.0).abs() < 1e-12);
        assert!((sel.mean_skipped - total_skipped / n as f64).abs() < 1e-12);
        assert_eq!(sel.matrix_steps, 7.0 * fed as f64 * c.n_layers);
    }
    // The default query: not uniform over matrix steps. O is drawn five times as often as K,
    // a position's first Q after a sampled head seven times.
    let s = Scenario::default();
    let sel = c.spot_check_selection(s.prompt_tokens, s.completion_tokens);
    assert_eq!(sel.steps, 74_080.0);
    let p = |name: &str| {
        sel.classes
            .iter()
            .find(|k| k.name == name)
            .unwrap()
            .probability
    };
    assert!((p("O") / p("K") - 5.0).abs() < 1e-12);
    assert!((p("GATE") / p("UP") - 3.0).abs() < 1e-12);
    assert!((p("DOWN") / p("V") - 2.0).abs() < 1e-12);
    // Seven skipped at most: wrapping from the last DOWN over RESID_FFN, the head, PROMPT,
    // EMBED and ATTN_NORM.
    assert_eq!(sel.max_skipped, 7.0);
    // The matrix-vector share counts LOGITS (never spot-checked) as the report states.
    let fed = s.prompt_tokens + s.completion_tokens - 1.0;
    let mat = (fed * c.n_layers * 7.0 + s.completion_tokens) / sel.steps;
    assert!((matrix_step_fraction(&c, &s) - mat).abs() < 1e-15);
    // One unit per selected receipt as built; whole steps weight each shape by its probability.
    assert_eq!(c.units_per_selected(128.0, 128.0, false), 1.0);
    let unit = c.zk_unit_rows * c.zk_unit_cols;
    let whole: f64 = sel
        .classes
        .iter()
        .map(|k| k.probability * k.rows * k.cols / unit)
        .sum();
    assert!((c.units_per_selected(128.0, 128.0, true) - whole).abs() < 1e-9);
    assert!(whole < c.max_units_per_step(true) && whole > 1.0);
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
    for measured in ["gas.spot_check", "gas.record_seed", "gas.report_missed"] {
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

/// Nodes that tamper with one token, challengers present: the tampered tokens are refuted and
/// the tamperers slashed; without challengers nobody is.
#[test]
fn tampered_tokens_are_slashed_by_challengers() {
    let c = costs();
    let p = Params::default();
    let base = Scenario {
        duration_s: 2.0 * 3600.0,
        byzantine: vec![Strategy::TamperOutput],
        byzantine_fraction: 1.0 / 3.0,
        challenger_presence: 1.0,
        audit_fraction: 0.2,
        ..Scenario::default()
    };
    let found = simulate(&c, &p, &base);
    let tamperers = |r: &otr_sim::des::SimReport| -> f64 {
        r.nodes
            .iter()
            .filter(|n| n.strategy == Strategy::TamperOutput.name())
            .map(|n| n.slashed_eth)
            .sum()
    };
    assert!(tamperers(&found) > 0.0);
    assert!(found.challengers.disputes_won > 0);
    let unwatched = simulate(
        &c,
        &p,
        &Scenario {
            challenger_presence: 0.0,
            ..base.clone()
        },
    );
    assert_eq!(tamperers(&unwatched), 0.0);
}
