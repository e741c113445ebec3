use super::*;
use alloc::vec;

fn h(s: &str) -> Hash {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).unwrap();
    out
}

/// The leaves of the RFC 6962 reference test vectors (certificate-transparency `merkle_tree_test`).
fn rfc_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|s| hex::decode(s).unwrap())
    .collect()
}

#[test]
fn rfc6962_roots() {
    let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let leaves = rfc_leaves();
    for (i, want) in roots.iter().enumerate() {
        assert_eq!(root(&leaves[..=i]), h(want), "size {}", i + 1);
    }
    assert_eq!(
        root::<&[u8]>(&[]),
        h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
}

#[test]
fn rfc6962_audit_paths() {
    let leaves = rfc_leaves();
    let cases: [(u64, usize, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (index, size, want) in cases {
        let proof = prove(&leaves[..size], index).unwrap();
        let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
        assert_eq!(proof.path, want, "leaf {index} of {size}");
        let r = root(&leaves[..size]);
        verify_inclusion(&leaves[index as usize], index, size as u64, &want, &r).unwrap();
    }
}

#[test]
fn every_leaf_of_every_size_verifies_and_tampering_fails() {
    for size in 1..=70usize {
        let items: Vec<Vec<u8>> = (0..size).map(|i| vec![i as u8, (i >> 8) as u8]).collect();
        let r = root(&items);
        for index in 0..size {
            let proof = prove(&items, index as u64).unwrap();
            assert_eq!(proof.tree_size, size as u64);
            assert_eq!(
                proof.path.len(),
                expected_path_len(index as u64, size as u64).unwrap()
            );
            verify_inclusion(&items[index], index as u64, size as u64, &proof.path, &r).unwrap();
            // Tampering with any single path node breaks it.
            for j in 0..proof.path.len() {
                let mut bad = proof.path.clone();
                bad[j][j % 32] ^= 0x40;
                let e = verify_inclusion(&items[index], index as u64, size as u64, &bad, &r);
                assert!(matches!(e, Err(InclusionError::RootMismatch(_))));
            }
            // Another leaf's data at this index fails.
            let other = [0xee, 0xee, 0xee];
            assert!(matches!(
                verify_inclusion(&other, index as u64, size as u64, &proof.path, &r),
                Err(InclusionError::RootMismatch(_))
            ));
            // A neighbour's index with this proof fails (length or root).
            if index + 1 < size {
                assert!(verify_inclusion(
                    &items[index],
                    index as u64 + 1,
                    size as u64,
                    &proof.path,
                    &r
                )
                .is_err());
            }
        }
    }
}

#[test]
fn structural_errors() {
    let items = [b"a", b"b", b"c"];
    let r = root(&items);
    let proof = prove(&items, 0).unwrap();
    assert_eq!(
        prove(&items, 3),
        Err(InclusionError::IndexOutOfRange { index: 3, size: 3 })
    );
    assert_eq!(
        verify_inclusion(b"a", 3, 3, &proof.path, &r),
        Err(InclusionError::IndexOutOfRange { index: 3, size: 3 })
    );
    assert_eq!(
        verify_inclusion(b"a", 0, 0, &[], &r),
        Err(InclusionError::IndexOutOfRange { index: 0, size: 0 })
    );
    let mut long = proof.path.clone();
    long.push([0; 32]);
    let e = verify_inclusion(b"a", 0, 3, &long, &r).unwrap_err();
    assert_eq!(
        e,
        InclusionError::PathLength(GotExpected {
            got: 3,
            expected: 2
        })
    );
    assert_eq!(e.code(), "INCLUSION_PATH_LENGTH");
    let deep = vec![[0u8; 32]; 65];
    let e = verify_inclusion(b"a", 0, u64::MAX, &deep, &r).unwrap_err();
    assert_eq!(e, InclusionError::PathTooDeep { got: 65, max: 64 });
    // The largest trees have paths of exactly 64 nodes, which are accepted as input.
    assert_eq!(expected_path_len(0, u64::MAX).unwrap(), 64);
    assert_eq!(expected_path_len(u64::MAX - 1, u64::MAX).unwrap(), 63);
    let e = verify_inclusion(b"a", 0, u64::MAX, &vec![[0u8; 32]; 64], &r).unwrap_err();
    assert_eq!(e.code(), "INCLUSION_ROOT_MISMATCH");
    let msg = alloc::format!("{e}");
    assert!(msg.contains("not in the tree"), "{msg}");
    // A single-leaf tree: empty path, root is the leaf hash.
    verify_inclusion(b"x", 0, 1, &[], &leaf_hash(b"x")).unwrap();
    assert_eq!(root(&[b"x"]), leaf_hash(b"x"));
}
