//! Native timing of a full stapled light-client inclusion check on real anvil data
//! (`fixtures/light-client/anvil-basic`): a 64-header chain (proven block 1 up to the
//! checkpoint, block 64), the account proof and the 4 storage proofs of one batch.
//!
//!   cargo run -p otr-core --release --example bench_lightclient [ITERATIONS]
//!
//! Prints the median and minimum of each measurement, in microseconds.

#[path = "../tests/support/anvil_fixture.rs"]
mod anvil_fixture;

use std::hint::black_box;
use std::time::Instant;

use anvil_fixture::AnvilFixture;
use otr_core::chain::{keccak256, verify_batch_inclusion, verify_header_chain};

fn measure(name: &str, iterations: usize, mut f: impl FnMut()) {
    for _ in 0..iterations.min(50) {
        f();
    }
    let mut t: Vec<f64> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    println!(
        "{name:<58} median {:>9.1} us   min {:>9.1} us",
        t[t.len() / 2],
        t[0]
    );
}

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("ITERATIONS"))
        .unwrap_or(2000);
    let f = AnvilFixture::load();
    let headers = &f.canonical_headers;
    let p = &f.canonical;
    let storage = f.storage_for(p, 0);
    let header_bytes: usize = headers.iter().map(Vec::len).sum();
    let proof_bytes: usize = p.account.proof.iter().map(Vec::len).sum::<usize>()
        + storage
            .iter()
            .flat_map(|s| s.proof.iter().map(Vec::len))
            .sum::<usize>();
    println!(
        "input: {} headers ({header_bytes} bytes), account proof {} nodes, {} storage proofs {} nodes ({proof_bytes} proof bytes); {iterations} iterations",
        headers.len(),
        p.account.proof.len(),
        storage.len(),
        storage.iter().map(|s| s.proof.len()).sum::<usize>(),
    );
    let claims = verify_batch_inclusion(
        &f.checkpoint,
        headers,
        &p.account,
        &storage,
        &f.contract,
        &f.layout,
        0,
    )
    .expect("the fixture verifies");
    assert_eq!(claims.confirmations, 63);

    measure(
        "full inclusion (64 headers + account + 4 storage)",
        iterations,
        || {
            black_box(
                verify_batch_inclusion(
                    &f.checkpoint,
                    black_box(headers),
                    &p.account,
                    &storage,
                    &f.contract,
                    &f.layout,
                    0,
                )
                .unwrap(),
            );
        },
    );
    measure(
        "  header chain only (64 decodes + hashes)",
        iterations,
        || {
            black_box(verify_header_chain(&f.checkpoint.block_hash, black_box(headers)).unwrap());
        },
    );
    let state_root = otr_core::chain::EthHeader::decode(&headers[0], 0)
        .unwrap()
        .state_root;
    measure("  account proof only", iterations, || {
        black_box(p.account.verify(&state_root, &f.contract).unwrap());
    });
    measure("  4 storage proofs only", iterations, || {
        for (i, s) in storage.iter().enumerate() {
            black_box(s.verify(&p.account.storage_hash, i).unwrap());
        }
    });
    measure("  keccak-256 of the 64 headers alone", iterations, || {
        for h in headers {
            black_box(keccak256(black_box(h)));
        }
    });
}
