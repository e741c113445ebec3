//! `otr-sim`: the OTR economics simulator's command line.

use otr_sim::costs::CostModel;
use otr_sim::model::{
    cost_breakdown, detect_within, deterrence, p_detect, query_costs, Params, Scenario, Strategy,
    CHEATERS,
};
use otr_sim::suggest::{render, suggest, Inputs};
use otr_sim::{report, simulate};
use std::collections::BTreeMap;
use std::process::ExitCode;

const USAGE: &str = "otr-sim: OTR economics simulator (deterministic from a seed)

USAGE:
  otr-sim report [--out DIR]                 write DIR/ECONOMICS.md and DIR/economics/*.svg (default DIR: docs)
  otr-sim run [options] [--json]             one simulation; prints a summary (or the full JSON report)
  otr-sim costs [options]                    cost per query, broken down
  otr-sim detect --strategy S [options] [--k K]   detection probability of a strategy
  otr-sim profit [options]                   closed-form expected profit of every cheating strategy
  otr-sim params suggest --value-at-risk X --gas-price Y [--margin M] [--presence P]
                         [--audit A] [--challengers N] [--rate-per-node R] [--block-time B] [--safety-blocks K]
                         [--max-stake ETH] [--json]

OPTIONS (all commands):
  --costs FILE        measured costs (default: the docs/measured-costs.json embedded at build)
  --params FILE       protocol parameters as JSON (fields of otr_sim::Params; missing = defaults)
  --scenario FILE     scenario as JSON (fields of otr_sim::Scenario)
  --seed N --hours H --nodes N --rate QPS --rho R --stake ETH --gas-price GWEI --presence P
  --audit A --challengers N --byzantine s1,s2 --fraction F --value-at-risk USD --bribed F
  --window S --proof-window S --batch-interval S
  --whole-step (not built: prove every row of the spot-checked matrix step instead of the one
               unit the seed draws; --row-block, the contracts as built, is the default)
  --separate-prover (proofs do not run on the serving machine)
Strategies: honest cheap-model skip-work tamper-output withhold-proofs collude leaked-tee";

struct Args {
    pos: Vec<String>,
    kv: BTreeMap<String, String>,
}

fn parse(argv: &[String]) -> Result<Args, String> {
    const FLAGS: [&str; 5] = ["json", "row-block", "whole-step", "separate-prover", "help"];
    let mut pos = Vec::new();
    let mut kv = BTreeMap::new();
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        if let Some(k) = a.strip_prefix("--") {
            if k == "provable-only" {
                return Err(
                    "--provable-only is gone: every spot check proves a layer matrix step \
                            (one unit), which an honest node can always prove"
                        .into(),
                );
            }
            if FLAGS.contains(&k) {
                kv.insert(k.to_string(), "true".into());
            } else {
                let v = argv.get(i + 1).ok_or(format!("--{k} needs a value"))?;
                kv.insert(k.to_string(), v.clone());
                i += 1;
            }
        } else {
            pos.push(a.clone());
        }
        i += 1;
    }
    Ok(Args { pos, kv })
}

impl Args {
    fn f(&self, k: &str) -> Result<Option<f64>, String> {
        self.kv
            .get(k)
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| format!("--{k}: not a number: {v}"))
            })
            .transpose()
    }
    fn has(&self, k: &str) -> bool {
        self.kv.contains_key(k)
    }
}

fn setup(a: &Args) -> Result<(CostModel, Params, Scenario), String> {
    let c = match a.kv.get("costs") {
        Some(p) => CostModel::load(p)?,
        None => CostModel::embedded(),
    };
    let mut p: Params = match a.kv.get("params") {
        Some(f) => {
            serde_json::from_str(&std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?)
                .map_err(|e| format!("{f}: {e}"))?
        }
        None => Params::default(),
    };
    let mut s: Scenario = match a.kv.get("scenario") {
        Some(f) => {
            serde_json::from_str(&std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?)
                .map_err(|e| format!("{f}: {e}"))?
        }
        None => Scenario::default(),
    };
    if let Some(v) = a.f("seed")? {
        s.seed = v as u64;
    }
    if let Some(v) = a.f("hours")? {
        s.duration_s = v * 3600.0;
    }
    if let Some(v) = a.f("nodes")? {
        s.nodes = (v as usize).max(1);
    }
    if let Some(v) = a.f("rate")? {
        s.request_rate = v;
    }
    if let Some(v) = a.f("presence")? {
        s.challenger_presence = v;
    }
    if let Some(v) = a.f("audit")? {
        s.audit_fraction = v;
    }
    if let Some(v) = a.f("challengers")? {
        s.challengers = v as usize;
    }
    if let Some(v) = a.f("fraction")? {
        s.byzantine_fraction = v;
    }
    if let Some(v) = a.f("value-at-risk")? {
        s.value_at_risk_usd = v;
    }
    if let Some(v) = a.f("bribed")? {
        s.bribed_challengers = v;
    }
    if let Some(b) = a.kv.get("byzantine") {
        s.byzantine = b
            .split(',')
            .map(|x| Strategy::parse(x.trim()).ok_or(format!("unknown strategy {x:?}")))
            .collect::<Result<_, _>>()?;
        if !a.has("fraction") && s.byzantine_fraction == 0.0 {
            s.byzantine_fraction = 1.0 / 3.0;
        }
    }
    if let Some(v) = a.f("rho")? {
        p.rho = v;
    }
    if let Some(v) = a.f("stake")? {
        p.stake_eth = v;
        p.min_stake_eth = v;
    }
    if let Some(v) = a.f("gas-price")? {
        p.gas_price_gwei = v;
    }
    if let Some(v) = a.f("window")? {
        p.challenge_window_s = v;
    }
    if let Some(v) = a.f("proof-window")? {
        p.proof_window_s = v;
    }
    if let Some(v) = a.f("batch-interval")? {
        p.batch_interval_s = v;
    }
    if a.has("row-block") && a.has("whole-step") {
        return Err("--row-block and --whole-step exclude each other".into());
    }
    if a.has("row-block") {
        p.whole_step_spot_checks = false;
    }
    if a.has("whole-step") {
        p.whole_step_spot_checks = true;
    }
    if a.has("separate-prover") {
        p.prove_on_node = false;
    }
    Ok((c, p, s))
}

fn run(argv: &[String]) -> Result<(), String> {
    let a = parse(argv)?;
    if a.has("help") || a.pos.is_empty() {
        println!("{USAGE}");
        return Ok(());
    }
    let (c, p, s) = setup(&a)?;
    match a.pos[0].as_str() {
        "report" => {
            let out = a.kv.get("out").cloned().unwrap_or_else(|| "docs".into());
            let o = report::build(&c);
            let dir = format!("{out}/economics");
            std::fs::create_dir_all(&dir).map_err(|e| format!("{dir}: {e}"))?;
            for (name, svg) in &o.svgs {
                let f = format!("{dir}/{name}");
                std::fs::write(&f, svg).map_err(|e| format!("{f}: {e}"))?;
            }
            let f = format!("{out}/ECONOMICS.md");
            std::fs::write(&f, &o.markdown).map_err(|e| format!("{f}: {e}"))?;
            println!("wrote {f} and {} plots under {dir}", o.svgs.len());
            println!("{}", c.assumed_line());
        }
        "run" => {
            let r = simulate(&c, &p, &s);
            if a.has("json") {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?
                );
                return Ok(());
            }
            print!("{}", otr_sim::summary::run_summary(&c, &s, &r));
        }
        "costs" => {
            let rate = s.request_rate / s.nodes as f64;
            let rec = (rate * p.batch_interval_s).max(1.0);
            let hdr = rec.min(p.batch_interval_s / p.micro_batch_interval_s);
            let b = cost_breakdown(&c, &p, &s, rec, hdr, 0.0);
            let q = query_costs(&c, &p, &s);
            println!(
                "{}",
                serde_json::to_string_pretty(&b).map_err(|e| e.to_string())?
            );
            println!(
                "per query: engine {:.3} s, trace hashing {:.4} s, {:.0} trace steps, {:.2} proof units per selected receipt ({:.1} s)",
                q.engine_s, q.trace_hash_s, q.trace_steps, q.units_per_selected, q.prove_s_per_selected
            );
            println!(
                "spot check: one proveSpotCheck of at most {:.0} gas per selected receipt (the measured DOWN transaction, an upper bound for every layer matrix shape)",
                q.spot_gas_per_selected
            );
            println!(
                "paper's claim: $0.07 per query; ours (overhead): ${:.7}",
                b.total_overhead_usd
            );
            println!("{}", c.assumed_line());
        }
        "detect" => {
            let st =
                a.kv.get("strategy")
                    .and_then(|x| Strategy::parse(x))
                    .ok_or("--strategy: one of the strategies")?;
            let k = a.f("k")?.unwrap_or(100.0);
            let pd = p_detect(st, &p, &s);
            let mc = otr_sim::des::detection_trials(st, &p, &s, k as u64, 20_000, s.seed);
            println!(
                "{}: p per receipt {pd:.3e}; P(caught within {k}) = {:.4} (closed form), {mc:.4} (Monte Carlo, 20000 trials)",
                st.name(),
                detect_within(pd, k)
            );
        }
        "profit" => {
            for st in CHEATERS {
                let d = deterrence(st, &c, &p, &s);
                println!(
                    "{:>16}: p {:.3e}, gain/receipt ${:.6}, lag {:.0} s, penalty ${:.2}, expected gain ${:.4}, expected profit ${:.4} ({})",
                    st.name(), d.p_detect, d.gain_usd, d.lag_s, d.penalty_usd, d.expected_gain_usd,
                    d.expected_profit_usd, if d.expected_profit_usd < 0.0 { "does not pay" } else { "PAYS" }
                );
            }
            println!("{}", c.assumed_line());
        }
        "params" => {
            if a.pos.get(1).map(String::as_str) != Some("suggest") {
                return Err("usage: otr-sim params suggest --value-at-risk X --gas-price Y".into());
            }
            let x = a
                .f("value-at-risk")?
                .ok_or("--value-at-risk X (USD) is required")?;
            let g = a
                .f("gas-price")?
                .ok_or("--gas-price Y (gwei) is required")?;
            let mut i = Inputs::new(x, g);
            i.margin = a.f("margin")?.unwrap_or(i.margin);
            i.challenger_presence = a.f("presence")?.unwrap_or(i.challenger_presence);
            i.audit_fraction = a.f("audit")?.unwrap_or(i.audit_fraction);
            i.challengers = a.f("challengers")?.map_or(i.challengers, |v| v as usize);
            i.rate_per_node = a.f("rate-per-node")?.unwrap_or(i.rate_per_node);
            i.block_time_s = a.f("block-time")?.unwrap_or(i.block_time_s);
            i.safety_blocks = a.f("safety-blocks")?.unwrap_or(i.safety_blocks);
            i.max_stake_eth = a.f("max-stake")?.unwrap_or(i.max_stake_eth);
            let sg = suggest(&c, &i);
            if a.has("json") {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&sg).map_err(|e| e.to_string())?
                );
            } else {
                print!("{}", render(&c, &sg));
            }
        }
        other => return Err(format!("unknown command {other:?}\n\n{USAGE}")),
    }
    Ok(())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match run(&argv) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("otr-sim: {e}");
            ExitCode::from(2)
        }
    }
}
