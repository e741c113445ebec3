//! The registry's matrix-commitment root (`otr_node::node::zkroot`): every matrix of the
//! fixture models committed exactly as the spot-check circuit commits it, every commitment
//! opened against the root, the cache file next to the converted-model cache (used when it
//! holds the same weights root, recomputed when it is corrupt or another model's).
//! `cargo test -p otr-node --test zkroot -- --ignored --nocapture` also times Gemma 3 270M
//! (docs/BENCHMARKS.md).

use std::path::PathBuf;

use otr_core::rollup::merkle;
use otr_core::zk::groth16::scalar_to_be_bytes;
use otr_engine::weights::Tensor;
use otr_node::node::zkroot::{self, MatrixCommitments, Source};
use otr_zk::commit::MatrixTree;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("otr-zkroot-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The fixture model's engine info, with its converted-model cache copied into `dir` (so the
/// commitments' cache file is the test's own).
fn fixture_info(model: &str, dir: &std::path::Path) -> otr_engine::ModelInfo {
    let (_, path) = otr_node::node::engine_impl::resolve(model).unwrap();
    let m = otr_engine::Model::load(&path, &otr_engine::default_cache_dir()).unwrap();
    let mut info = m.info().clone();
    let copy = dir.join(info.cache_path.file_name().unwrap());
    std::fs::copy(&info.cache_path, &copy).unwrap();
    info.cache_path = copy;
    info
}

fn check_model(model: &str) {
    let dir = tmp(model);
    let info = fixture_info(model, &dir);
    let (m, src) = zkroot::load_or_compute(&info, 2).unwrap();
    let Source::Computed(took) = src else {
        panic!("a fresh cache directory has no commitments")
    };
    println!(
        "{model}: {} matrices committed in {:.3} s, root {}",
        m.entries.len(),
        took.as_secs_f64(),
        hex::encode(m.root())
    );
    assert_eq!(m.weights_root, info.weights_root);

    // Exactly the matrix tensors, each with the circuit's own commitment, in name order.
    let tensors = otr_engine::convert::cache::read(&info.cache_path, &info.gguf_sha256)
        .unwrap()
        .unwrap();
    let mut want: Vec<(String, [u8; 32])> = tensors
        .iter()
        .filter_map(|(n, t, _)| match t {
            Tensor::Matrix(w) => Some((
                n.clone(),
                scalar_to_be_bytes(&MatrixTree::new(w).commitment()),
            )),
            _ => None,
        })
        .collect();
    want.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    assert!(want.len() >= 8, "{model}: {} matrices", want.len());
    assert_eq!(m.entries, want);

    // Every commitment opens against the root; a changed commitment or name does not.
    let root = m.root();
    for (name, c) in &m.entries {
        let o = m.opening(name).unwrap();
        assert_eq!(&o.commitment, c);
        let leaf = merkle::leaf_hash(&zkroot::leaf(name, c));
        assert_eq!(
            merkle::root_from_path(&leaf, o.index, o.size, &o.path).unwrap(),
            root
        );
        let mut bad = *c;
        bad[31] ^= 1;
        let leaf = merkle::leaf_hash(&zkroot::leaf(name, &bad));
        assert_ne!(
            merkle::root_from_path(&leaf, o.index, o.size, &o.path).unwrap(),
            root
        );
    }
    assert!(m.opening("blk.0.attn_norm.weight").is_none());
    assert!(m.opening("no.such.weight").is_none());

    // The second time from the cache file; a corrupt or foreign file is recomputed.
    let (again, src) = zkroot::load_or_compute(&info, 2).unwrap();
    assert_eq!((src, &again), (Source::Cached, &m));
    let file = zkroot::cache_file(&info.cache_path);
    let mut b = std::fs::read(&file).unwrap();
    let n = b.len();
    b[n / 2] ^= 0x40;
    std::fs::write(&file, &b).unwrap();
    let (fixed, src) = zkroot::load_or_compute(&info, 2).unwrap();
    assert!(matches!(src, Source::Computed(_)));
    assert_eq!(fixed, m);
    let other = MatrixCommitments {
        weights_root: [7; 32],
        ..m.clone()
    };
    std::fs::write(&file, other.to_bytes()).unwrap();
    let (fixed, src) = zkroot::load_or_compute(&info, 2).unwrap();
    assert!(matches!(src, Source::Computed(_)));
    assert_eq!(fixed, m);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fixture_gemma3_matrices_committed_and_opened() {
    check_model("fixture-gemma3");
}

#[test]
fn fixture_llama_matrices_committed_and_opened() {
    check_model("fixture-llama");
}

#[test]
fn cache_bytes_round_trip_and_malformed_files_are_refused() {
    let m = MatrixCommitments {
        weights_root: [1; 32],
        entries: vec![("a.weight".into(), [2; 32]), ("b.weight".into(), [3; 32])],
    };
    let b = m.to_bytes();
    assert_eq!(MatrixCommitments::from_bytes(&b), Some(m.clone()));
    for cut in [0, 1, 16, 48, b.len() - 33, b.len() - 1] {
        assert_eq!(
            MatrixCommitments::from_bytes(&b[..cut]),
            None,
            "cut at {cut}"
        );
    }
    let mut longer = b.clone();
    longer.push(0);
    assert_eq!(MatrixCommitments::from_bytes(&longer), None);
    // Names out of order (with a valid checksum) are refused.
    let swapped = MatrixCommitments {
        entries: vec![m.entries[1].clone(), m.entries[0].clone()],
        ..m.clone()
    };
    assert_eq!(MatrixCommitments::from_bytes(&swapped.to_bytes()), None);
    // The leaf: tag, u16be name length, name, commitment.
    let l = zkroot::leaf("a.weight", &[2; 32]);
    assert_eq!(&l[..17], b"OTR/zk-matrix/v1\0");
    assert_eq!(&l[17..19], &[0, 8]);
    assert_eq!(&l[19..27], b"a.weight");
    assert_eq!(&l[27..], &[2; 32]);
}

/// Gemma 3 270M (`scripts/fetch-model.sh`): the time to commit every matrix, at the lowest
/// priority on this machine's cores. Minutes: run explicitly.
#[test]
#[ignore = "minutes; needs Gemma 3 270M (scripts/fetch-model.sh)"]
fn gemma3_270m_matrix_commitments_time() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = tmp("gemma");
    let (_, path) = otr_node::node::engine_impl::resolve("gemma3-270m").unwrap();
    let m = otr_engine::Model::load(&path, &otr_engine::default_cache_dir()).unwrap();
    let mut info = m.info().clone();
    drop(m);
    // The commitments' cache file in a fresh directory next to a link to the converted model.
    let link = dir.join(info.cache_path.file_name().unwrap());
    std::os::unix::fs::symlink(&info.cache_path, &link).unwrap();
    info.cache_path = link;
    let (c, src) = zkroot::load_or_compute(&info, threads).unwrap();
    let Source::Computed(took) = src else {
        panic!("expected a computation")
    };
    println!(
        "| Gemma 3 270M: Poseidon commitments of all {} matrices ({threads} threads, nice 19) | {:.1} s | root {} |",
        c.entries.len(),
        took.as_secs_f64(),
        hex::encode(c.root())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the node registers: `registry_entry`'s `poseidonRoot` is the root of the served
/// model's matrix commitments (not zero).
#[test]
fn the_node_registers_its_matrices_root() {
    let dir = tmp("registry");
    let m = otr_node::node::engine_impl::load("fixture-llama", &dir).unwrap();
    let info = m.info();
    let (want, _) = zkroot::for_model("fixture-llama", 2).unwrap();
    assert_eq!(info.matrix_root.get(), Some(want.root()));
    let entry = otr_node::node::settlement::registry_entry(&info);
    assert_eq!(entry.poseidonRoot, want.root());
    assert_ne!(entry.poseidonRoot, [0u8; 32]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A big model's root is not computed at registration: `now_or_later` answers `None` at once
/// and computes it on a background thread, after which the value is there.
#[test]
fn an_expensive_root_is_computed_in_the_background() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = std::sync::Mutex::new(rx);
    let lazy = zkroot::LazyRoot::new(false, move || {
        // Finishes only when the test lets it.
        rx.lock().unwrap().recv().unwrap();
        Some([5; 32])
    });
    assert_eq!(lazy.now_or_later(), None);
    assert_eq!(lazy.now_or_later(), None);
    tx.send(()).unwrap();
    assert_eq!(lazy.get(), Some([5; 32]));
    assert_eq!(lazy.now_or_later(), Some([5; 32]));
    // A cheap one is computed on the spot.
    assert_eq!(
        zkroot::LazyRoot::new(true, || Some([6; 32])).now_or_later(),
        Some([6; 32])
    );
}

/// A model registered with a zero `poseidonRoot` (a big model at first start) gets its root
/// registered once it is known, keeping the rest of its entry; a registered root is not
/// replaced.
#[test]
fn a_zero_poseidon_root_is_registered_again_when_ready() {
    use otr_contracts::bindings::model_registry::ModelRegistry;
    use otr_contracts::deploy::{Deployment, Params};
    use otr_contracts::{host, Address, Chain, U256};
    let dir = tmp("reregister");
    let m = otr_node::node::engine_impl::load("fixture-llama", &dir).unwrap();
    let mut info = m.info();
    info.matrix_root = zkroot::LazyRoot::known(None);
    let mut chain = Chain::new(31337, 1_764_140_000);
    let owner = Address::repeat_byte(0xa0);
    chain.set_balance(owner, U256::from(10u64).pow(U256::from(20u64)));
    let d = Deployment::deploy(&mut chain, owner, &Params::devnet(), 1_764_140_000).unwrap();
    let entry = otr_node::node::settlement::registry_entry(&info);
    assert_eq!(entry.poseidonRoot, [0u8; 32]);
    host::send(
        &mut chain,
        owner,
        d.registry,
        &ModelRegistry::registerModelCall {
            modelId: info.model_id.into(),
            m: entry.clone(),
            vks: vec![[9u8; 32].into()],
        },
        U256::ZERO,
    )
    .unwrap();
    let root = [0x5a; 32];
    assert!(zkroot::reregister(&mut chain, &d, &info, root).unwrap());
    let now = host::view(
        &mut chain,
        d.registry,
        &ModelRegistry::modelCall {
            modelId: info.model_id.into(),
        },
    )
    .unwrap();
    assert_eq!(now.poseidonRoot, root);
    assert_eq!(
        (now.weightsRoot, now.configHash, now.numLayers, now.active),
        (
            entry.weightsRoot,
            entry.configHash,
            entry.numLayers,
            entry.active
        )
    );
    let vks = host::view(
        &mut chain,
        d.registry,
        &ModelRegistry::verifyingKeysCall {
            modelId: info.model_id.into(),
        },
    )
    .unwrap();
    assert_eq!(vks, vec![otr_contracts::B256::from([9u8; 32])]);
    // Already registered: nothing to do.
    assert!(!zkroot::reregister(&mut chain, &d, &info, [0x6b; 32]).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}
