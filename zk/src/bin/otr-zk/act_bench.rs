//! `otr-zk bench-act`: one unit of the gated activation `ACT` (`E` elements of the FFN width,
//! `zk/src/circuit/act.rs`), proven on this machine. Gate and up values are random wide
//! values of about the magnitude of real ones (a few units, beyond the table sometimes):
//! proving cost does not depend on the values. The key is the insecure public-seed initial key
//! (`act::initial_key_insecure`: setup cost only, not for use).

use std::time::Instant;

use otr_zk::act::{
    act_constraint_count, initial_key_insecure, prove_act_unit, verify_act_unit, ActShape, ActTable,
};
use otr_zk::prove::prepared_vk;
use otr_zk::ZkError;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

#[derive(clap::Args)]
pub struct Args {
    /// The activation table: gelu (Gemma 3) or silu (Llama).
    #[arg(long, default_value = "gelu")]
    table: String,
    /// Vector length (Gemma 3 270M d_ff = 2048).
    #[arg(long, default_value_t = 2048)]
    len: usize,
    /// Elements per unit (comma-separated list to measure several).
    #[arg(long, default_value = "64")]
    elems: String,
    /// Proofs per unit size (the median is reported).
    #[arg(long, default_value_t = 3)]
    proofs: usize,
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(a: Args) -> Result<(), ZkError> {
    let table = ActTable::parse(&a.table)?;
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    // Uniform in [-12, 12) and [-4, 4) (units of 2^32): inside and outside the GELU range.
    let mut wide = |range: i64| {
        (0..a.len)
            .map(|_| ((rng.next_u64() >> 1) as i64 % ((2 * range) << 32)) - (range << 32))
            .collect::<Vec<i64>>()
    };
    let gate = wide(12);
    let up = wide(4);
    println!(
        "| table | E | constraints | key generation | prove (median of {}) | verify |",
        a.proofs
    );
    println!("|---|---|---|---|---|---|");
    for e in a.elems.split(',') {
        let e: usize = e
            .trim()
            .parse()
            .map_err(|_| ZkError::Shape(format!("bad --elems {e:?}")))?;
        let shape = ActShape::new(table, a.len, e)?;
        let constraints = act_constraint_count(shape)?;
        let t = Instant::now();
        let pk = initial_key_insecure(shape)?;
        let setup_s = secs(t);
        let vk = prepared_vk(&pk)?;
        let mut prove_s = Vec::new();
        let mut verify_ms = Vec::new();
        for k in 0..a.proofs.max(1) {
            let start = (k * e) % a.len;
            let t = Instant::now();
            let p = prove_act_unit(&pk, shape, &gate, &up, start, &mut rng_for(k))?;
            prove_s.push(secs(t));
            let t = Instant::now();
            verify_act_unit(&vk, &p.statement, &p.proof)?;
            verify_ms.push(secs(t) * 1e3);
        }
        println!(
            "| {} | {e} | {constraints} | {setup_s:.1} s | {:.2} s | {:.1} ms |",
            table.name(),
            median(prove_s),
            median(verify_ms)
        );
    }
    Ok(())
}

fn rng_for(k: usize) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(1000 + k as u64)
}
