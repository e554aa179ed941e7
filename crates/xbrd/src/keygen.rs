//! `xbrd keygen`: an Ethereum key and a WAMP-cryptosign key in the XBR/Autobahn tagged key-file format
//! (`<name>.priv`, mode 0600; `<name>.pub`, mode 0644), random or derived from a BIP-39 mnemonic.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xbr_core::eth::EthPrivateKey;
use xbr_core::wallet::Mnemonic;
use zeroize::Zeroizing;

use crate::cli::KeygenArgs;
use crate::config::secret::check_private_file_mode;

/// What `keygen` wrote (public parts only).
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeygenOutput {
    /// Private key file (0600).
    pub private_file: PathBuf,
    /// Public key file.
    pub public_file: PathBuf,
    /// Ethereum address (checksummed).
    pub eth_address: String,
    /// Ed25519 public key (hex).
    pub cryptosign_public_key: String,
}

/// Generates or derives the keys and writes the files.
pub fn keygen(args: &KeygenArgs) -> anyhow::Result<KeygenOutput> {
    let (eth, cs_seed) = match &args.mnemonic_file {
        Some(path) => {
            check_private_file_mode(path)?;
            let phrase = Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            );
            let mnemonic = Mnemonic::parse(phrase.trim())
                .context("the mnemonic file does not hold a valid BIP-39 phrase")?;
            (
                mnemonic.eth_key(args.index)?,
                mnemonic.cryptosign_seed(args.index)?,
            )
        }
        None => {
            let mut rng = rand_core::OsRng;
            let mut seed = Zeroizing::new([0u8; 32]);
            rand_core::RngCore::fill_bytes(&mut rng, &mut seed[..]);
            (EthPrivateKey::generate(&mut rng), seed)
        }
    };
    let cs_public = ed25519_dalek::SigningKey::from_bytes(&cs_seed)
        .verifying_key()
        .to_bytes();
    let eth_address = eth.address().to_checksum(None);
    let cs_public_hex = hex::encode(cs_public);

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let private_file = args.out.join(format!("{}.priv", args.name));
    let public_file = args.out.join(format!("{}.pub", args.name));
    for f in [&private_file, &public_file] {
        if f.exists() && !args.force {
            bail!("{} exists; pass --force to replace it", f.display());
        }
    }
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let public_part = format!(
        "creator: xbrd {}\ncreated-at: {created}\npublic-key-ed25519: {cs_public_hex}\npublic-adr-eth: {eth_address}\n",
        env!("CARGO_PKG_VERSION")
    );
    let private_part = Zeroizing::new(format!(
        "{public_part}private-key-ed25519: {}\nprivate-key-eth: {}\n",
        hex::encode(&cs_seed[..]),
        hex::encode(&eth.to_bytes()[..])
    ));
    write_file(&private_file, private_part.as_bytes(), 0o600, args.force)?;
    write_file(&public_file, public_part.as_bytes(), 0o644, args.force)?;
    Ok(KeygenOutput {
        private_file,
        public_file,
        eth_address,
        cryptosign_public_key: cs_public_hex,
    })
}

fn write_file(path: &Path, content: &[u8], mode: u32, replace: bool) -> anyhow::Result<()> {
    if replace && path.exists() {
        std::fs::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(content)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::secret::{KeyKind, read_key_file};

    #[test]
    fn derives_the_ganache_account_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mfile = dir.path().join("mnemonic");
        std::fs::write(
            &mfile,
            "myth like bonus scare over problem client lizard pioneer submit female collect\n",
        )
        .unwrap();
        std::fs::set_permissions(&mfile, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let args = KeygenArgs {
            out: dir.path().to_owned(),
            name: "k".into(),
            mnemonic_file: Some(mfile),
            index: 4,
            force: false,
        };
        let out = keygen(&args).unwrap();
        // Spec §4.5, account 4 (the example seller delegate).
        assert_eq!(
            out.eth_address,
            "0xd03ea8624C8C5987235048901fB614fDcA89b117"
        );
        let eth = read_key_file(&out.private_file, KeyKind::Ethereum).unwrap();
        assert_eq!(
            hex::encode(eth.expose()),
            "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743"
        );
        read_key_file(&out.private_file, KeyKind::Cryptosign).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&out.private_file).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        // A second run refuses to overwrite.
        assert!(keygen(&args).unwrap_err().to_string().contains("--force"));
    }
}
