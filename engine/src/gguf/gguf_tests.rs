use super::writer::GgufWriter;
use super::*;
use crate::error::EngineError;

fn small() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.kv("general.architecture", Value::Str("llama".into()))
        .kv("x.list", Value::Array(vec![Value::U32(1), Value::U32(2)]));
    let vals: Vec<f64> = (0..64).map(|i| i as f64 / 8.0 - 4.0).collect();
    w.tensor("t", &[32, 2], GgmlType::F32, &vals);
    w.finish()
}

#[test]
fn parses_what_the_writer_writes() {
    let b = small();
    let g = Gguf::parse(&b).unwrap();
    assert_eq!(g.str("general.architecture").unwrap(), "llama");
    assert_eq!(g.tensors.len(), 1);
    assert_eq!(g.tensors[0].rows_cols(), (2, 32));
    assert_eq!(g.tensors[0].len, 256);
}

#[test]
fn every_truncation_fails_cleanly() {
    let b = small();
    for n in 0..b.len() - 1 {
        // Truncations inside the data are reported too (the tensor runs past the end).
        match Gguf::parse(&b[..n]) {
            Err(EngineError::GgufFormat { offset, .. }) => assert!(offset <= b.len() as u64),
            Err(e) => panic!("unexpected error at {n}: {e}"),
            Ok(_) => panic!("truncation to {n} bytes parsed"),
        }
    }
}

#[test]
fn hostile_counts_hit_limits() {
    let mut b = small();
    b[8..16].copy_from_slice(&u64::MAX.to_le_bytes()); // tensor count
    assert_eq!(Gguf::parse(&b).unwrap_err().code(), "GGUF_LIMIT");
    let mut b = small();
    b[4] = 2; // version
    assert_eq!(Gguf::parse(&b).unwrap_err().code(), "GGUF_FORMAT");
    let mut b = small();
    // First key length: huge.
    b[24..32].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert_eq!(Gguf::parse(&b).unwrap_err().code(), "GGUF_LIMIT");
}

#[test]
fn random_corruption_never_panics() {
    let b = small();
    let mut r = crate::rng::SplitMix(99);
    for _ in 0..3000 {
        let mut c = b.clone();
        for _ in 0..1 + r.next() % 4 {
            let i = (r.next() % c.len() as u64) as usize;
            c[i] = r.next() as u8;
        }
        let _ = Gguf::parse(&c);
    }
}

#[test]
fn block_formats_roundtrip_through_writer_and_decoder() {
    let mut r = crate::rng::SplitMix(5);
    let vals: Vec<f64> = (0..512).map(|_| r.unit() * 0.5).collect();
    for (t, tol) in [
        (GgmlType::F32, 1e-7),
        (GgmlType::F16, 1e-3),
        (GgmlType::Q8_0, 0.01),
        (GgmlType::Q5_0, 0.04),
        (GgmlType::Q4K, 0.08),
        (GgmlType::Q6K, 0.03),
    ] {
        let mut bytes = Vec::new();
        writer::encode_row(t, &vals, &mut bytes);
        let (be, bb) = t.block();
        assert_eq!(bytes.len() as u64, 512 / be * bb, "{t:?}");
        let mut out = vec![0.0; 512];
        blocks::decode_row(t, &bytes, &mut out);
        for (a, b) in vals.iter().zip(&out) {
            assert!((a - b).abs() < tol, "{t:?}: {a} vs {b}");
        }
    }
}

#[test]
fn f16_conversion() {
    use super::f16::{f16_to_f64, f64_to_f16};
    assert_eq!(f16_to_f64(0x3c00), 1.0);
    assert_eq!(f16_to_f64(0xc000), -2.0);
    assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
    assert_eq!(f16_to_f64(0x7bff), 65504.0);
    for h in [0x3c00u16, 0x1234, 0x8001, 0x7bff, 0x0400] {
        assert_eq!(f64_to_f16(f16_to_f64(h)), h);
    }
}

#[test]
fn a_hostile_layer_count_fails_on_the_missing_tensor_without_reserving_for_it() {
    // fixtures/fuzz-regressions/gguf/layer_count_reserve.bin: block_count 3,080,193 in a file
    // with one layer's tensors (it once reserved 2.4 GB before failing).
    let b = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/fuzz-regressions/gguf/layer_count_reserve.bin"
    ))
    .unwrap();
    let opts = crate::LoadOptions {
        threads: 1,
        kernel: crate::Kernel::Scalar,
        verbose: false,
    };
    match crate::Model::from_gguf_bytes(&b, opts) {
        Err(e) => assert_eq!(e.code(), "MODEL_TENSOR_SHAPE", "{e}"),
        Ok(_) => panic!("a model with 3 million layers and one layer's tensors was accepted"),
    }
}
