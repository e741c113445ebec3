//! `otr simulate` and `otr params suggest`: the economics simulator (library `otr_sim`, crate
//! `prover-node/sim`) behind the node's command line. The same library drives `otr-sim`; this
//! module only maps flags onto its parameters and prints its results.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use otr_sim::costs::CostModel;
use otr_sim::suggest::{render, suggest, Inputs};
use otr_sim::{simulate, Params, Scenario, Strategy};

use super::CliError;

/// `otr simulate`: one deterministic run of the economics simulator.
#[derive(Debug, Args)]
#[command(
    about = "Simulate the protocol's economics: nodes (honest or cheating), challengers, users, the chain",
    long_about = "Runs the deterministic discrete-event simulator of crate otr-sim (same seed, same \
output): nodes with stake serving requests, honest or with a cheating strategy, challengers \
re-executing receipts, spot-check proofs, disputes and slashing, with the project's measured costs \
(docs/measured-costs.json; assumed ones are named in the output). Prints throughput, latencies, the \
share of bad answers served and finalized, and per-strategy outcomes.\n\nExamples:\n  otr simulate \
--rho 0.01 --nodes 1 --rate 0.045 --hours 168\n  otr simulate --byzantine skip-work,collude \
--fraction 0.5 --presence 1 --json",
    after_help = "Strategies: cheap-model, skip-work, tamper-output, withhold-proofs, collude, leaked-tee."
)]
pub struct SimulateArgs {
    /// Measured costs as JSON (default: docs/measured-costs.json embedded at build).
    #[arg(long, value_name = "FILE")]
    pub costs: Option<PathBuf>,
    /// Protocol parameters as JSON (fields of otr_sim::Params; missing fields take defaults).
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// Scenario as JSON (fields of otr_sim::Scenario; missing fields take defaults).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Random seed (the run is a pure function of it and the inputs).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulated time in hours.
    #[arg(long)]
    pub hours: Option<f64>,
    /// Number of nodes.
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Total user requests per second (Poisson).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Spot-check rate: probability that a posted receipt is selected for a proof.
    #[arg(long)]
    pub rho: Option<f64>,
    /// Stake per node, ETH (also the least stake to keep posting).
    #[arg(long, value_name = "ETH")]
    pub stake: Option<f64>,
    /// Gas price in gwei.
    #[arg(long, value_name = "GWEI")]
    pub gas_price: Option<f64>,
    /// Probability that a challenger watches a given batch.
    #[arg(long)]
    pub presence: Option<f64>,
    /// Fraction of a watched batch's receipts a challenger re-executes.
    #[arg(long)]
    pub audit: Option<f64>,
    /// Number of challengers.
    #[arg(long)]
    pub challengers: Option<usize>,
    /// Strategies of the Byzantine nodes, comma-separated (cycled over them).
    #[arg(long, value_delimiter = ',')]
    pub byzantine: Vec<String>,
    /// Fraction of nodes that are Byzantine (default 1/3 when --byzantine is given).
    #[arg(long)]
    pub fraction: Option<f64>,
    /// What a briber pays per wrong answer, USD.
    #[arg(long, value_name = "USD")]
    pub value_at_risk: Option<f64>,
    /// Fraction of challengers a colluding node has bribed.
    #[arg(long)]
    pub bribed: Option<f64>,
    /// Challenge window, seconds.
    #[arg(long, value_name = "S")]
    pub window: Option<f64>,
    /// Spot-check proof window, seconds.
    #[arg(long, value_name = "S")]
    pub proof_window: Option<f64>,
    /// Interval between rollup batches, seconds.
    #[arg(long, value_name = "S")]
    pub batch_interval: Option<f64>,
    /// A spot check proves one row block (unit) of a matrix step: what the contracts do (the
    /// default; kept for scripts).
    #[arg(long, conflicts_with = "whole_step")]
    pub row_block: bool,
    /// A spot check proves the whole matrix step (every unit), for comparison.
    #[arg(long)]
    pub whole_step: bool,
    /// Proofs run on a separate machine (they take no time from inference).
    #[arg(long)]
    pub separate_prover: bool,
    /// Print the full report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `otr params ...`
#[derive(Debug, Subcommand)]
pub enum ParamsCommand {
    /// Suggest rho, stake and window lengths that make every cheating strategy unprofitable.
    #[command(
        long_about = "Searches spot-check rates rho and, for each, the least stake that makes every \
cheating strategy's expected profit negative with the given margin (expected penalty >= (1 + \
margin) x expected gain), then picks the cheapest per query. Prints rho, stake, slash fractions, \
the challenge and proof windows, and the latency and cost per query they imply. Strategies no \
stake under --max-stake deters are named, with the re-execution coverage that would.\n\nExample:\n  \
otr params suggest --value-at-risk 100 --gas-price 30"
    )]
    Suggest(SuggestArgs),
}

#[derive(Debug, Args)]
pub struct SuggestArgs {
    /// What a node could gain from one wrong answer (a briber's payment), USD.
    #[arg(long, value_name = "USD")]
    pub value_at_risk: f64,
    /// Gas price in gwei.
    #[arg(long, value_name = "GWEI")]
    pub gas_price: f64,
    /// Safety margin: expected penalty >= (1 + margin) x expected gain.
    #[arg(long, default_value_t = 0.5)]
    pub margin: f64,
    /// Probability that a challenger watches a given batch.
    #[arg(long, default_value_t = 0.0)]
    pub presence: f64,
    /// Fraction of a watched batch's receipts a challenger re-executes.
    #[arg(long, default_value_t = 0.05)]
    pub audit: f64,
    /// Number of challengers.
    #[arg(long, default_value_t = 3)]
    pub challengers: usize,
    /// Requests per second each node serves.
    #[arg(long, default_value_t = 0.1)]
    pub rate_per_node: f64,
    /// Block time, seconds.
    #[arg(long, default_value_t = 12.0)]
    pub block_time: f64,
    /// Blocks a challenger or reporter must be able to wait out (congestion, censorship).
    #[arg(long, default_value_t = 25.0)]
    pub safety_blocks: f64,
    /// Stakes above this (ETH) are reported as impractical.
    #[arg(long, value_name = "ETH", default_value_t = 1000.0)]
    pub max_stake: f64,
    /// Measured costs as JSON (default: docs/measured-costs.json embedded at build).
    #[arg(long, value_name = "FILE")]
    pub costs: Option<PathBuf>,
    /// Print the suggestion as JSON.
    #[arg(long)]
    pub json: bool,
}

fn usage(m: impl Into<String>) -> CliError {
    CliError::usage("SIM_INPUT", m)
}

fn costs(p: &Option<PathBuf>) -> Result<CostModel, CliError> {
    match p {
        None => Ok(CostModel::embedded()),
        Some(p) => CostModel::load(&p.to_string_lossy()).map_err(usage),
    }
}

fn json_file<T: serde::de::DeserializeOwned + Default>(p: &Option<PathBuf>) -> Result<T, CliError> {
    match p {
        None => Ok(T::default()),
        Some(p) => {
            let text =
                std::fs::read_to_string(p).map_err(|e| usage(format!("{}: {e}", p.display())))?;
            serde_json::from_str(&text).map_err(|e| usage(format!("{}: {e}", p.display())))
        }
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(v).map_err(|e| usage(e.to_string()))
}

/// The parameters and scenario a `SimulateArgs` describes.
pub fn setup(a: &SimulateArgs) -> Result<(CostModel, Params, Scenario), CliError> {
    let c = costs(&a.costs)?;
    let mut p: Params = json_file(&a.params)?;
    let mut s: Scenario = json_file(&a.scenario)?;
    if let Some(v) = a.seed {
        s.seed = v;
    }
    if let Some(v) = a.hours {
        s.duration_s = v * 3600.0;
    }
    if let Some(v) = a.nodes {
        s.nodes = v.max(1);
    }
    if let Some(v) = a.rate {
        s.request_rate = v;
    }
    if let Some(v) = a.presence {
        s.challenger_presence = v;
    }
    if let Some(v) = a.audit {
        s.audit_fraction = v;
    }
    if let Some(v) = a.challengers {
        s.challengers = v;
    }
    if let Some(v) = a.fraction {
        s.byzantine_fraction = v;
    }
    if let Some(v) = a.value_at_risk {
        s.value_at_risk_usd = v;
    }
    if let Some(v) = a.bribed {
        s.bribed_challengers = v;
    }
    if !a.byzantine.is_empty() {
        s.byzantine = a
            .byzantine
            .iter()
            .map(|x| {
                Strategy::parse(x.trim()).ok_or_else(|| usage(format!("unknown strategy {x:?}")))
            })
            .collect::<Result<_, _>>()?;
        if a.fraction.is_none() && s.byzantine_fraction == 0.0 {
            s.byzantine_fraction = 1.0 / 3.0;
        }
    }
    if let Some(v) = a.rho {
        p.rho = v;
    }
    if let Some(v) = a.stake {
        p.stake_eth = v;
        p.min_stake_eth = v;
    }
    if let Some(v) = a.gas_price {
        p.gas_price_gwei = v;
    }
    if let Some(v) = a.window {
        p.challenge_window_s = v;
    }
    if let Some(v) = a.proof_window {
        p.proof_window_s = v;
    }
    if let Some(v) = a.batch_interval {
        p.batch_interval_s = v;
    }
    if a.row_block {
        p.whole_step_spot_checks = false;
    }
    if a.whole_step {
        p.whole_step_spot_checks = true;
    }
    if a.separate_prover {
        p.prove_on_node = false;
    }
    for (name, v) in [
        ("--rho", p.rho),
        ("--presence", s.challenger_presence),
        ("--audit", s.audit_fraction),
        ("--fraction", s.byzantine_fraction),
        ("--bribed", s.bribed_challengers),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return Err(usage(format!("{name} must be between 0 and 1, not {v}")));
        }
    }
    if !(s.duration_s > 0.0 && s.request_rate >= 0.0 && s.request_rate.is_finite()) {
        return Err(usage("--hours must be positive and --rate non-negative"));
    }
    Ok((c, p, s))
}

pub fn run_simulate(a: SimulateArgs) -> Result<(), CliError> {
    let (c, p, s) = setup(&a)?;
    let r = simulate(&c, &p, &s);
    if a.json {
        println!("{}", to_json(&r)?);
    } else {
        print!("{}", otr_sim::summary::run_summary(&c, &s, &r));
    }
    Ok(())
}

/// The suggestion inputs of `otr params suggest`.
pub fn inputs(a: &SuggestArgs) -> Result<Inputs, CliError> {
    if !(a.value_at_risk > 0.0 && a.value_at_risk.is_finite()) {
        return Err(usage("--value-at-risk must be a positive number of USD"));
    }
    if !(a.gas_price >= 0.0 && a.gas_price.is_finite()) {
        return Err(usage("--gas-price must be a non-negative number of gwei"));
    }
    if !(0.0..=1.0).contains(&a.presence) || !(0.0..=1.0).contains(&a.audit) {
        return Err(usage("--presence and --audit must be between 0 and 1"));
    }
    if !(a.rate_per_node > 0.0 && a.block_time > 0.0 && a.margin >= 0.0) {
        return Err(usage(
            "--rate-per-node and --block-time must be positive, --margin non-negative",
        ));
    }
    let mut i = Inputs::new(a.value_at_risk, a.gas_price);
    i.margin = a.margin;
    i.challenger_presence = a.presence;
    i.audit_fraction = a.audit;
    i.challengers = a.challengers;
    i.rate_per_node = a.rate_per_node;
    i.block_time_s = a.block_time;
    i.safety_blocks = a.safety_blocks;
    i.max_stake_eth = a.max_stake;
    Ok(i)
}

pub fn run_params(cmd: ParamsCommand) -> Result<(), CliError> {
    match cmd {
        ParamsCommand::Suggest(a) => {
            let c = costs(&a.costs)?;
            let g = suggest(&c, &inputs(&a)?);
            if a.json {
                println!("{}", to_json(&g)?);
            } else {
                print!("{}", render(&c, &g));
            }
            Ok(())
        }
    }
}
