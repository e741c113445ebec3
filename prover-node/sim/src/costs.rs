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
    pub gas_spot_check_proof_tx: f64,
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
        let post = r.raw("gas.post_batch")?;
        let mut gas_post_batch: Vec<(f64, f64)> = post
            .as_array()
            .ok_or("gas.post_batch: expected [[headers, gas], ...]")?
            .iter()
            .map(|p| {
                let a = p.as_array().filter(|a| a.len() == 2);
                match a.map(|a| (a[0].as_f64(), a[1].as_f64())) {
                    Some((Some(h), Some(g))) => Ok((h, g)),
                    _ => Err("gas.post_batch: expected [[headers, gas], ...]".to_string()),
                }
            })
            .collect::<Result<_, _>>()?;
        gas_post_batch.sort_by(|a, b| a.0.total_cmp(&b.0));
        if gas_post_batch.len() < 2 {
            return Err("gas.post_batch: need at least two points".into());
        }
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
            gas_spot_check_proof_tx: r.num("gas.spot_check_proof_tx")?,
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
        let p = &self.gas_post_batch;
        let mut i = 0;
        while i + 2 < p.len() && headers > p[i + 1].0 {
            i += 1;
        }
        let (a, b) = (p[i], p[i + 1]);
        (a.1 + (b.1 - a.1) * (headers - a.0) / (b.0 - a.0)).max(0.0)
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

    /// Mean proving work of one sampled step, in measured-unit equivalents, for a query.
    /// `whole_step`: the contract's spot check selects a whole trace step (every row of a
    /// matrix product); otherwise one row block (one unit) as in DESIGN principle 7.
    /// Matrix products are scaled by their multiply-accumulates relative to the measured unit;
    /// other operators cost nothing here (they have no circuit yet: see ECONOMICS.md).
    pub fn units_per_sampled_step(&self, prompt: f64, completion: f64, whole_step: bool) -> f64 {
        let unit_macs = self.zk_unit_rows * self.zk_unit_cols;
        let (d, f, q, kv) = (self.d_model, self.d_ff, self.q_dim, self.kv_dim);
        let layer_mats = [q * d, kv * d, kv * d, d * q, f * d, f * d, d * f];
        let steps = self.trace_steps(prompt, completion);
        let fed = prompt + completion - 1.0;
        if whole_step {
            let layer_units: f64 = layer_mats.iter().map(|m| m / unit_macs).sum();
            let logits_units = self.vocab * d / unit_macs;
            (fed * self.n_layers * layer_units + completion * logits_units) / steps
        } else {
            // One unit per selected matrix step, whatever its size.
            let mat_steps = fed * self.n_layers * layer_mats.len() as f64 + completion;
            mat_steps / steps
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
