//! `AttnStepVerifier`'s claim (docs/PROTOCOL.md §10, "Attention by refutation"): an `ATTN`
//! step past the verifier's proof limit, settled by a claim of its sums part by part and the refutation of one part,
//! at Gemma 3 270M size (4 heads and 1 kv head of 256, a global layer) and 256 to 512 visible
//! positions. Gas rows: `cargo test -p otr-contracts --test contracts attn_claim_gas --
//! --nocapture`.

use crate::act::{gemma_270m_config, model_entry};
use crate::attn::limits;
use crate::common::*;
use otr_contracts::deploy::{
    attn_claim, attn_claim_decode, attn_part, attn_part_decode, attn_refutation_witness,
    AttnLimits, StepClaim,
};
use otr_contracts::proofs::Trace;
use otr_engine::fixed::Act16;
use otr_engine::model::attn_parts::{
    claimed_maxima, decode_state, encode_state, output, AttnInputs, AttnShape, HeadSums,
};
use otr_engine::model::trace::{layer_op, leaf, StepKey};
use otr_engine::{tables, Config};
use sha2::{Digest, Sha256};

/// The layer of the steps: 6, global (`global_every` 6), every earlier position visible.
const STAGE: u16 = 6;

fn shape(cfg: &Config) -> AttnShape {
    AttnShape {
        heads: cfg.n_heads,
        kv_heads: cfg.n_kv_heads,
        head_dim: cfg.head_dim,
    }
}

fn bytes(v: &[Act16]) -> Vec<u8> {
    v.iter().flat_map(Act16::bytes).collect()
}

/// Inputs of real magnitudes (Act16 exponents -20..-10, values -15): keys drawn at random, so
/// that scores differ and the largest is somewhere.
fn inputs(cfg: &Config, ctx: usize, seed: u64) -> AttnInputs {
    let mut r = otr_engine::rng::SplitMix(seed);
    let sh = shape(cfg);
    let mut act = |exp: Option<i32>| {
        let e = exp.unwrap_or(-10 - (r.next() % 11) as i32);
        Act16 {
            q: (0..sh.head_dim).map(|_| (r.next() >> 52) as i16).collect(),
            exp: e,
        }
    };
    AttnInputs {
        shape: sh,
        q: (0..sh.heads).map(|_| act(None)).collect(),
        ks: (0..ctx * sh.kv_heads).map(|_| act(Some(-14))).collect(),
        vs: (0..ctx * sh.kv_heads).map(|_| act(Some(-15))).collect(),
    }
}

/// A disputed `ATTN` step at the last of `ctx` positions: the trace (real layout, fillers
/// elsewhere) with the inputs' leaves and an `ATTN` leaf of `out`; the dispute played down to
/// that leaf.
struct Game {
    w: World,
    id: u64,
    trace: Trace,
    /// Indices of `Q_ROPE`, then each position's `K_ROPE`, then each one's `V_CACHE`.
    at: Vec<u64>,
    ctx: usize,
}

fn game(cfg: &Config, x: &AttnInputs, out: &[u8], l: AttnLimits) -> Game {
    game_at(cfg, x, out, l, STAGE, 0)
}

/// [`game`] at layer `stage`, the visible positions starting at `lo` (a local layer's window).
fn game_at(cfg: &Config, x: &AttnInputs, out: &[u8], l: AttnLimits, stage: u16, lo: usize) -> Game {
    let ctx = x.positions();
    let pos = (lo + ctx) as u32 - 1;
    let k = |pos, op| StepKey { pos, stage, op };
    let kv = x.shape.kv_heads;
    let mut given = vec![leaf(
        k(pos, layer_op::Q_ROPE),
        &Sha256::digest(bytes(&x.q)).into(),
    )];
    for j in 0..ctx {
        given.push(leaf(
            k((lo + j) as u32, layer_op::K_ROPE),
            &Sha256::digest(bytes(&x.ks[j * kv..(j + 1) * kv])).into(),
        ));
    }
    for j in 0..ctx {
        given.push(leaf(
            k((lo + j) as u32, layer_op::V_CACHE),
            &Sha256::digest(bytes(&x.vs[j * kv..(j + 1) * kv])).into(),
        ));
    }
    given.push(leaf(k(pos, layer_op::ATTN), &Sha256::digest(out).into()));
    let (trace, at) = in_layout(&given, pos + 1, cfg.n_layers as u16);
    assert_eq!(at.last(), Some(&(trace.len() - 1)), "the ATTN leaf is last");
    let theirs = last_leaf_changed(&trace);
    let mut w = World::new();
    let reg = w.d.registry;
    w.owner_send(
        reg,
        &otr_contracts::bindings::model_registry::ModelRegistry::registerModelCall {
            modelId: MODEL_ID.into(),
            m: model_entry(cfg, [0x77; 32]),
            vks: vec![],
        },
    );
    w.d.set_attn_verifier(&mut w.chain, MODEL_ID, tables::exp2_table_digest(), l)
        .unwrap();
    let mut r = receipt(&trace, 1, 10, [0x77; 32], T0);
    r.prompt_tokens = pos + 1;
    let p = w.post_receipts(vec![r]);
    let id = w.dispute_first(&p);
    w.bisect_to_one_step(id, &trace, &theirs);
    Game {
        w,
        id,
        trace,
        at,
        ctx,
    }
}

impl Game {
    fn claim(&mut self, claim: Vec<u8>) -> Result<u64, otr_contracts::CallError> {
        let q = self.at[0];
        self.w
            .d
            .claim_step(
                &mut self.w.chain,
                self.w.node,
                self.id,
                &self.trace,
                &[q],
                claim,
            )
            .map(|o| o.gas_used)
    }

    fn claimed(&mut self) -> StepClaim {
        self.w
            .d
            .step_claimed(&mut self.w.chain, self.id)
            .unwrap()
            .expect("a claim")
    }

    /// The challenger's refutation of the revealed part `part` with the true inputs `x`.
    fn refute(
        &mut self,
        x: &AttnInputs,
        chunk: usize,
        part: u64,
        revealed: &[u8],
    ) -> Result<u64, otr_contracts::CallError> {
        let r = x.part_range(part as usize, chunk);
        let mut idx: Vec<u64> = r.clone().map(|j| self.at[1 + j]).collect();
        idx.extend(r.map(|j| self.at[1 + self.ctx + j]));
        let (q, ks, vs) = x.part_bytes(part as usize, chunk);
        let wit = attn_refutation_witness(&q, &ks, &vs, &tables::exp2_table_bytes());
        let c = self.claimed();
        self.w
            .d
            .refute_step_opened(
                &mut self.w.chain,
                self.w.challenger,
                self.id,
                &c,
                revealed,
                &self.trace,
                &idx,
                wit,
            )
            .map(|o| o.gas_used)
    }

    fn phase(&mut self) -> u8 {
        self.w.d.dispute(&mut self.w.chain, self.id).unwrap().phase
    }
}

fn encoded(states: &[Vec<HeadSums>]) -> Vec<Vec<u8>> {
    states.iter().map(|s| encode_state(s)).collect()
}

/// The challenger's choice: the first part whose digest is not that of its own state,
/// recomputed from the true inputs with the claim's maxima.
fn first_wrong_part(claim: &[u8], x: &AttnInputs, chunk: usize) -> Option<u64> {
    let (_, last, digests) = attn_claim_decode(claim)?;
    let me = claimed_maxima(&decode_state(&last, x.shape)?);
    let own = x.states_with(chunk, &me);
    digests
        .iter()
        .zip(&own)
        .position(|(d, s)| *d != <[u8; 32]>::from(Sha256::digest(encode_state(s))))
        .map(|p| p as u64)
}

/// Plays the claim moves of a node whose states are `states` against a challenger with the
/// true inputs `x`: the node claims, the challenger names its first wrong part (or `part` when
/// it finds none), the node reveals it, the challenger refutes. Returns the gas of each move
/// and whether the refutation was accepted.
fn play(
    g: &mut Game,
    cfg: &Config,
    x: &AttnInputs,
    states: &[Vec<u8>],
    chunk: usize,
    part: u64,
) -> ([u64; 4], bool) {
    let claim = attn_claim(cfg.canonical().as_bytes(), states);
    let g_claim = g.claim(claim.clone()).unwrap();
    let named = first_wrong_part(&claim, x, chunk).unwrap_or(part);
    let c = g.claimed();
    let g_name =
        g.w.d
            .name_part(&mut g.w.chain, g.w.challenger, g.id, &c, named)
            .unwrap()
            .gas_used;
    let revealed = attn_part(states, named).unwrap();
    let g_reveal =
        g.w.d
            .reveal_part(&mut g.w.chain, g.w.node, g.id, &c, &revealed)
            .unwrap()
            .gas_used;
    match g.refute(x, chunk, named, &revealed) {
        Ok(gas) => ([g_claim, g_name, g_reveal, gas], true),
        Err(e) => {
            assert!(e.is("NotRefuted"), "{e}");
            ([g_claim, g_name, g_reveal, 0], false)
        }
    }
}

#[test]
fn an_honest_long_attention_claim_stands_and_a_wrong_one_is_refuted() {
    let cfg = gemma_270m_config();
    let l = limits(&cfg);
    let chunk = l.chunk as usize;
    assert_eq!((l.max_visible, chunk), (90, 45));
    let x = inputs(&cfg, 200, 41);
    let honest = x.states(chunk);
    let out = output(honest.last().unwrap()).bytes();

    // Honest: every part the challenger may name follows from the one before.
    for part in [0u64, 2, 4] {
        let mut g = game(&cfg, &x, &out, l);
        let (_, refuted) = play(&mut g, &cfg, &x, &encoded(&honest), chunk, part);
        assert!(!refuted, "part {part}");
        assert_eq!(g.phase(), 2, "the challenger is to move");
    }

    // A node that changed one value of position 150 (its V_CACHE leaf is the true one): the
    // output differs, and so does every state from part 3 on.
    let mut y = x.clone();
    y.vs[150].q[7] = y.vs[150].q[7].wrapping_add(900);
    let cheat = y.states(chunk);
    let wrong = output(cheat.last().unwrap()).bytes();
    assert_ne!(wrong, out);
    let mut g = game(&cfg, &x, &wrong, l);
    let claim = attn_claim(cfg.canonical().as_bytes(), &encoded(&cheat));
    assert_eq!(first_wrong_part(&claim, &x, chunk), Some(3));
    let (_, refuted) = play(&mut g, &cfg, &x, &encoded(&cheat), chunk, 0);
    assert!(refuted);
    assert_eq!(g.phase(), 4, "the challenger won");

    // A node that claims a larger maximum for head 1 (by 40: every weight rounds to 0) and sums
    // with it: its states' running maximum is not the one it claims, and part 0 shows it.
    let mut me = x.maxima();
    me[1].0 += 40 << 32;
    let mut lie = x.states_with(chunk, &me);
    for s in &mut lie {
        s[1].max = me[1].0;
    }
    let wrong = output(lie.last().unwrap()).bytes();
    assert_ne!(wrong, out);
    let mut g = game(&cfg, &x, &wrong, l);
    let claim = attn_claim(cfg.canonical().as_bytes(), &encoded(&lie));
    assert_eq!(first_wrong_part(&claim, &x, chunk), Some(0));
    let (_, refuted) = play(&mut g, &cfg, &x, &encoded(&lie), chunk, 0);
    assert!(refuted);
    assert_eq!(g.phase(), 4);
}

/// A local layer (sliding window): the visible positions start past 0, and the parts count from
/// the window's first position.
#[test]
fn a_local_layers_claim_counts_parts_from_its_window() {
    let mut cfg = gemma_270m_config();
    cfg.sliding_window = 64;
    let stage = 1u16;
    assert!(!cfg.is_global(stage as usize - 1));
    let l = limits(&cfg);
    let chunk = l.chunk as usize;
    // Position 99 sees 36..=99: 64 positions, parts of 45 and 19.
    let (lo, cnt) = (36usize, 64usize);
    let x = inputs(&cfg, cnt, 53);
    let honest = x.states(chunk);
    assert_eq!(honest.len(), 2);
    let out = output(honest.last().unwrap()).bytes();
    for part in [0u64, 1] {
        let mut g = game_at(&cfg, &x, &out, l, stage, lo);
        let (_, refuted) = play(&mut g, &cfg, &x, &encoded(&honest), chunk, part);
        assert!(!refuted, "part {part}");
    }
    // Values misread at window position 50 (absolute 86): part 1 refuted.
    let mut y = x.clone();
    for v in &mut y.vs[50].q {
        *v = v.saturating_neg();
    }
    let cheat = y.states(chunk);
    let wrong = output(cheat.last().unwrap()).bytes();
    let mut g = game_at(&cfg, &x, &wrong, l, stage, lo);
    let claim = attn_claim(cfg.canonical().as_bytes(), &encoded(&cheat));
    assert_eq!(first_wrong_part(&claim, &x, chunk), Some(1));
    let (_, refuted) = play(&mut g, &cfg, &x, &encoded(&cheat), chunk, 0);
    assert!(refuted);
    assert_eq!(g.phase(), 4);
}

#[test]
fn malformed_attention_claims_and_parts_are_refused() {
    let cfg = gemma_270m_config();
    let l = limits(&cfg);
    let chunk = l.chunk as usize;
    let x = inputs(&cfg, 100, 43);
    let honest = encoded(&x.states(chunk));
    let out = output(&decode_state(honest.last().unwrap(), x.shape).unwrap()).bytes();
    let config = cfg.canonical();
    let mut g = game(&cfg, &x, &out, l);
    // One part too few; a last state that is not the last digest's; another output.
    let e = g.claim(attn_claim(config.as_bytes(), &honest[1..])).fails();
    assert!(e.is("WrongParts"), "{e}");
    let mut bad = honest.clone();
    let n = bad.len();
    bad[n - 1][27] ^= 0x40;
    let c = attn_claim(config.as_bytes(), &bad);
    let (_, last, digests) = attn_claim_decode(&c).unwrap();
    assert_eq!(<[u8; 32]>::from(Sha256::digest(&last)), digests[n - 1]);
    let e = g.claim(c).fails();
    assert!(e.is("ClaimMismatch"), "{e}");
    // The last state swapped for the one before: another output.
    let mut v = honest.clone();
    v[n - 1] = v[n - 2].clone();
    let e = g.claim(attn_claim(config.as_bytes(), &v)).fails();
    assert!(e.is("ClaimMismatch"), "{e}");
    // Another config: not the registered one.
    let mut other = cfg.clone();
    other.global_every = 1;
    let e = g
        .claim(attn_claim(other.canonical().as_bytes(), &honest))
        .fails();
    assert!(e.is("ConfigMismatch"), "{e}");
    // The honest claim; a part revealed with the wrong states is refused.
    g.claim(attn_claim(config.as_bytes(), &honest)).unwrap();
    let c = g.claimed();
    g.w.d
        .name_part(&mut g.w.chain, g.w.challenger, g.id, &c, 1)
        .unwrap();
    for wrong in [
        attn_part(&honest, 0).unwrap(),
        attn_part(&honest, 2).unwrap(),
    ] {
        let e =
            g.w.d
                .reveal_part(&mut g.w.chain, g.w.node, g.id, &c, &wrong)
                .fails();
        assert!(e.is("StateLength") || e.is("StateMismatch"), "{e}");
    }
    let right = attn_part(&honest, 1).unwrap();
    assert_eq!(
        attn_part_decode(&right).unwrap(),
        (honest[0].clone(), honest[1].clone())
    );
    g.w.d
        .reveal_part(&mut g.w.chain, g.w.node, g.id, &c, &right)
        .unwrap();
    // The refutation must open the named part's own keys and values: another part's are refused.
    let e = g.refute(&x, chunk, 0, &right).fails();
    assert!(e.is("NotRefuted"), "{e}");
    let e = g.refute(&x, chunk, 1, &right).fails();
    assert!(e.is("NotRefuted"), "{e}");
}

/// Gas of the claim moves at Gemma 3 270M size, a global layer, 256 and 1,024 visible positions
/// (parts of 45: 6 and 23), the node cheating at one position of a whole part (the refutation
/// opens 45 positions' keys and values), and at the last part's (a shorter one). Prints table
/// rows for docs/BENCHMARKS.md.
#[test]
fn attn_claim_gas() {
    let cfg = gemma_270m_config();
    let l = limits(&cfg);
    let chunk = l.chunk as usize;
    for (ctx, at) in [(256usize, 100usize), (256, 254), (1024, 500)] {
        let x = inputs(&cfg, ctx, 47);
        let mut y = x.clone();
        for v in &mut y.vs[at].q {
            *v = v.saturating_neg();
        }
        let cheat = encoded(&y.states(chunk));
        let wrong = output(&decode_state(cheat.last().unwrap(), x.shape).unwrap()).bytes();
        let mut g = game(&cfg, &x, &wrong, l);
        let ([c, n, r, f], refuted) = play(&mut g, &cfg, &x, &cheat, chunk, 0);
        assert!(refuted);
        let parts = ctx.div_ceil(chunk);
        let len = chunk.min(ctx - at / chunk * chunk);
        println!(
            "| `ATTN` by refutation, Gemma 3 270M size, {ctx} visible positions ({parts} parts of {chunk}), part {} refuted ({len} positions, {} leaves opened): `claimStep` / `namePart` / `revealPart` / `refuteStep` | {c} / {n} / {r} / {f} |",
            at / chunk,
            2 * len
        );
    }
}
