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
    pub gas_groth16_verify_tx: f64,
    /// `proveSpotCheck` of a `DOWN` step (640 x 2048, R = 4, two leaves skipped): the
    /// measured spot-check transaction, an upper bound for every layer matrix shape of the
    /// model (the others commit a shorter input).
    pub gas_spot_check: f64,
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

/// One layer matrix of the model (`Q K V O GATE UP DOWN`), as the spot check sees it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MatrixClass {
    pub name: &'static str,
    /// Output rows and input columns of the matrix.
    pub rows: f64,
    pub cols: f64,
    /// Trace steps of this matrix in the query (one per fed position and layer).
    pub steps: f64,
    /// Probability that a selected receipt's spot check proves a step of this matrix: the
    /// sampled indices that land on one of its steps or on the non-matrix steps just before it,
    /// over the trace.
    pub probability: f64,
    /// Skipped leaves (opened on the way to the step), on average when this matrix is proved.
    pub mean_skipped: f64,
    /// The most leaves skipped on the way to a step of this matrix.
    pub max_skipped: f64,
}

/// What a spot check proves for one query: the contract samples `s` uniformly over the trace
/// and the node proves the first layer matrix step at or after `s` (wrapping), one unit.
#[derive(Clone, Debug, Serialize)]
pub struct SpotCheckSelection {
    pub classes: Vec<MatrixClass>,
    pub steps: f64,
    /// Layer matrix steps (`Q K V O GATE UP DOWN` of every layer at every fed position).
    pub matrix_steps: f64,
    /// Matrix-vector steps of every kind (layer matrices and `LOGITS`, which is never proved
    /// by a spot check).
    pub all_matvec_steps: f64,
    /// Skipped leaves per spot check, on average and at most.
    pub mean_skipped: f64,
    pub max_skipped: f64,
}

/// The 16 operators of a layer in trace order (engine/README.md, Trace); `true` for the layer
/// matrices a spot check proves.
pub const LAYER_OPS: [(&str, bool); 16] = [
    ("ATTN_NORM", false),
    ("Q", true),
    ("K", true),
    ("V", true),
    ("Q_ROPE", false),
    ("K_ROPE", false),
    ("V_CACHE", false),
    ("ATTN", false),
    ("O", true),
    ("RESID_ATTN", false),
    ("FFN_NORM", false),
    ("GATE", true),
    ("UP", true),
    ("ACT", false),
    ("DOWN", true),
    ("RESID_FFN", false),
];

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
            gas_groth16_verify_tx: r.num("gas.groth16_verify_tx")?,
            gas_spot_check: r.num("gas.spot_check")?,
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

    /// Trace steps of one query: the `PROMPT` leaf, every fed position's embedding and layer
    /// steps, every sampled position's head steps (the last completion token is sampled but not
    /// fed back); engine `trace::layout_steps`.
    pub fn trace_steps(&self, prompt: f64, completion: f64) -> f64 {
        1.0 + (prompt + completion - 1.0) * self.steps_per_position + completion * self.head_steps
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

    /// (rows, cols) of a layer matrix of Gemma 3 270M's shape.
    pub fn matrix_shape(&self, name: &str) -> Option<(f64, f64)> {
        let (d, f, q, kv) = (self.d_model, self.d_ff, self.q_dim, self.kv_dim);
        Some(match name {
            "Q" => (q, d),
            "K" | "V" => (kv, d),
            "O" => (d, q),
            "GATE" | "UP" => (f, d),
            "DOWN" => (d, f),
            _ => return None,
        })
    }

    /// Which layer matrix a spot check of one query proves (contracts/src/SpotChecks.sol,
    /// docs/PROTOCOL.md 7.8): the contract samples `s = keccak256(seed, h, 1) mod trace_steps`
    /// uniformly, and the node proves the first layer matrix step at or after `s` in trace
    /// order, wrapping to the trace's start, opening the leaves it skips. A layer matrix step is
    /// therefore proved with probability (1 + the non-matrix steps just before it, back to the
    /// previous layer matrix step) / `trace_steps`.
    ///
    /// The trace is ordered by (position, stage, operator): the `PROMPT` leaf first, then at
    /// every fed position `EMBED`, then
    /// the layers' 16 operators ([`LAYER_OPS`]), then the head (`FINAL_NORM LOGITS SAMPLE`) at
    /// the positions whose next token is sampled (the last `completion` fed positions). The
    /// first `Q` of a position follows its `ATTN_NORM` and `EMBED`, the previous position's last
    /// `RESID_FFN` and, when that position was sampled, its head; the first position's wraps to
    /// the trace's end.
    pub fn spot_check_selection(&self, prompt: f64, completion: f64) -> SpotCheckSelection {
        let fed = (prompt + completion - 1.0).max(1.0) as u64;
        let sampled = (completion.max(0.0) as u64).min(fed);
        let layers = self.n_layers as u64;
        let head = self.head_steps;
        let is_sampled = |i: u64| i + sampled >= fed;
        // Non-matrix steps before each layer matrix within a layer, and after the last one.
        let mut gap_in_layer = Vec::new();
        let mut run = 0.0;
        for (name, matrix) in LAYER_OPS {
            if matrix {
                gap_in_layer.push((name, run));
                run = 0.0;
            } else {
                run += 1.0;
            }
        }
        let tail = run; // RESID_FFN
        let first = gap_in_layer[0].1; // ATTN_NORM
        let names: Vec<&'static str> = gap_in_layer.iter().map(|(n, _)| *n).collect();
        let k = names.len();
        // Per class: steps, sum of weights w, sum of w (w - 1) / 2 (skipped leaves summed over
        // the sampled indices that land on it), largest w.
        let mut acc = vec![(0.0f64, 0.0f64, 0.0f64, 0.0f64); k];
        let mut add = |j: usize, gap: f64, n: f64| {
            let w = gap + 1.0;
            let a = &mut acc[j];
            a.0 += n;
            a.1 += n * w;
            a.2 += n * w * (w - 1.0) / 2.0;
            a.3 = a.3.max(w);
        };
        for i in 0..fed {
            let prev = (i + fed - 1) % fed;
            let prev_head = if is_sampled(prev) { head } else { 0.0 };
            for l in 0..layers {
                for (j, &(_, gap)) in gap_in_layer.iter().enumerate() {
                    let gap = if j > 0 {
                        gap
                    } else if l > 0 {
                        tail + first
                    } else if i > 0 {
                        tail + prev_head + 1.0 + first // + EMBED
                    } else {
                        tail + prev_head + 2.0 + first // + PROMPT, EMBED (wrapping)
                    };
                    add(j, gap, 1.0);
                }
            }
        }
        let steps = self.trace_steps(prompt, completion);
        let mut classes = Vec::new();
        let (mut matrix_steps, mut skipped_sum, mut max_skipped) = (0.0, 0.0, 0.0f64);
        for (j, name) in names.iter().enumerate() {
            let (n, w, sk, wmax) = acc[j];
            let (rows, cols) = self.matrix_shape(name).expect("layer matrix");
            matrix_steps += n;
            skipped_sum += sk;
            max_skipped = max_skipped.max(wmax - 1.0);
            classes.push(MatrixClass {
                name,
                rows,
                cols,
                steps: n,
                probability: w / steps,
                mean_skipped: sk / w,
                max_skipped: wmax - 1.0,
            });
        }
        SpotCheckSelection {
            classes,
            steps,
            matrix_steps,
            all_matvec_steps: matrix_steps + sampled as f64,
            mean_skipped: skipped_sum / steps,
            max_skipped,
        }
    }

    /// Proving work of one selected receipt, in measured-unit equivalents. As built: exactly one
    /// unit of R rows, whichever layer matrix the seed leads to (every spot check is one unit
    /// proof; the unit is priced at the measured `DOWN` unit, whose 2,048 columns are the most
    /// of any layer matrix). `whole_step`: every row of the proved matrix step instead (not
    /// built), scaled by multiply-accumulates relative to the measured unit and weighted by the
    /// probability that each matrix is the one proved.
    pub fn units_per_selected(&self, prompt: f64, completion: f64, whole_step: bool) -> f64 {
        if !whole_step {
            return 1.0;
        }
        let sel = self.spot_check_selection(prompt, completion);
        let unit_macs = self.zk_unit_rows * self.zk_unit_cols;
        let total_p: f64 = sel.classes.iter().map(|k| k.probability).sum();
        sel.classes
            .iter()
            .map(|k| k.probability / total_p * k.rows * k.cols / unit_macs)
            .sum()
    }

    /// Proving units of the costliest step a spot check can prove (the bound a proof window
    /// must cover).
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
