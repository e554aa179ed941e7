//! Why a port failed, in domain terms (the admin layer maps them to HTTP statuses and codes).

use xbr_market::MarketError;
use xbr_market::error::uri;

use crate::config::Role;

/// Why the role could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// The thing asked for does not exist (an API, a key …).
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed.
    #[error("{0}")]
    InvalidInput(String),
    /// The role is not started yet.
    #[error("{0}")]
    NotReady(String),
    /// The request does not apply to this role.
    #[error("{what} is not available for role {role}")]
    NotSupported {
        /// What was asked.
        what: &'static str,
        /// The running role.
        role: Role,
    },
    /// A WAMP peer (router, market maker) failed or could not be reached.
    #[error("{0}")]
    Peer(String),
    /// Anything else (store failures …).
    #[error("{0}")]
    Internal(String),
}

impl RoleError {
    /// [`RoleError::NotSupported`].
    pub fn not_supported(what: &'static str, role: Role) -> Self {
        RoleError::NotSupported { what, role }
    }
}

/// A role's error: the domain URIs the admin API distinguishes, then errors the role did not
/// produce itself (WAMP's own `wamp.error.*` and the transport's) as peer failures.
impl From<MarketError> for RoleError {
    fn from(e: MarketError) -> Self {
        let peer = e.is_wamp_or_transport();
        match e.uri.as_ref() {
            uri::NO_SUCH_OBJECT => RoleError::NotFound(e.message),
            uri::INVALID_ARGUMENT => RoleError::InvalidInput(e.message),
            uri::NOT_STARTED => RoleError::NotReady(e.message),
            _ if peer => RoleError::Peer(format!("{}: {}", e.uri, e.message)),
            _ => RoleError::Internal(format!("{}: {}", e.uri, e.message)),
        }
    }
}

impl From<xbr_market::store::StoreError> for RoleError {
    fn from(e: xbr_market::store::StoreError) -> Self {
        RoleError::Internal(format!("store: {e}"))
    }
}

/// Why the chain could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The gateway cannot be reached (connecting failed).
    #[error("{0}")]
    Unreachable(String),
    /// The gateway answered a read with an error.
    #[error("{0}")]
    Read(String),
    /// The gateway serves another chain than `ethereum.chain_id`: refused, nothing is sent.
    #[error("{WRONG_CHAIN}: {0}")]
    WrongChain(String),
}

/// How a wrong-chain error begins (`/ready` lists it as its own failed check).
pub const WRONG_CHAIN: &str = "wrong chain";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn market_errors_map_by_uri() {
        let e = |u: &str| RoleError::from(MarketError::from_uri(u.to_owned(), "m"));
        assert_eq!(e(uri::NO_SUCH_OBJECT), RoleError::NotFound("m".into()));
        assert_eq!(
            e(uri::INVALID_ARGUMENT),
            RoleError::InvalidInput("m".into())
        );
        assert_eq!(e(uri::NOT_STARTED), RoleError::NotReady("m".into()));
        assert!(matches!(e("wamp.error.timeout"), RoleError::Peer(_)));
        assert!(matches!(
            e("xbr.error.transport.failed"),
            RoleError::Peer(_)
        ));
        assert!(matches!(
            e("xbr.error.invalid_signature"),
            RoleError::Internal(_)
        ));
    }
}
