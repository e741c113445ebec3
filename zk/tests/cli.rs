//! The `otr-zk ceremony` commands end to end on a tiny shape: init (public phase 1, and a real
//! two-party phase 1 in `phase1_then_phase2_commands`), two contributions,
//! verify, finalize; a flipped byte in a transcript entry makes `verify` fail.

use std::path::Path;
use std::process::Command;

fn otr_zk(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_otr-zk"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run otr-zk");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn ceremony_commands() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zk-cli-ceremony");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let steps: [&[&str]; 5] = [
        &[
            "ceremony",
            "init",
            "--rows",
            "4",
            "--cols",
            "32",
            "--rows-per-unit",
            "2",
            "--insecure-public-phase1",
            "--out",
            "c0.bin",
        ],
        &[
            "ceremony",
            "contribute",
            "--in",
            "c0.bin",
            "--out",
            "c1.bin",
            "--name",
            "alice",
        ],
        &[
            "ceremony",
            "contribute",
            "--in",
            "c1.bin",
            "--out",
            "c2.bin",
            "--name",
            "bob",
            "--entropy",
            "dice: 3 1 4",
        ],
        &["ceremony", "verify", "--in", "c2.bin"],
        &[
            "ceremony",
            "finalize",
            "--in",
            "c2.bin",
            "--out-dir",
            "keys",
        ],
    ];
    for s in steps {
        let (ok, text) = otr_zk(&dir, s);
        assert!(ok, "{s:?} failed:\n{text}");
        if s[1] == "verify" {
            assert!(
                text.contains("\"alice\"") && text.contains("\"bob\""),
                "{text}"
            );
        }
    }
    for f in [
        "pk.bin",
        "vk.bin",
        "verification_key.json",
        "transcript.json",
    ] {
        assert!(dir.join("keys").join(f).exists(), "{f}");
    }
    // Too few contributions for finalize.
    let (ok, text) = otr_zk(
        &dir,
        &["ceremony", "finalize", "--in", "c1.bin", "--out-dir", "k1"],
    );
    assert!(!ok && text.contains("ZK_CEREMONY_INVALID"), "{text}");
    // Flip one byte of the first entry's s_g1 x coordinate region (after the 48-byte header,
    // 2-byte name length and the 5-byte name): the point or its checks fail.
    let mut bytes = std::fs::read(dir.join("c2.bin")).unwrap();
    bytes[48 + 2 + 5 + 70] ^= 1; // inside r_g2
    std::fs::write(dir.join("bad.bin"), bytes).unwrap();
    let (ok, text) = otr_zk(&dir, &["ceremony", "verify", "--in", "bad.bin"]);
    assert!(!ok, "tampered transcript verified:\n{text}");
    assert!(text.contains("ZK_CEREMONY"), "{text}");
}

#[test]
fn phase1_then_phase2_commands() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zk-cli-phase1");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let shape = ["--rows", "4", "--cols", "32", "--rows-per-unit", "2"];
    let cmd = |head: &[&'static str], tail: &[&'static str]| -> Vec<&'static str> {
        head.iter().chain(tail).copied().collect()
    };
    // Phase 2 needs a phase 1 or the explicit insecure flag.
    let (ok, text) = otr_zk(
        &dir,
        &cmd(&["ceremony", "init"], &cmd(&shape, &["--out", "x.bin"])),
    );
    assert!(!ok, "init without a phase 1 accepted:\n{text}");
    let steps: Vec<Vec<&str>> = vec![
        cmd(
            &["ceremony", "phase1", "init"],
            &cmd(&shape, &["--out", "p0.bin"]),
        ),
        vec![
            "ceremony",
            "phase1",
            "contribute",
            "--in",
            "p0.bin",
            "--out",
            "p1.bin",
            "--name",
            "alice",
        ],
        vec![
            "ceremony",
            "phase1",
            "contribute",
            "--in",
            "p1.bin",
            "--out",
            "p2.bin",
            "--name",
            "bob",
            "--entropy",
            "coin flips",
        ],
        vec!["ceremony", "phase1", "verify", "--in", "p2.bin"],
        cmd(
            &["ceremony", "init", "--phase1", "p2.bin"],
            &cmd(&shape, &["--out", "c0.bin"]),
        ),
        vec![
            "ceremony",
            "contribute",
            "--in",
            "c0.bin",
            "--out",
            "c1.bin",
            "--name",
            "carol",
        ],
        vec![
            "ceremony",
            "contribute",
            "--in",
            "c1.bin",
            "--out",
            "c2.bin",
            "--name",
            "dave",
        ],
        vec!["ceremony", "verify", "--in", "c2.bin", "--phase1", "p2.bin"],
        vec![
            "ceremony",
            "finalize",
            "--in",
            "c2.bin",
            "--phase1",
            "p2.bin",
            "--out-dir",
            "keys",
        ],
    ];
    for s in &steps {
        let (ok, text) = otr_zk(&dir, s);
        assert!(ok, "{s:?} failed:\n{text}");
        assert!(!text.contains("INSECURE"), "{s:?}: {text}");
        if s[1] == "verify" {
            for name in ["alice", "bob", "carol", "dave"] {
                assert!(text.contains(name), "{name}: {text}");
            }
        }
    }
    let t: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("keys/transcript.json")).unwrap()).unwrap();
    assert_eq!(t["phase1"]["contributions"][1]["name"], "bob", "{t}");
    // Phase 2 without its phase 1 does not verify; a phase 1 missing a contribution neither.
    let (ok, text) = otr_zk(&dir, &["ceremony", "verify", "--in", "c2.bin"]);
    assert!(!ok && text.contains("ZK_CEREMONY_INVALID"), "{text}");
    let (ok, text) = otr_zk(
        &dir,
        &["ceremony", "verify", "--in", "c2.bin", "--phase1", "p1.bin"],
    );
    assert!(!ok && text.contains("ZK_CEREMONY_INVALID"), "{text}");
    // A truncated phase-1 file.
    let bytes = std::fs::read(dir.join("p2.bin")).unwrap();
    std::fs::write(dir.join("cut.bin"), &bytes[..bytes.len() - 100]).unwrap();
    let (ok, text) = otr_zk(&dir, &["ceremony", "phase1", "verify", "--in", "cut.bin"]);
    assert!(!ok && text.contains("ZK_PHASE1_TRUNCATED"), "{text}");
}

/// `ceremony init --circuit act|attn` with the kind's shape flags, two contributions, verify,
/// finalize and export-vk; transcript.json names the circuit; wrong or missing shape flags are
/// typed errors; `--help` says what each circuit is.
#[test]
fn act_and_attn_ceremony_commands() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("zk-cli-kinds");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (ok, text) = otr_zk(&dir, &["ceremony", "init", "--help"]);
    assert!(ok, "{text}");
    for word in [
        "matvec",
        "act",
        "attn",
        "--table",
        "--head-dim",
        "--positions",
    ] {
        assert!(text.contains(word), "{word}: {text}");
    }
    let kinds: [(&str, &[&str], &str); 2] = [
        (
            "act",
            &[
                "--circuit",
                "act",
                "--table",
                "silu",
                "--len",
                "8",
                "--elems",
                "2",
            ],
            "act: silu table, vectors of 8, 2 elements per unit",
        ),
        (
            "attn",
            &["--circuit", "attn", "--head-dim", "2", "--positions", "2"],
            "attn: head dimension 2, 2 positions",
        ),
    ];
    for (kind, shape, describe) in kinds {
        let f = |s: &str| format!("{kind}-{s}");
        let (c0, c1, c2, keys) = (f("c0.bin"), f("c1.bin"), f("c2.bin"), f("keys"));
        let mut init = vec!["ceremony", "init"];
        init.extend_from_slice(shape);
        init.extend_from_slice(&["--insecure-public-phase1", "--out", &c0]);
        let steps: Vec<Vec<&str>> = vec![
            init,
            vec![
                "ceremony",
                "contribute",
                "--in",
                &c0,
                "--out",
                &c1,
                "--name",
                "alice",
            ],
            vec![
                "ceremony",
                "contribute",
                "--in",
                &c1,
                "--out",
                &c2,
                "--name",
                "bob",
            ],
            vec!["ceremony", "verify", "--in", &c2],
            vec!["ceremony", "finalize", "--in", &c2, "--out-dir", &keys],
            vec!["export-vk", "--params", &keys, "--out", "vk.json"],
        ];
        for s in &steps {
            let (ok, text) = otr_zk(&dir, s);
            assert!(ok, "{s:?} failed:\n{text}");
            if s[1] == "verify" {
                assert!(text.contains(describe), "{text}");
                assert!(
                    text.contains("\"bob\"") && text.contains("INSECURE"),
                    "{text}"
                );
            }
        }
        let bytes = std::fs::read(dir.join(&c2)).unwrap();
        assert_eq!(
            &bytes[16..21],
            &[3, 0, 0, 0, if kind == "act" { 1 } else { 2 }]
        );
        let t: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join(&keys).join("transcript.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(t["kind"], kind, "{t}");
        assert_eq!(t["circuit"], format!("OTR/zk/{kind}-unit/v1"), "{t}");
        assert_eq!(t["contributions"][1]["name"], "bob", "{t}");
        let vk = std::fs::read_to_string(dir.join("vk.json")).unwrap();
        assert!(
            vk.contains("\"nPublic\": 4") || vk.contains("\"nPublic\":4"),
            "{vk}"
        );
        // A tampered contribution: one byte inside bob's r_g2.
        let mut bad = bytes.clone();
        let header = 16 + 4 + if kind == "act" { 18 } else { 17 } + 1 + 4;
        let bob = header + 2 + 5 + 64 + 128 + 64;
        bad[bob + 2 + 3 + 64 + 40] ^= 1;
        std::fs::write(dir.join("bad.bin"), bad).unwrap();
        let (ok, text) = otr_zk(&dir, &["ceremony", "verify", "--in", "bad.bin"]);
        assert!(!ok && text.contains("ZK_CEREMONY"), "{text}");
    }
    // Flags of another circuit, a missing flag, an unknown table or circuit.
    for (args, code) in [
        (
            &[
                "--circuit",
                "act",
                "--rows",
                "4",
                "--len",
                "8",
                "--elems",
                "2",
                "--table",
                "silu",
            ][..],
            "ZK_SHAPE_INVALID",
        ),
        (
            &["--circuit", "attn", "--head-dim", "2"][..],
            "ZK_SHAPE_INVALID",
        ),
        (
            &[
                "--circuit",
                "act",
                "--table",
                "relu",
                "--len",
                "8",
                "--elems",
                "2",
            ][..],
            "ZK_SHAPE_INVALID",
        ),
        (
            &["--rows", "4", "--cols", "32", "--positions", "3"][..],
            "ZK_SHAPE_INVALID",
        ),
        (&["--circuit", "conv", "--rows", "4"][..], "conv"),
    ] {
        let mut a = vec![
            "ceremony",
            "init",
            "--insecure-public-phase1",
            "--out",
            "x.bin",
        ];
        a.extend_from_slice(args);
        let (ok, text) = otr_zk(&dir, &a);
        assert!(!ok && text.contains(code), "{args:?}: {text}");
    }
    // A phase 1 sized for an attention circuit.
    let (ok, text) = otr_zk(
        &dir,
        &[
            "ceremony",
            "phase1",
            "init",
            "--circuit",
            "attn",
            "--head-dim",
            "2",
            "--positions",
            "2",
            "--out",
            "p0.bin",
        ],
    );
    assert!(ok && text.contains("attn: head dimension 2"), "{text}");
}
