//! Where the repository and the installed peers are.

use std::path::PathBuf;

/// The manifest directory of the package under test: the runtime `CARGO_MANIFEST_DIR` that
/// cargo and nextest set for every test process, else the one this crate was compiled in. The
/// runtime value comes first because cargo reuses compiled test binaries when the checkout moves
/// (a shared build cache), and a compile-time path would then point into the old checkout.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The workspace root (the directory holding the workspace `Cargo.toml`), found above
/// [`manifest_dir`].
pub fn repo_root() -> PathBuf {
    let manifest_dir = manifest_dir();
    let root = manifest_dir
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file() && dir.join("crates").is_dir())
        .unwrap_or_else(|| {
            panic!(
                "xbrd-testkit: no workspace root above {}",
                manifest_dir.display()
            )
        });
    root.to_path_buf()
}

/// The installed peers: `$XBRD_PEERS_DIR`, else `<repo>/.peers`.
///
/// # Panics
/// If the directory holds no peer install; the message says to run `scripts/peers.sh install`.
pub fn peers_dir() -> PathBuf {
    let dir = match std::env::var_os("XBRD_PEERS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join(".peers"),
    };
    if !dir.join("venv/bin/python").is_file() {
        panic!(
            "xbrd-testkit: real peers are not installed in {} (no venv/bin/python).\n\
             Run `scripts/peers.sh install` (it honours $XBRD_PEERS_DIR) or `scripts/test.sh`.",
            dir.display()
        );
    }
    dir
}

/// The Python interpreter of the peers' venv (Autobahn|Python and Crossbar.io importable).
pub fn python() -> PathBuf {
    peers_dir().join("venv/bin/python")
}

/// The `crossbar` executable of the peers' venv.
pub(crate) fn crossbar_bin() -> PathBuf {
    require(peers_dir().join("venv/bin/crossbar"), "crossbar")
}

/// ganache's command-line entry point (run with `node`).
pub(crate) fn ganache_cli() -> PathBuf {
    require(
        peers_dir().join("ganache/node_modules/ganache/dist/node/cli.js"),
        "ganache",
    )
}

/// anvil, Foundry's dev chain (a native binary).
pub(crate) fn anvil_bin() -> PathBuf {
    require(
        peers_dir().join("anvil/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"),
        "anvil",
    )
}

/// cast, Foundry's command-line tool (e.g. `cast wallet new` for keystore files).
///
/// # Panics
/// If it is not installed.
pub fn cast_bin() -> PathBuf {
    require(
        peers_dir().join("cast/node_modules/@foundry-rs/cast-linux-amd64/bin/cast"),
        "cast",
    )
}

/// The XBR contract bytecode extracted at install time (`<peers>/contracts`).
///
/// # Panics
/// If the directory does not exist.
pub fn contracts_dir() -> PathBuf {
    require(peers_dir().join("contracts"), "the XBR contract bytecode")
}

fn require(path: PathBuf, what: &str) -> PathBuf {
    if !path.exists() {
        panic!(
            "xbrd-testkit: {what} is not installed ({} missing); run `scripts/peers.sh install`",
            path.display()
        );
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_root_holds_the_workspace_manifest_and_peer_config() {
        let root = repo_root();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
        assert!(root.join("tests/peers/crossbar/config.json").is_file());
    }
}
