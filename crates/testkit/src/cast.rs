//! Keystores made by Foundry's `cast`, as operators make them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::paths::cast_bin;

/// Runs `cast wallet new DIR NAME` with `passphrase` (an Ethereum keystore v3 file, scrypt, as
/// Foundry writes it) and sets the file's mode to 0600: cast writes 0644, and xbrd refuses key
/// files others can read. Returns the keystore's path and its 0x address.
///
/// # Panics
/// If cast is not installed or fails (its stderr is in the message).
pub fn cast_wallet_new(dir: &Path, name: &str, passphrase: &str) -> (PathBuf, String) {
    let out = Command::new(cast_bin())
        .args(["wallet", "new"])
        .arg(dir)
        .args([name, "--json", "--unsafe-password", passphrase])
        .output()
        .unwrap_or_else(|e| panic!("xbrd-testkit: cannot run cast: {e}"));
    assert!(
        out.status.success(),
        "xbrd-testkit: cast wallet new failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("xbrd-testkit: cast wallet new printed no JSON: {e}"));
    let address = made[0]["address"]
        .as_str()
        .unwrap_or_else(|| panic!("xbrd-testkit: no address in cast's output {made}"))
        .to_owned();
    let file = dir.join(name);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("xbrd-testkit: cannot chmod {}: {e}", file.display()));
    (file, address)
}
