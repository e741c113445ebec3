//! The model: loading (GGUF -> int8 cache -> weights root), generation and step replay.

pub mod attn_parts;
pub mod config;
pub mod forward;
pub mod ops;
pub mod replay;
pub mod sampling;
#[cfg(target_arch = "x86_64")]
pub mod sha256x16;
pub mod trace;

use crate::convert;
use crate::error::EngineError;
use crate::gguf::Gguf;
use crate::kernels::{Exec, Kernel};
use crate::tokenizer::Tokenizer;
use crate::weights::{weights_root, QMatrix, Tensor};
pub use config::{Arch, Config};
pub use sampling::Sampling;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One transformer block's weights.
#[derive(Debug)]
pub struct Layer {
    pub attn_norm: Vec<i32>,
    pub wq: QMatrix,
    pub wk: QMatrix,
    pub wv: QMatrix,
    pub wo: QMatrix,
    pub q_norm: Option<Vec<i32>>,
    pub k_norm: Option<Vec<i32>>,
    pub post_attn_norm: Option<Vec<i32>>,
    pub ffn_norm: Vec<i32>,
    pub gate: QMatrix,
    pub up: QMatrix,
    pub down: QMatrix,
    pub post_ffn_norm: Option<Vec<i32>>,
}

/// What a loaded model is.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    pub arch: Arch,
    pub config: Config,
    /// Merkle root over the converted tensors ([`crate::weights::weights_root`]).
    pub weights_root: [u8; 32],
    /// [`Tokenizer::hash`].
    pub tokenizer_hash: [u8; 32],
    /// SHA-256 of the source GGUF file.
    pub gguf_sha256: [u8; 32],
    /// The converted-model cache file.
    pub cache_path: PathBuf,
}

/// A loaded model, ready to generate.
#[derive(Debug)]
pub struct Model {
    pub(crate) cfg: Config,
    pub(crate) tok: Tokenizer,
    pub(crate) embd: QMatrix,
    pub(crate) output: Option<QMatrix>,
    pub(crate) output_norm: Vec<i32>,
    pub(crate) layers: Vec<Layer>,
    pub(crate) exec: Exec,
    info: ModelInfo,
    /// Every tensor's name and SHA-256 of its canonical bytes, in byte-wise name order: the
    /// leaves of the weights tree ([`crate::weights::weights_root`]).
    weight_digests: NamedDigests,
    /// Leaf hashes of the embedding-row tree, on first use ([`Model::embed_rows_root`]).
    embed_hashes: std::sync::OnceLock<Vec<[u8; 32]>>,
    /// Leaf hashes of a separate `output.weight`'s rows ([`Model::head_rows_root`]).
    output_hashes: std::sync::OnceLock<Vec<[u8; 32]>>,
    /// Every matrix's name, rows and row-tree root, in byte-wise name order
    /// ([`Model::matrix_rows_root`]), on first use.
    matrix_roots: std::sync::OnceLock<Vec<(String, u32, [u8; 32])>>,
}

/// Tensor names with the SHA-256 of their canonical bytes.
type NamedDigests = Vec<(String, [u8; 32])>;

/// One norm weight vector opened against the weights root (a one-step proof's witness).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormOpening {
    /// The tensor's canonical bytes ([`Tensor::canonical_bytes`] of a `Tensor::Norm`).
    pub canonical: Vec<u8>,
    /// Its leaf index in the weights tree and the tree's size.
    pub index: u64,
    pub size: u64,
    /// RFC 6962 audit path (nearest the leaf first).
    pub path: Vec<[u8; 32]>,
}

/// Domain tag of a RoPE table row (a leaf of [`Model::rope_roots`]).
pub const ROPE_ROW_TAG: &[u8] = b"OTR/rope-row/v1\0";

/// Domain tag of an embedding-row leaf (see [`Model::embed_rows_root`]).
pub const EMBED_ROW_TAG: &[u8] = b"OTR/embed-row/v1\0";

/// Domain tag of a matrix's leaf in the matrix-rows tree (see [`Model::matrix_rows_root`]).
pub const MATRIX_ROWS_TAG: &[u8] = b"OTR/matrix-rows/v1\0";

/// One row of a named matrix opened in two levels: the row in its matrix's row tree, and that
/// tree's root (with the matrix's name and rows) in the matrix-rows tree
/// ([`Model::matrix_rows_root`]). The witness of a matrix step's refutation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixRowOpening {
    /// The row, its index (leaf index) in the matrix's row tree (size = the matrix's rows) and
    /// its audit path.
    pub row: EmbedRowOpening,
    /// The matrix's row-tree root.
    pub rows_root: [u8; 32],
    /// The matrix's leaf index in the matrix-rows tree, the tree's size and the audit path.
    pub index: u64,
    pub size: u64,
    pub path: Vec<[u8; 32]>,
}

/// One row of the token embedding opened against the embedding-row root (the witness of an
/// `EMBED` step).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbedRowOpening {
    /// The leaf after its tag and row index: `u32le(rm) || i32le(re) || block scales || quants`.
    pub row: Vec<u8>,
    /// Leaf index (= the token id) and the tree's size (= the vocabulary).
    pub index: u64,
    pub size: u64,
    pub path: Vec<[u8; 32]>,
}

/// One RoPE table row opened against its table root (a one-step proof's witness).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RopeOpening {
    /// `head_dim / 2` pairs `(i32le cos, i32le sin)` of one position.
    pub row: Vec<u8>,
    /// Leaf index (= the position) and the table's size (= `context_len`).
    pub index: u64,
    pub size: u64,
    /// RFC 6962 audit path (nearest the leaf first).
    pub path: Vec<[u8; 32]>,
}

/// Load options.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    /// Worker threads for matrix products (results are identical for any count).
    pub threads: usize,
    pub kernel: Kernel,
    /// Print the weights root (and conversion progress) on stderr.
    pub verbose: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: Kernel::best(),
            verbose: true,
        }
    }
}

impl Model {
    /// Loads a GGUF file, converting it once into `cache_dir/<gguf-sha256>.otrm`, and prints
    /// the weights root on stderr.
    pub fn load(path: &Path, cache_dir: &Path) -> Result<Model, EngineError> {
        Self::load_with(path, cache_dir, LoadOptions::default())
    }

    pub fn load_with(
        path: &Path,
        cache_dir: &Path,
        opts: LoadOptions,
    ) -> Result<Model, EngineError> {
        let bytes = std::fs::read(path).map_err(|e| EngineError::io(path, e))?;
        let gguf_sha256: [u8; 32] = Sha256::digest(&bytes).into();
        let g = Gguf::parse(&bytes)?;
        let cfg = Config::from_gguf(&g)?;
        let tok = Tokenizer::from_gguf(&g)?;
        let cache_path = cache_dir.join(format!("{}.otrm", hex::encode(gguf_sha256)));
        // The GGUF bytes are not needed once parsed unless the cache must be (re)built: drop
        // them before reading the cache to keep peak memory down.
        drop(bytes);
        let cached = match convert::cache::read(&cache_path, &gguf_sha256) {
            Ok(c) => c,
            Err(e) => {
                if opts.verbose {
                    eprintln!("otr-engine: {e}; converting again");
                }
                None
            }
        };
        let tensors: Vec<(String, Tensor, [u8; 32])> = match cached {
            Some(t) => t,
            None => {
                if opts.verbose {
                    eprintln!(
                        "otr-engine: converting {} to the int8 format (one time) -> {}",
                        path.display(),
                        cache_path.display()
                    );
                }
                let bytes = std::fs::read(path).map_err(|e| EngineError::io(path, e))?;
                let sha: [u8; 32] = Sha256::digest(&bytes).into();
                if sha != gguf_sha256 {
                    return Err(EngineError::io(path, "the file changed while loading"));
                }
                let conv = convert::convert_all(&bytes, &g)?;
                drop(bytes);
                convert::cache::write(&cache_path, &gguf_sha256, &conv)?;
                conv.into_iter()
                    .map(|(n, t)| {
                        let d = crate::weights::tensor_digest(&t);
                        (n, t, d)
                    })
                    .collect()
            }
        };
        let digests: Vec<(String, [u8; 32])> =
            tensors.iter().map(|(n, _, d)| (n.clone(), *d)).collect();
        let root = weights_root(&digests);
        let map: BTreeMap<String, Tensor> = tensors.into_iter().map(|(n, t, _)| (n, t)).collect();
        let map = (map, digests);
        let info = ModelInfo {
            arch: cfg.arch,
            config: cfg.clone(),
            weights_root: root,
            tokenizer_hash: tok.hash(),
            gguf_sha256,
            cache_path,
        };
        if opts.verbose {
            eprintln!(
                "otr-engine: loaded {} ({} layers, d_model {}), weights root {}",
                cfg.arch.name(),
                cfg.n_layers,
                cfg.d_model,
                hex::encode(root)
            );
        }
        Self::assemble(cfg, tok, map, Exec::new(opts.kernel, opts.threads), info)
    }

    /// Loads a GGUF file held in memory, converting it without a disk cache (for targets
    /// without a file system, such as wasm32). The weights root and every result equal those
    /// of [`Model::load_with`] on the same bytes. `opts.verbose` is ignored (nothing printed).
    pub fn from_gguf_bytes(bytes: &[u8], opts: LoadOptions) -> Result<Model, EngineError> {
        let gguf_sha256: [u8; 32] = Sha256::digest(bytes).into();
        let g = Gguf::parse(bytes)?;
        let cfg = Config::from_gguf(&g)?;
        let tok = Tokenizer::from_gguf(&g)?;
        let conv = convert::convert_all_quiet(bytes, &g)?;
        let digests: Vec<(String, [u8; 32])> = conv
            .iter()
            .map(|(n, t)| (n.clone(), crate::weights::tensor_digest(t)))
            .collect();
        let root = weights_root(&digests);
        let map: BTreeMap<String, Tensor> = conv.into_iter().collect();
        let map = (map, digests);
        let info = ModelInfo {
            arch: cfg.arch,
            config: cfg.clone(),
            weights_root: root,
            tokenizer_hash: tok.hash(),
            gguf_sha256,
            cache_path: PathBuf::new(),
        };
        Self::assemble(cfg, tok, map, Exec::new(opts.kernel, opts.threads), info)
    }

    fn assemble(
        cfg: Config,
        tok: Tokenizer,
        map: (BTreeMap<String, Tensor>, NamedDigests),
        exec: Exec,
        info: ModelInfo,
    ) -> Result<Model, EngineError> {
        let (mut map, mut weight_digests) = map;
        weight_digests.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let d = cfg.d_model;
        let (qd, kd) = (cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim);
        // Seven matrices per layer: `n_layers` from the file's metadata cannot reserve more.
        let max_layers = map.len() / 7;
        let mut mat = |name: &str, rows: usize, cols: usize| -> Result<QMatrix, EngineError> {
            match map.remove(name) {
                Some(Tensor::Matrix(m)) if m.rows == rows && m.cols == cols => Ok(m),
                Some(Tensor::Matrix(m)) => Err(EngineError::shape(
                    name,
                    format!("{}x{}, expected {rows}x{cols}", m.rows, m.cols),
                )),
                _ => Err(EngineError::shape(name, "missing matrix")),
            }
        };
        let embd = mat("token_embd.weight", cfg.vocab, d)?;
        let output = if cfg.separate_output {
            Some(mat("output.weight", cfg.vocab, d)?)
        } else {
            None
        };
        let mut layers = Vec::with_capacity(cfg.n_layers.min(max_layers));
        for l in 0..cfg.n_layers {
            let p = format!("blk.{l}.");
            layers.push((
                mat(&format!("{p}attn_q.weight"), qd, d)?,
                mat(&format!("{p}attn_k.weight"), kd, d)?,
                mat(&format!("{p}attn_v.weight"), kd, d)?,
                mat(&format!("{p}attn_output.weight"), d, qd)?,
                mat(&format!("{p}ffn_gate.weight"), cfg.ffn_dim, d)?,
                mat(&format!("{p}ffn_up.weight"), cfg.ffn_dim, d)?,
                mat(&format!("{p}ffn_down.weight"), d, cfg.ffn_dim)?,
            ));
        }
        let mut norm =
            |name: &str, n: usize, required: bool| -> Result<Option<Vec<i32>>, EngineError> {
                match map.remove(name) {
                    Some(Tensor::Norm(v)) if v.len() == n => Ok(Some(v)),
                    Some(_) => Err(EngineError::shape(
                        name,
                        format!("expected a vector of {n}"),
                    )),
                    None if required => Err(EngineError::shape(name, "missing norm vector")),
                    None => Ok(None),
                }
            };
        let gemma = cfg.arch == Arch::Gemma3;
        let output_norm = norm("output_norm.weight", d, true)?.unwrap_or_default();
        let mut built = Vec::with_capacity(layers.len());
        for (l, (wq, wk, wv, wo, gate, up, down)) in layers.into_iter().enumerate() {
            let p = format!("blk.{l}.");
            built.push(Layer {
                attn_norm: norm(&format!("{p}attn_norm.weight"), d, true)?.unwrap_or_default(),
                q_norm: norm(&format!("{p}attn_q_norm.weight"), cfg.head_dim, gemma)?,
                k_norm: norm(&format!("{p}attn_k_norm.weight"), cfg.head_dim, gemma)?,
                post_attn_norm: norm(&format!("{p}post_attention_norm.weight"), d, gemma)?,
                ffn_norm: norm(&format!("{p}ffn_norm.weight"), d, true)?.unwrap_or_default(),
                post_ffn_norm: norm(&format!("{p}post_ffw_norm.weight"), d, gemma)?,
                wq,
                wk,
                wv,
                wo,
                gate,
                up,
                down,
            });
        }
        Ok(Model {
            cfg,
            tok,
            embd,
            output,
            output_norm,
            layers: built,
            exec,
            info,
            weight_digests,
            embed_hashes: Default::default(),
            output_hashes: Default::default(),
            matrix_roots: Default::default(),
        })
    }

    /// The norm weight vector named `name` (GGUF tensor name, e.g. `blk.0.attn_norm.weight`,
    /// `output_norm.weight`), or `None` when the model has no such norm.
    pub fn norm_weights(&self, name: &str) -> Option<&[i32]> {
        if name == "output_norm.weight" {
            return Some(&self.output_norm);
        }
        let rest = name.strip_prefix("blk.")?;
        let (l, what) = rest.split_once('.')?;
        if l.is_empty() || (l.len() > 1 && l.starts_with('0')) {
            return None;
        }
        let ly = self.layers.get(l.parse::<usize>().ok()?)?;
        match what {
            "attn_norm.weight" => Some(&ly.attn_norm),
            "ffn_norm.weight" => Some(&ly.ffn_norm),
            "attn_q_norm.weight" => ly.q_norm.as_deref(),
            "attn_k_norm.weight" => ly.k_norm.as_deref(),
            "post_attention_norm.weight" => ly.post_attn_norm.as_deref(),
            "post_ffw_norm.weight" => ly.post_ffn_norm.as_deref(),
            _ => None,
        }
    }

    /// The gated activation's table (GELU-tanh for Gemma 3, SiLU for Llama) as canonical
    /// bytes ([`crate::tables::InterpTable::canonical_bytes`]): what the on-chain activation
    /// verifier is given whole.
    pub fn act_table_bytes(&self) -> Vec<u8> {
        self.act_table().canonical_bytes()
    }

    /// The commitment of the activation table the on-chain activation verifier is deployed
    /// with ([`crate::tables::InterpTable::digest`]).
    pub fn act_table_digest(&self) -> [u8; 32] {
        self.act_table().digest()
    }

    /// Whether any layer has a QK-norm vector.
    pub fn has_qk_norm(&self) -> bool {
        self.layers
            .iter()
            .any(|l| l.q_norm.is_some() || l.k_norm.is_some())
    }

    /// The leaves of the RoPE table of the global (`true`) or local layers' base: for each
    /// position `0..context_len`, `"OTR/rope-row/v1\0" || u32be(pos) || (i32le cos, i32le sin)`
    /// for each of the `head_dim / 2` frequencies, exactly the entries [`Model::rope_at`] gives.
    fn rope_leaves(&self, global: bool) -> Vec<Vec<u8>> {
        let base = if global {
            self.cfg.rope_base_global
        } else {
            self.cfg.rope_base_local
        };
        let f = crate::tables::rope_inv_freq(base, self.cfg.head_dim);
        // On the thread pool, a block of positions per work item (same leaves for any count).
        let n = self.cfg.context_len;
        let block = 256;
        self.exec
            .map(n.div_ceil(block), |b| {
                (b * block..((b + 1) * block).min(n))
                    .map(|p| {
                        let p = p as u32;
                        let mut l = ROPE_ROW_TAG.to_vec();
                        l.extend_from_slice(&p.to_be_bytes());
                        for (c, s) in crate::tables::rope_cos_sin(p, &f) {
                            l.extend_from_slice(&c.to_le_bytes());
                            l.extend_from_slice(&s.to_le_bytes());
                        }
                        l
                    })
                    .collect::<Vec<_>>()
            })
            .into_iter()
            .flatten()
            .collect()
    }

    /// The embedding row `r` as committed: `u32le(rm) || i32le(re) || cols/BLOCK block scales
    /// (u8) || cols quants (i8)` (engine `ops::embed_row` reads exactly these).
    fn embed_row_body(&self, r: usize) -> Vec<u8> {
        row_body(&self.embd, r)
    }

    /// RFC 6962 root over the rows of the matrix the head's `LOGITS` multiply by: the token
    /// embedding's ([`Model::embed_rows_root`]) for a tied head, else `output.weight`'s, leaves
    /// in the same form. What the on-chain `LOGITS` refutation opens one row against.
    pub fn head_rows_root(&self) -> [u8; 32] {
        otr_core::rollup::merkle::root_of_leaf_hashes(self.head_row_hashes())
    }

    /// Row `r` of the head's matrix opened against [`Model::head_rows_root`].
    pub fn head_row_opening(&self, r: u32) -> Option<EmbedRowOpening> {
        let Some(w) = self.output.as_ref() else {
            return self.embed_row_opening(r);
        };
        let p =
            otr_core::rollup::merkle::prove_leaf_hashes(self.head_row_hashes(), r as u64).ok()?;
        Some(EmbedRowOpening {
            row: row_body(w, r as usize),
            index: p.leaf_index,
            size: p.tree_size,
            path: p.path,
        })
    }

    fn head_row_hashes(&self) -> &[[u8; 32]] {
        match self.output.as_ref() {
            None => self.embed_row_hashes(),
            Some(w) => self.output_hashes.get_or_init(|| self.row_hashes(w)),
        }
    }

    /// Leaf hashes of `m`'s rows, leaf `r` = `"OTR/embed-row/v1\0" || u32be(r) || row_body(r)`.
    fn row_hashes(&self, m: &crate::weights::QMatrix) -> Vec<[u8; 32]> {
        let n = m.rows;
        let block = 1024;
        self.exec
            .map(n.div_ceil(block), |b| {
                (b * block..((b + 1) * block).min(n))
                    .map(|r| {
                        let mut l = EMBED_ROW_TAG.to_vec();
                        l.extend_from_slice(&(r as u32).to_be_bytes());
                        l.extend_from_slice(&row_body(m, r));
                        otr_core::rollup::merkle::leaf_hash(&l)
                    })
                    .collect::<Vec<_>>()
            })
            .into_iter()
            .flatten()
            .collect()
    }
    /// RFC 6962 leaf hashes of the embedding rows, leaf `r` =
    /// `"OTR/embed-row/v1\0" || u32be(r) || embed_row_body(r)`; computed once.
    fn embed_row_hashes(&self) -> &[[u8; 32]] {
        self.embed_hashes
            .get_or_init(|| self.row_hashes(&self.embd))
    }

    /// RFC 6962 root over the token embedding's rows (one leaf per vocabulary id): what the
    /// on-chain `EMBED` verifier opens a row against. The weights root commits the embedding
    /// only whole; this root commits the same quants row by row (anyone can recompute it from
    /// the weights).
    pub fn embed_rows_root(&self) -> [u8; 32] {
        otr_core::rollup::merkle::root_of_leaf_hashes(self.embed_row_hashes())
    }

    /// The embedding row of `token` opened against [`Model::embed_rows_root`].
    pub fn embed_row_opening(&self, token: u32) -> Option<EmbedRowOpening> {
        let p = otr_core::rollup::merkle::prove_leaf_hashes(self.embed_row_hashes(), token as u64)
            .ok()?;
        Some(EmbedRowOpening {
            row: self.embed_row_body(token as usize),
            index: p.leaf_index,
            size: p.tree_size,
            path: p.path,
        })
    }

    /// Every matrix of the model by converted-weights name (`blk.{l}.attn_q.weight` ...,
    /// `token_embd.weight`, `output.weight` when separate), in byte-wise name order.
    fn named_matrices(&self) -> Vec<(String, &crate::weights::QMatrix)> {
        let mut v: Vec<(String, &crate::weights::QMatrix)> =
            vec![("token_embd.weight".into(), &self.embd)];
        if let Some(w) = self.output.as_ref() {
            v.push(("output.weight".into(), w));
        }
        for (l, ly) in self.layers.iter().enumerate() {
            for (t, m) in [
                ("attn_q", &ly.wq),
                ("attn_k", &ly.wk),
                ("attn_v", &ly.wv),
                ("attn_output", &ly.wo),
                ("ffn_gate", &ly.gate),
                ("ffn_up", &ly.up),
                ("ffn_down", &ly.down),
            ] {
                v.push((format!("blk.{l}.{t}.weight"), m));
            }
        }
        v.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        v
    }

    /// The leaf hashes of the named matrix's rows (the embedding's and `output.weight`'s
    /// cached, a layer's computed).
    fn matrix_row_hashes(
        &self,
        name: &str,
        m: &crate::weights::QMatrix,
    ) -> std::borrow::Cow<'_, [[u8; 32]]> {
        match name {
            "token_embd.weight" => self.embed_row_hashes().into(),
            "output.weight" => self.head_row_hashes().into(),
            _ => self.row_hashes(m).into(),
        }
    }

    fn matrix_roots(&self) -> &[(String, u32, [u8; 32])] {
        self.matrix_roots.get_or_init(|| {
            self.named_matrices()
                .into_iter()
                .map(|(n, m)| {
                    let h = otr_core::rollup::merkle::root_of_leaf_hashes(
                        &self.matrix_row_hashes(&n, m),
                    );
                    (n, m.rows as u32, h)
                })
                .collect()
        })
    }

    fn matrix_leaves(&self) -> Vec<Vec<u8>> {
        self.matrix_roots()
            .iter()
            .map(|(n, rows, root)| matrix_rows_leaf(n, *rows, root))
            .collect()
    }

    /// RFC 6962 root over every matrix of the model (byte-wise name order), leaf
    /// `"OTR/matrix-rows/v1\0" || u16be(len(name)) || name || u32be(rows) || rows_root`, where
    /// `rows_root` is the RFC 6962 root over the matrix's rows in the embedding rows' leaf form
    /// (`"OTR/embed-row/v1\0" || u32be(r) || u32le(rm) || i32le(re) || block scales || quants`).
    /// What the on-chain refutation of a layer's matrix step opens one row against; anyone can
    /// recompute it from the weights (the weights root commits the same quants whole).
    pub fn matrix_rows_root(&self) -> [u8; 32] {
        otr_core::rollup::merkle::root(&self.matrix_leaves())
    }

    /// Row `r` of matrix `name` opened against [`Model::matrix_rows_root`]; `None` for no such
    /// matrix or row.
    pub fn matrix_row_opening(&self, name: &str, r: u32) -> Option<MatrixRowOpening> {
        let all = self.named_matrices();
        let index = all.iter().position(|(n, _)| n == name)?;
        let m = all[index].1;
        let hashes = self.matrix_row_hashes(name, m);
        let p = otr_core::rollup::merkle::prove_leaf_hashes(&hashes, r as u64).ok()?;
        let rows_root = otr_core::rollup::merkle::root_of_leaf_hashes(&hashes);
        let q = otr_core::rollup::merkle::prove(&self.matrix_leaves(), index as u64).ok()?;
        Some(MatrixRowOpening {
            row: EmbedRowOpening {
                row: row_body(m, r as usize),
                index: p.leaf_index,
                size: p.tree_size,
                path: p.path,
            },
            rows_root,
            index: q.leaf_index,
            size: q.tree_size,
            path: q.path,
        })
    }

    /// RFC 6962 roots of the RoPE tables `[global layers, local layers]` (see
    /// [`Model::rope_leaves`]): what the on-chain QK-norm + RoPE verifier opens rows against.
    /// Without local layers (`global_every = 0`) both are the global table's root.
    pub fn rope_roots(&self) -> [[u8; 32]; 2] {
        let global = otr_core::rollup::merkle::root(&self.rope_leaves(true));
        if self.cfg.global_every == 0 {
            return [global, global];
        }
        [
            global,
            otr_core::rollup::merkle::root(&self.rope_leaves(false)),
        ]
    }

    /// The RoPE row of position `pos` for layer `layer`, opened against its table root; `None`
    /// past the context or the layers.
    pub fn rope_opening(&self, layer: usize, pos: u32) -> Option<RopeOpening> {
        if layer >= self.cfg.n_layers {
            return None;
        }
        let leaves = self.rope_leaves(self.cfg.is_global(layer));
        let p = otr_core::rollup::merkle::prove(&leaves, pos as u64).ok()?;
        let row = leaves[pos as usize][ROPE_ROW_TAG.len() + 4..].to_vec();
        Some(RopeOpening {
            row,
            index: p.leaf_index,
            size: p.tree_size,
            path: p.path,
        })
    }

    /// Opens the norm weight vector `name` against the weights root: its canonical bytes and
    /// its RFC 6962 audit path in the weights tree. `None` when the model has no such norm.
    pub fn norm_opening(&self, name: &str) -> Option<NormOpening> {
        let v = self.norm_weights(name)?;
        let canonical = Tensor::Norm(v.to_vec()).canonical_bytes();
        let index = self.weight_digests.iter().position(|(n, _)| n == name)?;
        let leaves: Vec<Vec<u8>> = self
            .weight_digests
            .iter()
            .map(|(n, d)| crate::weights::weights_leaf(n, d))
            .collect();
        let p = otr_core::rollup::merkle::prove(&leaves, index as u64).ok()?;
        Some(NormOpening {
            canonical,
            index: p.leaf_index,
            size: p.tree_size,
            path: p.path,
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tok
    }

    /// Changes the kernel and thread count (results do not change).
    pub fn set_exec(&mut self, kernel: Kernel, threads: usize) {
        self.exec = Exec::new(kernel, threads);
    }

    /// Worker threads used by matrix products.
    pub fn exec_threads(&self) -> usize {
        self.exec.threads()
    }

    /// The dot-product kernel in use.
    pub fn exec_kernel(&self) -> Kernel {
        self.exec.kernel
    }

    /// The token ids that end a generation: EOS and, for Gemma, `<end_of_turn>`.
    pub fn stop_tokens(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.tok.eos.into_iter().collect();
        if let Some(t) = self.tok.token_id("<end_of_turn>") {
            v.push(t);
        }
        v
    }
}

/// Row `r` of `m` as committed: `u32le(rm) || i32le(re) || cols/BLOCK block scales (u8) || cols
/// quants (i8)`.
/// A matrix's leaf in the matrix-rows tree ([`Model::matrix_rows_root`]).
pub fn matrix_rows_leaf(name: &str, rows: u32, rows_root: &[u8; 32]) -> Vec<u8> {
    let mut l = MATRIX_ROWS_TAG.to_vec();
    l.extend_from_slice(&(name.len() as u16).to_be_bytes());
    l.extend_from_slice(name.as_bytes());
    l.extend_from_slice(&rows.to_be_bytes());
    l.extend_from_slice(rows_root);
    l
}

fn row_body(m: &crate::weights::QMatrix, r: usize) -> Vec<u8> {
    let nb = m.cols / crate::weights::BLOCK;
    let mut l = Vec::with_capacity(8 + nb + m.cols);
    l.extend_from_slice(&m.rm[r].to_le_bytes());
    l.extend_from_slice(&m.re[r].to_le_bytes());
    l.extend_from_slice(&m.bscale[r * nb..(r + 1) * nb]);
    l.extend(m.q[r * m.cols..(r + 1) * m.cols].iter().map(|&q| q as u8));
    l
}
