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
        for k in [Kernel::Avx2, Kernel::Avx512, Kernel::Simd128] {
            if k.available() {
                assert_eq!(k.dot(&q, &bs, &x), want, "{k:?} case {case}");
            }
        }
    }
}

#[test]
fn extreme_values_do_not_overflow() {
    // All quants +127, the largest block scale, activations -32768: the i32 lane bound is
    // tight here (a kernel that widened too late would wrap).
    let n = 64 * BLOCK;
    let q = vec![127i8; n];
    let bs = vec![BLOCK_SCALE_MAX; 64];
    let x = vec![-32768i16; n];
    let want = -(127i64 * BLOCK_SCALE_MAX as i64 * 32768 * n as i64);
    assert_eq!(scalar::dot(&q, &bs, &x), want);
    for k in [Kernel::Avx2, Kernel::Avx512, Kernel::Simd128] {
        if k.available() {
            assert_eq!(k.dot(&q, &bs, &x), want, "{k:?}");
        }
    }
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

fn prescaled(q: &[i8], bs: &[u8]) -> Vec<i16> {
    let mut w = vec![0i16; q.len()];
    scalar::prescale(q, bs, &mut w);
    w
}

#[test]
fn tile_kernels_match_the_row_dot_product() {
    let mut r = SplitMix(99);
    for case in 0..200 {
        let blocks = 1 + (r.next() % 70) as usize;
        let extreme = case % 4 == 0;
        let rows: Vec<(Vec<i8>, Vec<u8>, Vec<i16>)> = (0..2)
            .map(|_| random_case(&mut r, blocks, extreme))
            .collect();
        let xs: Vec<Vec<i16>> = (0..4)
            .map(|_| random_case(&mut r, blocks, extreme).2)
            .collect();
        let w: Vec<Vec<i16>> = rows.iter().map(|(q, bs, _)| prescaled(q, bs)).collect();
        let x = [&xs[0][..], &xs[1][..], &xs[2][..], &xs[3][..]];
        let want: Vec<Vec<i64>> = rows
            .iter()
            .map(|(q, bs, _)| xs.iter().map(|xt| scalar::dot(q, bs, xt)).collect())
            .collect();
        for (rw, (q, bs, _)) in w.iter().zip(&rows) {
            assert_eq!(scalar::dot_pre(rw, x[0]), scalar::dot(q, bs, x[0]));
        }
        for k in [
            Kernel::Scalar,
            Kernel::Avx2,
            Kernel::Avx512,
            Kernel::Simd128,
        ] {
            if k.available() {
                let got = k.dot_tile([&w[0], &w[1]], x);
                for rr in 0..2 {
                    assert_eq!(got[rr].to_vec(), want[rr], "{k:?} case {case} row {rr}");
                }
            }
        }
    }
}

#[test]
fn tile_kernel_extreme_values_do_not_overflow() {
    // 64 blocks of +127 quants, the largest scale, activations -32768: the i32 bound is tight.
    let n = 64 * BLOCK;
    let w = prescaled(&vec![127i8; n], &[BLOCK_SCALE_MAX; 64]);
    let neg = vec![-32768i16; n];
    let pos = vec![32767i16; n];
    let want_neg = -(127i64 * BLOCK_SCALE_MAX as i64 * 32768 * n as i64);
    let want_pos = 127i64 * BLOCK_SCALE_MAX as i64 * 32767 * n as i64;
    let want = [[want_neg, want_pos, want_neg, want_pos]; 2];
    assert_eq!(scalar::dot_tile([&w, &w], [&neg, &pos, &neg, &pos]), want);
    for k in [Kernel::Avx2, Kernel::Avx512, Kernel::Simd128] {
        if k.available() {
            assert_eq!(
                k.dot_tile([&w, &w], [&neg, &pos, &neg, &pos]),
                want,
                "{k:?}"
            );
        }
    }
}

#[test]
fn matmul_of_many_tokens_equals_one_token_at_a_time() {
    let mut r = SplitMix(11);
    // 37 rows: a last partial chunk and an odd last row pair.
    let (rows, cols) = (37, 160);
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
    let xs: Vec<Act16> = (0..11)
        .map(|t| Act16 {
            q: (0..cols).map(|_| r.next() as i16).collect(),
            exp: -8 - t,
        })
        .collect();
    let one = Exec::new(Kernel::Scalar, 1);
    let want: Vec<Vec<i64>> = xs
        .iter()
        .map(|x| one.matmul(&w, std::slice::from_ref(x)).remove(0))
        .collect();
    for n in [1, 2, 3, 4, 5, 8, 11] {
        for threads in [1, 2] {
            for k in [Kernel::Scalar, Kernel::best()] {
                let got = Exec::new(k, threads).matmul(&w, &xs[..n]);
                assert_eq!(got, want[..n], "{n} tokens, {k:?} x{threads}");
            }
        }
    }
}

#[test]
fn row_output_fast_path_equals_the_general_rounding() {
    use crate::fixed::{shift_sat, W_FRAC};
    let mut r = SplitMix(5);
    let mut cases: Vec<(i64, u32, i32, i32)> = Vec::new();
    for _ in 0..200_000 {
        let bits = r.next() % 64;
        let acc = (r.next() as i64) >> (63 - bits.min(63));
        let m = (r.next() as u32) >> (r.next() % 32);
        let e = -70 + (r.next() % 80) as i32;
        let x_exp = -40 + (r.next() % 40) as i32;
        cases.push((acc, m, e, x_exp));
    }
    // Ties and boundaries: exact halves, the i64 limits, shifts of 0, 1, 62, 63.
    for k in [1i32, 2, 31, 62, 63] {
        for acc in [1i64, -1, 3, -3, 5, 1 << 20, -(1 << 20), i64::MAX, i64::MIN] {
            cases.push((acc, 1 << (k - 1).min(31), -k - W_FRAC as i32, 0));
            cases.push((acc, 3, -k - W_FRAC as i32, 0));
        }
    }
    cases.push((i64::MIN, u32::MAX, -(W_FRAC as i32) - 1, 0));
    cases.push((i64::MAX, u32::MAX, -(W_FRAC as i32), 0));
    for (acc, m, e, x_exp) in cases {
        let want = shift_sat(acc as i128 * m as i128, e + x_exp + W_FRAC as i32);
        assert_eq!(row_output(acc, m, e, x_exp), want, "{acc} {m} {e} {x_exp}");
    }
}

#[test]
fn attention_is_the_same_bits_for_every_kernel() {
    use crate::fixed::Act16;
    let mut r = SplitMix(5);
    for case in 0..60 {
        let d = 16 * (1 + (r.next() % 16) as usize);
        let n = 1 + (r.next() % 40) as usize;
        let extreme = case % 4 == 0;
        let act = |r: &mut SplitMix| Act16 {
            q: (0..d)
                .map(|_| {
                    if extreme {
                        if r.next() & 1 == 0 {
                            32767
                        } else {
                            -32767
                        }
                    } else {
                        r.next() as i16
                    }
                })
                .collect(),
            exp: (r.next() % 24) as i32 - 12,
        };
        let q = act(&mut r);
        let ks: Vec<Act16> = (0..n).map(|_| act(&mut r)).collect();
        let vs: Vec<Act16> = (0..n).map(|_| act(&mut r)).collect();
        let (kr, vr): (Vec<&Act16>, Vec<&Act16>) = (ks.iter().collect(), vs.iter().collect());
        let scale = (1i64 << 32) / 16;
        let want = crate::model::ops::attend(Kernel::Scalar, &q, &kr, &vr, scale);
        for k in [Kernel::Avx2, Kernel::Avx512, Kernel::Simd128] {
            if k.available() {
                let got = crate::model::ops::attend(k, &q, &kr, &vr, scale);
                assert_eq!(got, want, "{k:?} case {case}");
            }
        }
    }
}
