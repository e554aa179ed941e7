//! Dev-chain deployment of the XBR contracts from the pinned wheel's bytecode.
//!
//! `scripts/xbr-contracts.sh bytecode DIR` writes `DIR/<Contract>.bin` (hex, with the library
//! placeholder `__XBRTypes______________________________`). [`deploy()`] deploys `XBRTypes`,
//! links its address into the other six, then deploys `XBRToken()`,
//! `XBRNetwork(token, organization)`, `XBRDomain(network)`, `XBRCatalog(network)`,
//! `XBRMarket(network, catalog)` and `XBRChannel(market)` — the reference's migration order.

use std::path::{Path, PathBuf};

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, Bytes, hex};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::SolConstructor;
use xbr_core::eth::EthPrivateKey;

use crate::addresses::ContractAddresses;
use crate::bindings::{XBRCatalog, XBRChannel, XBRDomain, XBRMarket, XBRNetwork};
use crate::error::{ChainError, Result};
use crate::gateway::Gateway;

/// The library link placeholder in the wheel's bytecode (truffle style, 40 characters).
pub const XBRTYPES_PLACEHOLDER: &str = "__XBRTypes______________________________";

/// Gas limit of each deployment transaction (the reference migration's 9 950 000; the largest
/// contract, `XBRMarket`, needs less than that, and ganache's default block gas limit is 30 M).
pub const DEPLOY_GAS_LIMIT: u64 = 9_950_000;

/// The seven contracts, in deployment order.
pub const CONTRACTS: [&str; 7] = [
    "XBRTypes",
    "XBRToken",
    "XBRNetwork",
    "XBRDomain",
    "XBRCatalog",
    "XBRMarket",
    "XBRChannel",
];

/// Unlinked creation bytecode of one contract, as hex (library placeholders intact).
#[derive(Clone, PartialEq, Eq)]
pub struct UnlinkedBytecode {
    name: String,
    hex: String,
}

impl std::fmt::Debug for UnlinkedBytecode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnlinkedBytecode")
            .field("name", &self.name)
            .field("hex_len", &self.hex.len())
            .finish()
    }
}

impl UnlinkedBytecode {
    /// Parses hex text (optional `0x`, surrounding whitespace ignored). Apart from
    /// [`XBRTYPES_PLACEHOLDER`] occurrences it must be an even number of hex digits.
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let text = text.trim();
        let digits = text.strip_prefix("0x").unwrap_or(text);
        let bad = |reason: String| ChainError::BadBytecode {
            contract: name.to_owned(),
            reason,
        };
        if digits.is_empty() {
            return Err(bad("empty bytecode".into()));
        }
        let without_placeholder = digits.replace(XBRTYPES_PLACEHOLDER, "");
        if let Some(pos) = without_placeholder.find('_') {
            return Err(bad(format!(
                "unknown link placeholder near {:?}",
                &without_placeholder[pos..(pos + 40).min(without_placeholder.len())]
            )));
        }
        if !digits.len().is_multiple_of(2)
            || !without_placeholder.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(bad("not an even number of hex digits".into()));
        }
        Ok(Self {
            name: name.to_owned(),
            hex: digits.to_ascii_lowercase().replace(
                &XBRTYPES_PLACEHOLDER.to_ascii_lowercase(),
                XBRTYPES_PLACEHOLDER,
            ),
        })
    }

    /// The contract name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this bytecode references the `XBRTypes` library.
    pub fn needs_xbrtypes(&self) -> bool {
        self.hex.contains(XBRTYPES_PLACEHOLDER)
    }

    /// The deployable bytes with `XBRTypes` linked at `library` (lowercase hex, no `0x`).
    pub fn link(&self, library: Address) -> Result<Bytes> {
        let linked = self
            .hex
            .replace(XBRTYPES_PLACEHOLDER, &hex::encode(library.as_slice()));
        hex::decode(&linked)
            .map(Bytes::from)
            .map_err(|e| ChainError::BadBytecode {
                contract: self.name.clone(),
                reason: e.to_string(),
            })
    }

    /// The deployable bytes of a contract without library references.
    pub fn unlinked(&self) -> Result<Bytes> {
        if self.needs_xbrtypes() {
            return Err(ChainError::BadBytecode {
                contract: self.name.clone(),
                reason: "references XBRTypes; link it first".into(),
            });
        }
        self.link(Address::ZERO)
    }
}

/// The creation bytecode of the seven XBR contracts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractBytecode {
    /// `XBRTypes` (library, deployed first).
    pub types: UnlinkedBytecode,
    /// `XBRToken`.
    pub token: UnlinkedBytecode,
    /// `XBRNetwork`.
    pub network: UnlinkedBytecode,
    /// `XBRDomain`.
    pub domain: UnlinkedBytecode,
    /// `XBRCatalog`.
    pub catalog: UnlinkedBytecode,
    /// `XBRMarket`.
    pub market: UnlinkedBytecode,
    /// `XBRChannel`.
    pub channel: UnlinkedBytecode,
}

impl ContractBytecode {
    /// Reads `dir/<Contract>.bin` for the seven contracts (what `scripts/xbr-contracts.sh
    /// bytecode DIR` writes).
    pub fn load(dir: &Path) -> Result<Self> {
        let read = |name: &str| -> Result<UnlinkedBytecode> {
            let path: PathBuf = dir.join(format!("{name}.bin"));
            let text = std::fs::read_to_string(&path)
                .map_err(|source| ChainError::BytecodeIo { path, source })?;
            UnlinkedBytecode::parse(name, &text)
        };
        Ok(Self {
            types: read("XBRTypes")?,
            token: read("XBRToken")?,
            network: read("XBRNetwork")?,
            domain: read("XBRDomain")?,
            catalog: read("XBRCatalog")?,
            market: read("XBRMarket")?,
            channel: read("XBRChannel")?,
        })
    }
}

/// Where [`deploy()`] put the contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployment {
    /// The `XBRTypes` library.
    pub types: Address,
    /// The six contracts the market uses.
    pub contracts: ContractAddresses,
}

/// Deploys the seven contracts from `deployer` (signed locally), with `organization` as the
/// network organization (the reference uses the deployer). The deployer ends up holding the
/// whole XBR supply (1e27 base units) and is a VERIFIED member of the network.
pub async fn deploy(
    gateway: &Gateway,
    deployer: &EthPrivateKey,
    organization: Address,
    code: &ContractBytecode,
) -> Result<Deployment> {
    let types = deploy_one(gateway, deployer, "XBRTypes", code.types.unlinked()?).await?;
    let linked = |c: &UnlinkedBytecode| c.link(types);

    let token = deploy_one(gateway, deployer, "XBRToken", linked(&code.token)?).await?;
    let network = deploy_one(
        gateway,
        deployer,
        "XBRNetwork",
        with_args(
            linked(&code.network)?,
            &XBRNetwork::constructorCall {
                networkToken: token,
                networkOrganization: organization,
            },
        ),
    )
    .await?;
    let domain = deploy_one(
        gateway,
        deployer,
        "XBRDomain",
        with_args(
            linked(&code.domain)?,
            &XBRDomain::constructorCall {
                networkAdr: network,
            },
        ),
    )
    .await?;
    let catalog = deploy_one(
        gateway,
        deployer,
        "XBRCatalog",
        with_args(
            linked(&code.catalog)?,
            &XBRCatalog::constructorCall {
                networkAdr: network,
            },
        ),
    )
    .await?;
    let market = deploy_one(
        gateway,
        deployer,
        "XBRMarket",
        with_args(
            linked(&code.market)?,
            &XBRMarket::constructorCall {
                networkAdr: network,
                catalogAdr: catalog,
            },
        ),
    )
    .await?;
    let channel = deploy_one(
        gateway,
        deployer,
        "XBRChannel",
        with_args(
            linked(&code.channel)?,
            &XBRChannel::constructorCall { marketAdr: market },
        ),
    )
    .await?;

    let contracts = ContractAddresses {
        token,
        network,
        domain,
        catalog,
        market,
        channel,
    };
    tracing::info!(?contracts, %types, "XBR contracts deployed");
    Ok(Deployment { types, contracts })
}

fn with_args<C: SolConstructor>(code: Bytes, args: &C) -> Bytes {
    let mut out = code.to_vec();
    out.extend_from_slice(&args.abi_encode());
    out.into()
}

async fn deploy_one(
    gateway: &Gateway,
    deployer: &EthPrivateKey,
    name: &str,
    code: Bytes,
) -> Result<Address> {
    let call = format!("deploy {name}");
    let tx = TransactionRequest::default()
        .with_deploy_code(code)
        .with_gas_limit(DEPLOY_GAS_LIMIT);
    let receipt = gateway.send_transaction(&call, deployer, tx).await?;
    let address = receipt
        .contract_address
        .ok_or_else(|| ChainError::DeployFailed {
            contract: name.to_owned(),
            reason: "the receipt names no contract address".into(),
        })?;
    tracing::debug!(contract = name, %address, gas = receipt.gas_used, "deployed");
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_link_replaces_every_placeholder() {
        let text = format!("0x6060{XBRTYPES_PLACEHOLDER}00ff{XBRTYPES_PLACEHOLDER}\n");
        let code = UnlinkedBytecode::parse("X", &text).unwrap();
        assert!(code.needs_xbrtypes());
        let lib: Address = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1"
            .parse()
            .unwrap();
        let linked = code.link(lib).unwrap();
        let mut expected = vec![0x60, 0x60];
        expected.extend_from_slice(lib.as_slice());
        expected.extend_from_slice(&[0x00, 0xff]);
        expected.extend_from_slice(lib.as_slice());
        assert_eq!(linked.as_ref(), expected.as_slice());
        assert!(code.unlinked().is_err());
    }

    #[test]
    fn parse_rejects_garbage() {
        for bad in [
            "",
            "0x",
            "0x123",
            "0xzz",
            "0x60__Other_________________________________60",
        ] {
            assert!(
                matches!(
                    UnlinkedBytecode::parse("X", bad),
                    Err(ChainError::BadBytecode { .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            UnlinkedBytecode::parse("X", "6060ABcd")
                .unwrap()
                .unlinked()
                .unwrap()
                .as_ref(),
            &[0x60, 0x60, 0xab, 0xcd]
        );
    }

    #[test]
    fn load_names_the_missing_file() {
        let dir = std::env::temp_dir().join(format!("xbr-chain-missing-{}", std::process::id()));
        let err = ContractBytecode::load(&dir).unwrap_err();
        assert!(
            matches!(err, ChainError::BytecodeIo { ref path, .. } if path.ends_with("XBRTypes.bin")),
            "{err}"
        );
    }
}
