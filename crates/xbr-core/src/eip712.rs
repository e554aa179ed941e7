//! EIP-712 typed data of the XBR protocol (spec §4), on alloy's `sol!` / `SolStruct` machinery.
//!
//! Every type carries its own `chainId`/`verifyingContract` (except `EIP712MarketMemberLogin`);
//! the domain is only `{name, version}`: `{"XBR","1"}` for all types except the two WAMP
//! certificate types, which use `{"WMP","1"}`.
//!
//! Struct and field names are exactly the reference's (they enter the type hash), so the Rust
//! fields are camelCase where the reference's are.
//!
//! ## Reference (Python) versus on-chain definitions
//! Three types differ between the reference client and `XBRTypes.sol`. The reference-wire form
//! has the reference's name; the on-chain form lives in [`onchain`] under the same Solidity name
//! (so its type hash matches the contract) and is re-exported with an `OnChain` suffix:
//! * `EIP712ApiPublish`: reference `string schema`, on-chain `string terms`
//!   ([`EIP712ApiPublishOnChain`]).
//! * `EIP712Consent`: the reference adds a trailing `string servicePrefix`; on chain it is absent
//!   ([`EIP712ConsentOnChain`]).
//! * `EIP712NodePair`: reference `bytes16 nodeKey`, on-chain `bytes32 nodeKey`
//!   ([`EIP712NodePairOnChain`]).

use std::sync::LazyLock;

use alloy_primitives::{Address, B256, FixedBytes, U256, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct, eip712_domain, sol};

use crate::eth::{EthPrivateKey, SignatureError, recover_digest};
use crate::ids::{ChannelId, MarketId};
use crate::signature::Signature;

/// The XBR domain `{name: "XBR", version: "1"}` (no chain id, no verifying contract).
pub static XBR_DOMAIN: Eip712Domain = eip712_domain! { name: "XBR", version: "1", };

/// The WAMP certificate domain `{name: "WMP", version: "1"}`.
pub static WMP_DOMAIN: Eip712Domain = eip712_domain! { name: "WMP", version: "1", };

/// Channel types (`EIP712ChannelOpen.ctype`).
pub mod channel_type {
    /// Payment channel: buyer delegate → market maker.
    pub const PAYMENT: u8 = 1;
    /// Paying channel: market maker → seller delegate.
    pub const PAYING: u8 = 2;
}

/// Market actor types (`actorType`, `delegateType`).
pub mod actor_type {
    /// Data provider (seller).
    pub const PROVIDER: u8 = 1;
    /// Data consumer (buyer).
    pub const CONSUMER: u8 = 2;
    /// Both.
    pub const PROVIDER_CONSUMER: u8 = 3;
}

/// Node types (`EIP712NodePair.nodeType`).
pub mod node_type {
    /// No type.
    pub const NONE: u8 = 0;
    /// Master node.
    pub const MASTER: u8 = 1;
    /// Core node.
    pub const CORE: u8 = 2;
    /// Edge node.
    pub const EDGE: u8 = 3;
}

/// Capability bits of `EIP712AuthorityCertificate.capabilities`.
pub mod capability {
    /// Root certificate authority.
    pub const ROOT_CA: u64 = 1;
    /// Intermediate certificate authority.
    pub const INTERMEDIATE_CA: u64 = 2;
    /// Public relay.
    pub const PUBLIC_RELAY: u64 = 4;
    /// Private relay.
    pub const PRIVATE_RELAY: u64 = 8;
    /// Data provider.
    pub const PROVIDER: u64 = 16;
    /// Data consumer.
    pub const CONSUMER: u64 = 32;
}

sol! {
    /// Off-chain channel close / balance proof (the data-market signature, XBRSIG 1–8).
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712ChannelClose {
        uint256 chainId;
        address verifyingContract;
        uint256 closeAt;
        bytes16 marketId;
        bytes16 channelId;
        uint32 channelSeq;
        uint256 balance;
        bool isFinal;
    }

    /// Channel open request (`xbr.marketmaker.open_channel`).
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712ChannelOpen {
        uint256 chainId;
        address verifyingContract;
        uint8 ctype;
        uint256 openedAt;
        bytes16 marketId;
        bytes16 channelId;
        address actor;
        address delegate;
        address marketmaker;
        address recipient;
        uint256 amount;
    }

    /// Market-realm first login (cryptosign authextra); has no chain id or contract.
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712MarketMemberLogin {
        address member;
        bytes32 client_pubkey;
    }

    /// Consent, reference-wire form (with `servicePrefix`; does not verify on chain).
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712Consent {
        uint256 chainId;
        address verifyingContract;
        address member;
        uint256 updated;
        bytes16 marketId;
        address delegate;
        uint8 delegateType;
        bytes16 apiCatalog;
        bool consent;
        string servicePrefix;
    }

    /// Member registration.
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712MemberRegister {
        uint256 chainId;
        address verifyingContract;
        address member;
        uint256 registered;
        string eula;
        string profile;
    }

    /// Member unregistration.
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712MemberUnregister {
        uint256 chainId;
        address verifyingContract;
        address member;
        uint256 retired;
    }

    /// Member login (XBR network).
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712MemberLogin {
        uint256 chainId;
        address verifyingContract;
        address member;
        uint256 loggedIn;
        uint64 timestamp;
        string member_email;
        bytes32 client_pubkey;
    }

    /// Market creation.
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712MarketCreate {
        uint256 chainId;
        address verifyingContract;
        address member;
        uint256 created;
        bytes16 marketId;
        address coin;
        string terms;
        string meta;
        address maker;
        uint256 marketFee;
    }

    /// Joining a market.
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712MarketJoin {
        uint256 chainId;
        address verifyingContract;
        address member;
        uint256 joined;
        bytes16 marketId;
        uint8 actorType;
        string meta;
    }

    /// Leaving a market.
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712MarketLeave {
        uint256 chainId;
        address verifyingContract;
        address member;
        uint256 left;
        bytes16 marketId;
        uint8 actorType;
    }

    /// Catalog creation.
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712CatalogCreate {
        uint256 chainId;
        address verifyingContract;
        address member;
        uint256 created;
        bytes16 catalogId;
        string terms;
        string meta;
    }

    /// API publication, reference-wire form (`schema`; does not verify on chain).
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712ApiPublish {
        uint256 chainId;
        address verifyingContract;
        address member;
        uint256 published;
        bytes16 catalogId;
        bytes16 apiId;
        string schema;
        string meta;
    }

    /// Domain creation.
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712DomainCreate {
        uint256 chainId;
        address verifyingContract;
        address member;
        uint256 created;
        bytes16 domainId;
        bytes32 domainKey;
        string license;
        string terms;
        string meta;
    }

    /// Node pairing, reference-wire form (`bytes16 nodeKey`; does not verify on chain).
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712NodePair {
        uint256 chainId;
        address verifyingContract;
        address member;
        uint256 paired;
        bytes16 nodeId;
        bytes16 domainId;
        uint8 nodeType;
        bytes16 nodeKey;
        uint256 amount;
        string config;
    }

    /// Delegate certificate (domain WMP/1).
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712DelegateCertificate {
        uint256 chainId;
        address verifyingContract;
        uint256 validFrom;
        address delegate;
        bytes32 csPubKey;
        uint64 bootedAt;
        string meta;
    }

    /// Authority certificate (domain WMP/1).
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712AuthorityCertificate {
        uint256 chainId;
        address verifyingContract;
        uint256 validFrom;
        address issuer;
        address subject;
        address realm;
        uint64 capabilities;
        string meta;
    }

    /// Seeder connect (federated realms).
    #[derive(Debug, PartialEq, Eq)]
    struct EIP712SeederConnect {
        uint256 chainId;
        address verifyingContract;
        string channel_binding;
        bytes32 channel_id;
        uint256 block_no;
        bytes32 challenge;
        bytes32 pubkey;
        address realm;
        address delegate;
        address seeder;
        uint32 bandwidth;
    }
}

/// The on-chain (`XBRTypes.sol`) forms of the three types whose reference definition differs.
/// They keep the Solidity struct name, so their type hashes equal the contract's.
pub mod onchain {
    use alloy_sol_types::sol;

    sol! {
        /// API publication as `XBRTypes.sol` hashes it (`string terms`).
        #[derive(Debug, PartialEq, Eq)]
        struct EIP712ApiPublish {
            uint256 chainId;
            address verifyingContract;
            address member;
            uint256 published;
            bytes16 catalogId;
            bytes16 apiId;
            string terms;
            string meta;
        }

        /// Consent as `XBRTypes.sol` hashes it (no `servicePrefix`).
        #[derive(Debug, PartialEq, Eq)]
        struct EIP712Consent {
            uint256 chainId;
            address verifyingContract;
            address member;
            uint256 updated;
            bytes16 marketId;
            address delegate;
            uint8 delegateType;
            bytes16 apiCatalog;
            bool consent;
        }

        /// Node pairing as `XBRTypes.sol` hashes it (`bytes32 nodeKey`).
        #[derive(Debug, PartialEq, Eq)]
        struct EIP712NodePair {
            uint256 chainId;
            address verifyingContract;
            address member;
            uint256 paired;
            bytes16 nodeId;
            bytes16 domainId;
            uint8 nodeType;
            bytes32 nodeKey;
            uint256 amount;
            string config;
        }
    }
}

pub use onchain::{
    EIP712ApiPublish as EIP712ApiPublishOnChain, EIP712Consent as EIP712ConsentOnChain,
    EIP712NodePair as EIP712NodePairOnChain,
};

static XBR_SEPARATOR: LazyLock<B256> = LazyLock::new(|| XBR_DOMAIN.separator());
static WMP_SEPARATOR: LazyLock<B256> = LazyLock::new(|| WMP_DOMAIN.separator());

/// An XBR typed-data struct together with the domain it is signed under.
pub trait XbrTypedData: SolStruct {
    /// The EIP-712 domain of this type.
    fn domain() -> &'static Eip712Domain;

    /// The (cached) separator of [`XbrTypedData::domain`].
    fn domain_separator() -> B256;
}

macro_rules! xbr_typed {
    ($domain:ident, $separator:ident: $($t:ty),+ $(,)?) => {
        $(impl XbrTypedData for $t {
            fn domain() -> &'static Eip712Domain {
                &$domain
            }

            fn domain_separator() -> B256 {
                *$separator
            }
        })+
    };
}

xbr_typed!(XBR_DOMAIN, XBR_SEPARATOR:
    EIP712ChannelClose, EIP712ChannelOpen, EIP712MarketMemberLogin, EIP712Consent,
    EIP712MemberRegister, EIP712MemberUnregister, EIP712MemberLogin, EIP712MarketCreate,
    EIP712MarketJoin, EIP712MarketLeave, EIP712CatalogCreate, EIP712ApiPublish,
    EIP712DomainCreate, EIP712NodePair, EIP712SeederConnect,
    EIP712ApiPublishOnChain, EIP712ConsentOnChain, EIP712NodePairOnChain,
);
xbr_typed!(WMP_DOMAIN, WMP_SEPARATOR: EIP712DelegateCertificate, EIP712AuthorityCertificate);

/// The digest that is signed: `keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(msg))`.
pub fn signing_hash<T: XbrTypedData>(msg: &T) -> B256 {
    let mut buf = [0u8; 66];
    buf[0] = 0x19;
    buf[1] = 0x01;
    buf[2..34].copy_from_slice(T::domain_separator().as_slice());
    buf[34..].copy_from_slice(msg.eip712_hash_struct().as_slice());
    keccak256(buf)
}

/// Signs typed data with its XBR domain: 65 bytes `r ‖ s ‖ v`, v = 27/28, RFC 6979, low-s.
pub fn sign_typed<T: XbrTypedData>(key: &EthPrivateKey, msg: &T) -> Signature {
    key.sign_digest(&signing_hash(msg))
}

/// Recovers the signer address of typed data signed under its XBR domain.
pub fn recover_typed<T: XbrTypedData>(
    msg: &T,
    signature: &[u8],
) -> Result<Address, SignatureError> {
    recover_digest(&signing_hash(msg), signature)
}

impl EIP712ChannelClose {
    /// Builds a channel-close (balance proof) message. The reference hard-codes `close_at = 1`
    /// in the data market.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        chain_id: u64,
        verifying_contract: Address,
        close_at: u64,
        market_id: MarketId,
        channel_id: ChannelId,
        channel_seq: u32,
        balance: U256,
        is_final: bool,
    ) -> Self {
        Self {
            chainId: U256::from(chain_id),
            verifyingContract: verifying_contract,
            closeAt: U256::from(close_at),
            marketId: market_id.into(),
            channelId: channel_id.into(),
            channelSeq: channel_seq,
            balance,
            isFinal: is_final,
        }
    }
}

impl EIP712ChannelOpen {
    /// Builds a channel-open message; `ctype` is one of [`channel_type`].
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        chain_id: u64,
        verifying_contract: Address,
        ctype: u8,
        opened_at: u64,
        market_id: MarketId,
        channel_id: ChannelId,
        actor: Address,
        delegate: Address,
        marketmaker: Address,
        recipient: Address,
        amount: U256,
    ) -> Self {
        Self {
            chainId: U256::from(chain_id),
            verifyingContract: verifying_contract,
            ctype,
            openedAt: U256::from(opened_at),
            marketId: market_id.into(),
            channelId: channel_id.into(),
            actor,
            delegate,
            marketmaker,
            recipient,
            amount,
        }
    }
}

impl EIP712MarketMemberLogin {
    /// Builds the market-realm login message for a wallet and its cryptosign public key.
    pub fn new(member: Address, client_pubkey: [u8; 32]) -> Self {
        Self {
            member,
            client_pubkey: FixedBytes(client_pubkey),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_hash_name_and_version_only() {
        assert_eq!(
            XBR_DOMAIN.encode_type(),
            "EIP712Domain(string name,string version)"
        );
        assert_eq!(WMP_DOMAIN.encode_type(), XBR_DOMAIN.encode_type());
        assert_ne!(XBR_DOMAIN.separator(), WMP_DOMAIN.separator());
    }

    #[test]
    fn onchain_variants_keep_the_solidity_name() {
        assert!(EIP712ApiPublishOnChain::eip712_encode_type().starts_with("EIP712ApiPublish("));
        assert!(EIP712ApiPublishOnChain::eip712_encode_type().contains("string terms"));
        assert!(!EIP712ConsentOnChain::eip712_encode_type().contains("servicePrefix"));
        assert!(EIP712NodePairOnChain::eip712_encode_type().contains("bytes32 nodeKey"));
        assert_ne!(
            keccak256(EIP712ApiPublishOnChain::eip712_encode_type().as_bytes()),
            keccak256(EIP712ApiPublish::eip712_encode_type().as_bytes())
        );
    }

    #[test]
    fn cached_digest_equals_alloys() {
        let msg = EIP712ChannelClose::new(
            1,
            Address::ZERO,
            1,
            MarketId([1; 16]),
            ChannelId([2; 16]),
            3,
            U256::from(4),
            true,
        );
        assert_eq!(signing_hash(&msg), msg.eip712_signing_hash(&XBR_DOMAIN));
        let cert = EIP712DelegateCertificate {
            meta: "m".into(),
            ..EIP712DelegateCertificate {
                chainId: U256::from(1),
                verifyingContract: Address::ZERO,
                validFrom: U256::ZERO,
                delegate: Address::ZERO,
                csPubKey: B256::ZERO,
                bootedAt: 0,
                meta: String::new(),
            }
        };
        assert_eq!(signing_hash(&cert), cert.eip712_signing_hash(&WMP_DOMAIN));
    }

    #[test]
    fn wmp_types_use_the_wmp_domain() {
        assert_eq!(
            EIP712DelegateCertificate::domain().separator(),
            WMP_DOMAIN.separator()
        );
        assert_eq!(
            EIP712ChannelClose::domain().separator(),
            XBR_DOMAIN.separator()
        );
    }
}
