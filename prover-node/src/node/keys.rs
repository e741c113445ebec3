//! The node's secp256k1 key (its staking identity): generated on first start, stored with
//! owner-only permissions, never printed.

use std::io::Write;
use std::path::Path;

/// Loads the key at `path`, or generates and stores a new one (mode 0600).
pub fn load_or_create(path: &Path) -> Result<k256::ecdsa::SigningKey, String> {
    if path.exists() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| e.to_string())?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(format!(
                    "{}: node key is readable by others (mode {:o}); run `chmod 600 {}`",
                    path.display(),
                    mode & 0o777,
                    path.display()
                ));
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let bytes = hex::decode(text.trim())
            .map_err(|_| format!("{}: not a hex secp256k1 key", path.display()))?;
        return k256::ecdsa::SigningKey::from_slice(&bytes)
            .map_err(|_| format!("{}: invalid secp256k1 key", path.display()));
    }
    let key = loop {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed)
            .map_err(|e| format!("no randomness for the node key: {e}"))?;
        if let Ok(k) = k256::ecdsa::SigningKey::from_slice(&seed) {
            break k;
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(hex::encode(key.to_bytes()).as_bytes())
        .map_err(|e| e.to_string())?;
    f.sync_all().map_err(|e| e.to_string())?;
    Ok(key)
}
