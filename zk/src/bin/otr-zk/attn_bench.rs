//! `otr-zk bench-attn`: one attention unit (one query head over `P` positions,
//! `zk/src/circuit/attn.rs`), proven on this machine. The query, keys and values are
//! `Act16::from_wide` of random wide values of a few units, as the engine's heads are; the
//! scale is `1/sqrt(head_dim)` as the model's config computes it. Proving cost does not depend
//! on the values. The key is the insecure public-seed initial key
//! (`attn::initial_key_insecure`: setup cost only, not for use).

use std::time::Instant;

use otr_engine::fixed::{isqrt_u128, Act16};
use otr_zk::attn::{
    attn_constraint_count, initial_key_insecure, prove_attn_unit, verify_attn_unit, AttnShape,
};
use otr_zk::prove::prepared_vk;
use otr_zk::ZkError;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

#[derive(clap::Args)]
pub struct Args {
    /// Values per head (Gemma 3 270M: 256).
    #[arg(long, default_value_t = 256)]
    head_dim: usize,
    /// Visible positions P (comma-separated list to measure several).
    #[arg(long, default_value = "8")]
    positions: String,
    /// Proofs per shape (the median is reported).
    #[arg(long, default_value_t = 3)]
    proofs: usize,
    /// Only count constraints (no key, no proof).
    #[arg(long)]
    count_only: bool,
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `Act16::from_wide` of `d` wide values uniform in `[-range, range)` (units of 2^32).
fn head(rng: &mut ChaCha20Rng, d: usize, range: i64) -> Act16 {
    let w: Vec<i64> = (0..d)
        .map(|_| ((rng.next_u64() >> 1) as i64 % ((2 * range) << 32)) - (range << 32))
        .collect();
    Act16::from_wide(&w)
}

pub fn run(a: Args) -> Result<(), ZkError> {
    let d = a.head_dim;
    let scale = isqrt_u128((1u128 << 64) / d.max(1) as u128) as i64;
    println!(
        "| head_dim | P | constraints | key generation | prove (median of {}) | verify |",
        a.proofs
    );
    println!("|---|---|---|---|---|---|");
    for p in a.positions.split(',') {
        let p: usize = p
            .trim()
            .parse()
            .map_err(|_| ZkError::Shape(format!("bad --positions {p:?}")))?;
        let shape = AttnShape::new(d, p)?;
        let t = Instant::now();
        let constraints = attn_constraint_count(shape)?;
        if a.count_only {
            println!(
                "| {d} | {p} | {constraints} (counted in {:.1} s) | | | |",
                secs(t)
            );
            continue;
        }
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let q = head(&mut rng, d, 4);
        let keys: Vec<Act16> = (0..p).map(|_| head(&mut rng, d, 4)).collect();
        let values: Vec<Act16> = (0..p).map(|_| head(&mut rng, d, 2)).collect();
        let t = Instant::now();
        let pk = initial_key_insecure(shape)?;
        let setup_s = secs(t);
        let vk = prepared_vk(&pk)?;
        let mut prove_s = Vec::new();
        let mut verify_ms = Vec::new();
        for k in 0..a.proofs.max(1) {
            let t = Instant::now();
            let proof = prove_attn_unit(
                &pk,
                &q,
                &keys,
                &values,
                scale,
                &mut ChaCha20Rng::seed_from_u64(1000 + k as u64),
            )?;
            prove_s.push(secs(t));
            let t = Instant::now();
            verify_attn_unit(&vk, &proof.statement, &proof.proof)?;
            verify_ms.push(secs(t) * 1e3);
        }
        println!(
            "| {d} | {p} | {constraints} | {setup_s:.1} s | {:.2} s | {:.1} ms |",
            median(prove_s),
            median(verify_ms)
        );
    }
    Ok(())
}
