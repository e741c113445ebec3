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
