//! The `otr-zk ceremony` commands end to end on a tiny shape: init, two contributions,
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
