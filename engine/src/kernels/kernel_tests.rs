use super::*;
use crate::rng::SplitMix;
use crate::weights::BLOCK_SCALE_MAX;

fn random_case(r: &mut SplitMix, blocks: usize, extreme: bool) -> (Vec<i8>, Vec<u8>, Vec<i16>) {
    let n = blocks * BLOCK;
    let q = (0..n)
        .map(|_| if extreme { if r.next() & 1 == 0 { 127 } else { -127 } } else { (r.next() % 255) as i32 - 127 } as i8)
        .collect();
    let bs = (0..blocks)
        .map(|_| {
            if extreme {
                BLOCK_SCALE_MAX
            } else {
                (r.next() % (BLOCK_SCALE_MAX as u64 + 1)) as u8
            }
        })
        .collect();
    let x = (0..n)
        .map(|_| {
            if extreme {
                if r.next() & 1 == 0 {
                    32767
                } else {
                    -32768
                }
            } else {
                r.next() as i16
            }
        })
        .collect();
    (q, bs, x)
}

#[test]
fn simd_matches_scalar_on_random_inputs() {
    let mut r = SplitMix(42);
    for case in 0..400 {
        let blocks = 1 + (r.next() % 80) as usize;
        let (q, bs, x) = random_case(&mut r, blocks, case % 5 == 0);
        let want = scalar::dot(&q, &bs, &x);
        for k in [Kernel::Avx2, Kernel::Simd128] {
            if k.available() {
                assert_eq!(k.dot(&q, &bs, &x), want, "{k:?} case {case}");
            }
        }
    }
}

#[test]
fn extreme_values_do_not_overflow() {
    // All quants +127, scales 15, activations -32768: the i32 lane bound is tight here.
    let n = 64 * BLOCK;
    let q = vec![127i8; n];
    let bs = vec![BLOCK_SCALE_MAX; 64];
    let x = vec![-32768i16; n];
    let want = -(127i64 * 15 * 32768 * n as i64);
    assert_eq!(scalar::dot(&q, &bs, &x), want);
    assert_eq!(Kernel::best().dot(&q, &bs, &x), want);
}

#[test]
fn matmul_identical_for_any_thread_count_and_kernel() {
    let mut r = SplitMix(7);
    let rows = 77;
    let cols = 96;
    let (q, bs, _) = random_case(&mut r, rows * cols / BLOCK, false);
    let w = QMatrix {
        rows,
        cols,
        q,
        bscale: bs,
        rm: (0..rows)
            .map(|_| (1 << 23) + (r.next() % (1 << 23)) as u32)
            .collect(),
        re: (0..rows).map(|_| -40 + (r.next() % 10) as i32).collect(),
    };
    let xs: Vec<Act16> = (0..3)
        .map(|t| Act16 {
            q: (0..cols).map(|_| r.next() as i16).collect(),
            exp: -10 - t,
        })
        .collect();
    let base = Exec::new(Kernel::Scalar, 1).matmul(&w, &xs);
    for threads in [1, 2, 3] {
        for k in [Kernel::Scalar, Kernel::best()] {
            assert_eq!(
                Exec::new(k, threads).matmul(&w, &xs),
                base,
                "{k:?} x{threads}"
            );
        }
    }
}
