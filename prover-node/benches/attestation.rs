//! Benchmark: full verification of NVIDIA sample set A1 (report, 5-certificate chain, driver and
//! VBIOS RIMs, 7 stapled OCSP answers), cold and warm. Prints one JSON object; the numbers are
//! turned into docs/BENCHMARKS.md by scripts/bench-attestation.sh, next to `openssl speed` and
//! NVIDIA's Python verifier measured in the same run.
//!
//! cold: a fresh verifier, every signature checked (what a browser pays on first sight).
//! warm: the shared artifacts (intermediates, manifests, OCSP answers) already verified and
//!       cached by content hash; the report signature is checked afresh every time, as for a new
//!       report from the same GPU. Time-dependent checks run every time in both.

use std::cell::Cell;
use std::path::Path;
use std::time::Instant;

use otr_core::attestation::gpu::{verify_gpu, GpuEvidence};
use otr_core::attestation::policy::OcspFreshnessPolicy;
use otr_core::attestation::{Policy, TrustAnchors};
use otr_core::crypto::{CachingVerifier, HashAlg, RustCrypto, SigFailure, SignatureVerifier};
use otr_core::encoding::{hex_decode_lenient, pem_certificates};
use otr_core::UnixTime;
use otr_node::native_crypto::OpensslVerifier;

struct Counting<'a, V> {
    inner: &'a V,
    n: Cell<u32>,
}

impl<V: SignatureVerifier> SignatureVerifier for Counting<'_, V> {
    fn verify_p384(&self, h: HashAlg, k: &[u8], m: &[u8], s: &[u8]) -> Result<(), SigFailure> {
        self.n.set(self.n.get() + 1);
        let r = self.inner.verify_p384(h, k, m, s);
        if std::env::var("BENCH_TRACE").is_ok() {
            eprintln!(
                "verify key={} msg_len={} msg_sha={} {:?}",
                hex::encode(&k[1..6]),
                m.len(),
                hex::encode(&otr_core::crypto::sha256(m)[..4]),
                r
            );
        }
        r
    }
}

/// Checks signatures over `fresh` with the inner verifier every time (a new report), the rest
/// through the cache.
struct NewReport<'a, V: ?Sized> {
    cache: &'a CachingVerifier<&'a V>,
    inner: &'a V,
    fresh: &'a [u8],
}

impl<V: SignatureVerifier + ?Sized> SignatureVerifier for NewReport<'_, V> {
    fn verify_p384(&self, h: HashAlg, k: &[u8], m: &[u8], s: &[u8]) -> Result<(), SigFailure> {
        if m == self.fresh {
            self.inner.verify_p384(h, k, m, s)
        } else {
            self.cache.verify_p384(h, k, m, s)
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let s = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/nvidia-samples");
    if !s.join("INDEX.md").exists() {
        eprintln!(
            "NVIDIA samples not found at {}; nothing to measure",
            s.display()
        );
        std::process::exit(2);
    }
    let read = |p: &str| std::fs::read(s.join(p)).unwrap();
    let report = hex_decode_lenient(&read("nvtrust/hopperAttestationReport.txt")).unwrap();
    let chain = pem_certificates(&read("nvtrust/hopperCertChain.txt")).unwrap();
    let rims = vec![
        read("go-nvattest-tools/rim/NV_GPU_DRIVER_GH100_550.90.07.xml"),
        read("go-nvattest-tools/rim/NV_GPU_VBIOS_1010_0200_882_96009F0001.xml"),
    ];
    let mut ocsp: Vec<Vec<u8>> = std::fs::read_dir(s.join("go-nvattest-tools/ocsp"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    ocsp.sort();
    let nonce: [u8; 32] =
        hex::decode("931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb")
            .unwrap()
            .try_into()
            .unwrap();
    let ev = GpuEvidence {
        report: &report,
        chain: &chain,
        rims: &rims,
        ocsp: &ocsp,
    };
    let time = UnixTime::parse_rfc3339("2025-06-01T00:00:00Z").unwrap();
    let policy = Policy {
        ocsp_freshness: OcspFreshnessPolicy::AtProducedAt,
        ..Policy::default()
    };
    let anchors = TrustAnchors::nvidia();
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(30);

    // How many ECDSA P-384 verifications a cold check performs.
    let counting = Counting {
        inner: &RustCrypto,
        n: Cell::new(0),
    };
    let claims = verify_gpu(&ev, Some(&nonce), time, &policy, &anchors, &counting)
        .expect("A1 verifies")
        .claims;
    let ecdsa_count = counting.n.get();

    let p = otr_core::attestation::SpdmReport::parse(&report).unwrap();
    let fresh = &report[..p.signed_len];
    let leaf = otr_core::x509::Certificate::from_der(&chain[0]).unwrap();
    let run = |v: &dyn SignatureVerifier| {
        // Cold: a fresh verifier each time (trust anchors parsed once, as a host does at start-up).
        let mut cold = Vec::new();
        for _ in 0..iters {
            let t = Instant::now();
            std::hint::black_box(
                verify_gpu(&ev, Some(&nonce), time, &policy, &anchors, v).unwrap(),
            );
            cold.push(t.elapsed().as_secs_f64() * 1e3);
        }
        // Warm: prime the cache once, then the report signature is checked afresh each time.
        let cache = CachingVerifier::new(v, 4096);
        verify_gpu(&ev, Some(&nonce), time, &policy, &anchors, &cache).unwrap();
        let nr = NewReport {
            cache: &cache,
            inner: v,
            fresh,
        };
        let mut warm = Vec::new();
        for _ in 0..iters * 4 {
            let t = Instant::now();
            std::hint::black_box(
                verify_gpu(&ev, Some(&nonce), time, &policy, &anchors, &nr).unwrap(),
            );
            warm.push(t.elapsed().as_secs_f64() * 1e3);
        }
        // One P-384 verification alone.
        let mut one = Vec::new();
        for _ in 0..iters * 4 {
            let t = Instant::now();
            v.verify_p384(
                HashAlg::Sha384,
                leaf.public_key_p384().unwrap(),
                fresh,
                &p.response.signature,
            )
            .unwrap();
            one.push(t.elapsed().as_secs_f64() * 1e3);
        }
        serde_json::json!({
            "cold_ms_median": median(cold),
            "warm_ms_median": median(warm),
            "one_p384_verify_ms_median": median(one),
        })
    };
    let rust = run(&RustCrypto);
    let ossl = OpensslVerifier::new();
    let openssl = run(&ossl);
    let m = claims.measurements.unwrap();
    println!(
        "{}",
        serde_json::json!({
            "iterations": iters,
            "ecdsa_p384_verifications_cold": ecdsa_count,
            "rustcrypto": rust,
            "openssl": openssl,
            "golden": m.golden, "matched": m.matched, "ocsp_answers": claims.ocsp.len(),
        })
    );
}
