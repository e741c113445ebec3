//! The measured costs (`docs/measured-costs.json`) and the per-query figures derived from them.
//!
//! Every figure carries its provenance. A figure whose `value` is null is not measured yet: its
//! `placeholder` is used and the figure is listed in [`CostModel::assumed`], which every output
//! of the simulator prints.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The costs file shipped with the repository, embedded at build time.
pub const EMBEDDED: &str = include_str!("../../../docs/measured-costs.json");

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Figure {
    pub value: Option<Value>,
    #[serde(default)]
    pub placeholder: Option<Value>,
    pub unit: String,
    pub kind: String,
    pub assumed: bool,
    pub source: String,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CostsFile {
    pub version: u32,
    #[serde(default)]
    pub about: String,
    pub figures: BTreeMap<String, Figure>,
}

/// One figure the model used that is not a project measurement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AssumedUse {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub why: String,
}

/// Figures the simulator works with, resolved from the costs file.
#[derive(Clone, Debug, Serialize)]
pub struct CostModel {
    pub decode_tok_s: f64,
    pub prefill_tok_s: f64,
    pub steps_per_position: f64,
    pub head_steps: f64,
    pub n_layers: f64,
    pub d_model: f64,
    pub d_ff: f64,
    pub q_dim: f64,
    pub kv_dim: f64,
    pub vocab: f64,
    pub sha256_bytes_per_s: f64,
    pub attest_verify_cold_ms: f64,
    pub attest_verify_warm_ms: f64,
    pub wasm_bundle_verify_ms: f64,
    pub gpu_report_ms: f64,
    pub node_answer_overhead_ms: f64,
    pub node_provisional_p50_ms: f64,
    pub node_provisional_p99_ms: f64,
    pub node_throughput_ratio_fixture: f64,
    /// (headers, gas) of postBatch, sorted by headers.
    pub gas_post_batch: Vec<(f64, f64)>,
    pub gas_register_work_per_receipt: f64,
    pub gas_open_dispute: f64,
    pub gas_dispute_round: f64,
    pub gas_dispute_timeout: f64,
    pub gas_prove_step_onchain: f64,
    pub gas_groth16_verify_tx: f64,
    /// `proveSpotCheck` of a residual add (the one-call spot check whose `proveStep` is
    /// `gas_prove_step_onchain`).
    pub gas_spot_check_one_call: f64,
    /// `proveSpotCheckMatVec` of a `DOWN` step (640 x 2048, R = 4).
    pub gas_spot_check_matvec: f64,
    /// `proveStep` of Gemma 3 270M's one-call operators (the dispute's one-step proof).
    pub gas_step_norm: f64,
    pub gas_step_post_norm_residual: f64,
    pub gas_step_q_rope: f64,
    pub gas_step_k_rope: f64,
    pub gas_step_v_cache: f64,
    pub gas_step_act: f64,
    /// (visible positions, gas) of `ATTN`'s `proveStep`, sorted by positions.
    pub gas_step_attn: Vec<(f64, f64)>,
    /// The most visible positions whose `ATTN` step is measured to fit a transaction.
    pub attn_max_visible: f64,
    pub gas_record_seed: f64,
    pub gas_report_missed: f64,
    pub zk_prove_unit_s: f64,
    pub zk_unit_rows: f64,
    pub zk_unit_cols: f64,
    pub zk_verify_wasm_ms: f64,
    pub eth_usd: f64,
    pub machine_usd_per_hour: f64,
    pub capital_cost_per_year: f64,
    /// The figures used that are not measured (placeholders and market prices).
    pub assumed: Vec<AssumedUse>,
}

impl CostsFile {
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("measured-costs.json: {e}"))
    }
}

struct Reader<'a> {
    f: &'a CostsFile,
    assumed: Vec<AssumedUse>,
}

impl Reader<'_> {
    fn raw(&mut self, name: &str) -> Result<Value, String> {
        let fig = self
            .f
            .figures
            .get(name)
            .ok_or_else(|| format!("measured-costs.json: figure {name:?} missing"))?;
        let (v, placeholder) = match (&fig.value, &fig.placeholder) {
            (Some(v), _) if !v.is_null() => (v.clone(), false),
            (_, Some(p)) if !p.is_null() => (p.clone(), true),
            _ => {
                return Err(format!(
                    "measured-costs.json: figure {name:?} has neither a value nor a placeholder"
                ))
            }
        };
        if fig.assumed || placeholder {
            self.assumed.push(AssumedUse {
                name: name.to_string(),
                value: v.as_f64().unwrap_or(f64::NAN),
                unit: fig.unit.clone(),
                why: fig.source.clone(),
            });
        }
        Ok(v)
    }

    fn num(&mut self, name: &str) -> Result<f64, String> {
        self.raw(name)?
            .as_f64()
            .ok_or_else(|| format!("measured-costs.json: figure {name:?} is not a number"))
    }
}

/// `[[x, y], ...]` with at least two points, sorted by x.
fn pairs(v: Value, name: &str) -> Result<Vec<(f64, f64)>, String> {
    let bad = || format!("{name}: expected [[x, y], ...] with at least two points");
    let mut out: Vec<(f64, f64)> = v
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|p| {
            let a = p.as_array().filter(|a| a.len() == 2);
            match a.map(|a| (a[0].as_f64(), a[1].as_f64())) {
                Some((Some(x), Some(y))) => Ok((x, y)),
                _ => Err(bad()),
            }
        })
        .collect::<Result<_, _>>()?;
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    if out.len() < 2 {
        return Err(bad());
    }
    Ok(out)
}

/// Piecewise linear through `p` (sorted, at least two points), extrapolated linearly from the
/// first or last two points outside them.
fn interpolate(p: &[(f64, f64)], x: f64) -> f64 {
    let mut i = 0;
    while i + 2 < p.len() && x > p[i + 1].0 {
        i += 1;
    }
    let (a, b) = (p[i], p[i + 1]);
    a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0)
}

/// One operator class of a query's trace, as the spot check sees it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StepClass {
    pub name: &'static str,
    /// Trace steps of this class in the query.
    pub steps: f64,
    /// Gas of the spot-check proof transaction, summed over the class's steps (0 when
    /// unprovable).
    pub gas_sum: f64,
    /// Whether an honest node can prove a sampled step of this class on-chain.
    pub provable: bool,
    /// Proved by `proveSpotCheckMatVec` with one Groth16 unit (the node proves one unit).
    pub matvec: bool,
}

/// The query's step mix and the spot-check cost of each class.
#[derive(Clone, Debug, Serialize)]
pub struct SpotCheckMix {
    pub classes: Vec<StepClass>,
    pub steps: f64,
    pub provable_steps: f64,
    /// Steps proved with one unit proof (`proveSpotCheckMatVec`).
    pub matvec_steps: f64,
    /// Matrix-vector steps of every kind, provable or not (layer matrices and `LOGITS`).
    pub all_matvec_steps: f64,
    /// Sum over provable steps of their proof transaction's gas.
    pub provable_gas_sum: f64,
}

impl SpotCheckMix {
    /// Share of the trace an honest node cannot prove on-chain.
    pub fn unprovable_share(&self) -> f64 {
        1.0 - self.provable_steps / self.steps
    }

    /// Mean proof gas of a sampled provable step.
    pub fn gas_if_provable(&self) -> f64 {
        self.provable_gas_sum / self.provable_steps
    }
}

impl CostModel {
    pub fn from_file(f: &CostsFile) -> Result<Self, String> {
        let mut r = Reader {
            f,
            assumed: Vec::new(),
        };
        let mid = |a: f64, b: f64| (a + b) / 2.0;
        let decode = mid(
            r.num("engine.decode_tok_s.low")?,
            r.num("engine.decode_tok_s.high")?,
        );
        let prefill = mid(
            r.num("engine.prefill_tok_s.low")?,
            r.num("engine.prefill_tok_s.high")?,
        );
        let gas_post_batch = pairs(r.raw("gas.post_batch")?, "gas.post_batch")?;
        let gas_step_attn = pairs(r.raw("gas.prove_step.attn")?, "gas.prove_step.attn")?;
        Ok(CostModel {
            decode_tok_s: decode,
            prefill_tok_s: prefill,
            steps_per_position: r.num("engine.trace_steps_per_position")?,
            head_steps: r.num("engine.trace_head_steps")?,
            n_layers: r.num("model.n_layers")?,
            d_model: r.num("model.d_model")?,
            d_ff: r.num("model.d_ff")?,
            q_dim: r.num("model.q_dim")?,
            kv_dim: r.num("model.kv_dim")?,
            vocab: r.num("model.vocab")?,
            sha256_bytes_per_s: r.num("crypto.sha256_bytes_per_s")?,
            attest_verify_cold_ms: r.num("attestation.verify_cold_ms")?,
            attest_verify_warm_ms: r.num("attestation.verify_warm_ms")?,
            wasm_bundle_verify_ms: r.num("attestation.wasm_bundle_verify_ms")?,
            gpu_report_ms: r.num("attestation.gpu_report_ms")?,
            node_answer_overhead_ms: r.num("node.answer_overhead_ms")?,
            node_provisional_p50_ms: r.num("node.provisional_finality_p50_ms")?,
            node_provisional_p99_ms: r.num("node.provisional_finality_p99_ms")?,
            node_throughput_ratio_fixture: r.num("node.throughput_ratio_fixture")?,
            gas_post_batch,
            gas_register_work_per_receipt: r.num("gas.register_work_per_receipt")?,
            gas_open_dispute: r.num("gas.open_dispute")?,
            gas_dispute_round: r.num("gas.dispute_round")?,
            gas_dispute_timeout: r.num("gas.dispute_timeout")?,
            gas_prove_step_onchain: r.num("gas.prove_step_onchain")?,
            gas_groth16_verify_tx: r.num("gas.groth16_verify_tx")?,
            gas_spot_check_one_call: r.num("gas.spot_check_one_call")?,
            gas_spot_check_matvec: r.num("gas.spot_check_matvec")?,
            gas_step_norm: r.num("gas.prove_step.norm")?,
            gas_step_post_norm_residual: r.num("gas.prove_step.post_norm_residual")?,
            gas_step_q_rope: r.num("gas.prove_step.q_rope")?,
            gas_step_k_rope: r.num("gas.prove_step.k_rope")?,
            gas_step_v_cache: r.num("gas.prove_step.v_cache")?,
            gas_step_act: r.num("gas.prove_step.act")?,
            gas_step_attn,
            attn_max_visible: r.num("gas.prove_step.attn_max_visible")?,
            gas_record_seed: r.num("gas.record_seed")?,
            gas_report_missed: r.num("gas.report_missed")?,
            zk_prove_unit_s: r.num("zk.prove_unit_s")?,
            zk_unit_rows: r.num("zk.unit_rows")?,
            zk_unit_cols: r.num("zk.unit_cols")?,
            zk_verify_wasm_ms: r.num("zk.verify_wasm_ms")?,
            eth_usd: r.num("market.eth_usd")?,
            machine_usd_per_hour: r.num("market.machine_usd_per_hour")?,
            capital_cost_per_year: r.num("market.capital_cost_per_year")?,
            assumed: r.assumed,
        })
    }

    pub fn embedded() -> Self {
        Self::from_file(&CostsFile::parse(EMBEDDED).expect("embedded costs parse"))
            .expect("embedded costs complete")
    }

    pub fn load(path: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        Self::from_file(&CostsFile::parse(&text)?)
    }

    /// Gas of postBatch with `headers` headers: piecewise linear through the measured points
    /// (extrapolated linearly from the last two beyond them).
    pub fn post_batch_gas(&self, headers: f64) -> f64 {
        if headers <= 0.0 {
            return 0.0;
        }
        interpolate(&self.gas_post_batch, headers).max(0.0)
    }

    /// Engine time of one query (prefill + decode) on the measured engine, seconds.
    pub fn engine_time_s(&self, prompt: f64, completion: f64) -> f64 {
        prompt / self.prefill_tok_s + completion / self.decode_tok_s
    }

    /// Trace steps of one query: every fed position gets the layer steps, every sampled position
    /// the head steps (the last completion token is sampled but not fed back).
    pub fn trace_steps(&self, prompt: f64, completion: f64) -> f64 {
        (prompt + completion - 1.0) * self.steps_per_position + completion * self.head_steps
    }

    /// Bytes the engine hashes into the trace per fed position and per sampled position, from
    /// the leaf formats (engine/README.md "Trace": wide values i64, Act16 i16 plus exponent).
    pub fn trace_bytes(&self) -> (f64, f64) {
        let wide = |n: f64| 8.0 * n;
        let act = |n: f64| 4.0 + 2.0 * n;
        let (d, f, q, kv) = (self.d_model, self.d_ff, self.q_dim, self.kv_dim);
        let layer = act(d) // ATTN_NORM
            + wide(q) + wide(kv) + wide(kv) // Q K V
            + wide(q) + wide(kv) + wide(kv) // Q_ROPE K_ROPE V_CACHE
            + act(q) // ATTN (input of O)
            + wide(d) + wide(d) // O RESID_ATTN
            + act(d) // FFN_NORM
            + wide(f) + wide(f) + act(f) // GATE UP ACT
            + wide(d) + wide(d); // DOWN RESID_FFN
        let per_position = wide(d) + self.n_layers * layer;
        let per_sampled = act(d) + wide(self.vocab) + 4.0;
        (per_position, per_sampled)
    }

    /// Seconds of trace hashing in one query (included in the measured engine throughput).
    pub fn trace_hash_s(&self, prompt: f64, completion: f64) -> f64 {
        let (pp, ps) = self.trace_bytes();
        ((prompt + completion - 1.0) * pp + completion * ps) / self.sha256_bytes_per_s
    }

    /// Gas of the one-call spot check (`proveSpotCheck`) of an operator whose dispute
    /// one-step proof (`proveStep`) costs `prove_step`: both call the same `verifyStep` with the
    /// same witness and open the same trace leaves; their fixed parts differ (the spot check
    /// checks the receipt's inclusion and selection, the dispute its game state and payout), by
    /// the measured pair of the residual add (`proveSpotCheck` - `proveStep`).
    pub fn spot_check_one_call_gas(&self, prove_step: f64) -> f64 {
        prove_step + self.gas_spot_check_one_call - self.gas_prove_step_onchain
    }

    /// Gas of `ATTN`'s `proveStep` with `visible` positions, through the measured points;
    /// `None` past the most positions measured to fit a transaction.
    pub fn attn_step_gas(&self, visible: f64) -> Option<f64> {
        (visible <= self.attn_max_visible).then(|| interpolate(&self.gas_step_attn, visible))
    }

    /// The trace of one query of Gemma 3 270M's shape, by operator class, with what a spot check
    /// of each class costs on-chain (contracts/src/SpotChecks.sol): the sampled step is uniform
    /// over the trace (`keccak256(seed, receiptHash, 1) mod trace_steps`).
    ///
    /// - `Q K V O GATE UP DOWN`: `proveSpotCheckMatVec`, one unit of R rows drawn by the seed;
    ///   every shape is priced at the measured `DOWN` transaction.
    /// - Norms, post-norm residuals, `Q_ROPE`, `K_ROPE`, `V_CACHE`, `ACT`, and `ATTN` with at
    ///   most `attn_max_visible` visible positions: `proveSpotCheck`, priced from each
    ///   operator's measured `proveStep` ([`Self::spot_check_one_call_gas`]). Position `i`
    ///   (0-based) attends over `i + 1` positions (Gemma 3 270M's sliding window of 512 is
    ///   longer than any provable attention step, so local and global layers agree here).
    /// - Not provable: `EMBED`, `SAMPLE`, `LOGITS` (its output does not fit a transaction) and
    ///   `ATTN` past `attn_max_visible` positions (over the transaction gas cap).
    pub fn spot_check_mix(&self, prompt: f64, completion: f64) -> SpotCheckMix {
        let fed = (prompt + completion - 1.0).max(0.0);
        let sampled = completion;
        let l = self.n_layers;
        let one = |g: f64| self.spot_check_one_call_gas(g);
        let mut attn_ok = 0.0;
        let mut attn_gas = 0.0;
        for i in 0..fed as u64 {
            if let Some(g) = self.attn_step_gas((i + 1) as f64) {
                attn_ok += l;
                attn_gas += l * one(g);
            }
        }
        let cls = |name, steps: f64, gas_each: Option<f64>, matvec| StepClass {
            name,
            steps,
            gas_sum: gas_each.map_or(0.0, |g| g * steps),
            provable: gas_each.is_some(),
            matvec,
        };
        let classes = vec![
            cls(
                "Q K V O GATE UP DOWN",
                fed * l * 7.0,
                Some(self.gas_spot_check_matvec),
                true,
            ),
            cls(
                "ATTN_NORM FFN_NORM",
                fed * l * 2.0,
                Some(one(self.gas_step_norm)),
                false,
            ),
            cls(
                "RESID_ATTN RESID_FFN",
                fed * l * 2.0,
                Some(one(self.gas_step_post_norm_residual)),
                false,
            ),
            cls("Q_ROPE", fed * l, Some(one(self.gas_step_q_rope)), false),
            cls("K_ROPE", fed * l, Some(one(self.gas_step_k_rope)), false),
            cls("V_CACHE", fed * l, Some(one(self.gas_step_v_cache)), false),
            cls("ACT", fed * l, Some(one(self.gas_step_act)), false),
            StepClass {
                name: "ATTN (provable length)",
                steps: attn_ok,
                gas_sum: attn_gas,
                provable: true,
                matvec: false,
            },
            cls("FINAL_NORM", sampled, Some(one(self.gas_step_norm)), false),
            cls("ATTN (too long)", fed * l - attn_ok, None, false),
            cls("EMBED", fed, None, false),
            cls("LOGITS", sampled, None, false),
            cls("SAMPLE", sampled, None, false),
        ];
        let sum = |f: &dyn Fn(&StepClass) -> bool| -> f64 {
            classes.iter().filter(|c| f(c)).map(|c| c.steps).sum()
        };
        let steps = sum(&|_| true);
        let provable_steps = sum(&|c| c.provable);
        let matvec_steps = sum(&|c| c.matvec);
        let provable_gas_sum = classes.iter().map(|c| c.gas_sum).sum();
        SpotCheckMix {
            steps,
            provable_steps,
            matvec_steps,
            all_matvec_steps: matvec_steps + sampled,
            provable_gas_sum,
            classes,
        }
    }

    /// Proving work of one sampled provable step, in measured-unit equivalents, on average
    /// over the provable steps of a query. The node proves one unit of R rows at a sampled
    /// matrix-vector step (`proveSpotCheckMatVec`, the contracts as built) and nothing at the
    /// other provable steps (recomputed on-chain from the opened leaves). `whole_step`: every
    /// row of the sampled matrix step instead (not built; scaled by multiply-accumulates
    /// relative to the measured unit).
    pub fn units_per_provable_step(&self, prompt: f64, completion: f64, whole_step: bool) -> f64 {
        let mix = self.spot_check_mix(prompt, completion);
        if whole_step {
            let unit_macs = self.zk_unit_rows * self.zk_unit_cols;
            let (d, f, q, kv) = (self.d_model, self.d_ff, self.q_dim, self.kv_dim);
            let layer_units: f64 = [q * d, kv * d, kv * d, d * q, f * d, f * d, d * f]
                .iter()
                .map(|m| m / unit_macs)
                .sum();
            (mix.matvec_steps / 7.0) * layer_units / mix.provable_steps
        } else {
            mix.matvec_steps / mix.provable_steps
        }
    }

    /// Proving units of the costliest provable step (the bound a proof window must cover).
    pub fn max_units_per_step(&self, whole_step: bool) -> f64 {
        if whole_step {
            let unit_macs = self.zk_unit_rows * self.zk_unit_cols;
            self.d_ff * self.d_model / unit_macs
        } else {
            1.0
        }
    }

    pub fn gas_usd(&self, gas: f64, gwei: f64) -> f64 {
        gas * gwei * 1e-9 * self.eth_usd
    }

    pub fn machine_usd(&self, seconds: f64) -> f64 {
        seconds / 3600.0 * self.machine_usd_per_hour
    }

    /// A line naming every assumed figure, for outputs.
    pub fn assumed_line(&self) -> String {
        let v: Vec<String> = self
            .assumed
            .iter()
            .map(|a| format!("{} = {} {}", a.name, a.value, a.unit))
            .collect();
        format!("ASSUMED (not measured by this project): {}", v.join("; "))
    }
}
