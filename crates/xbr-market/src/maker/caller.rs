//! Who calls the maker: the caller as the router disclosed it ([`CallerId`], from the
//! INVOCATION details), the [`Principal`] the maker's checks ([`super::guard`]) and its router
//! authorizer ([`super::authorizer`]) reason about, and the [`CallerPolicy`] that says whether
//! the checks run at all.

use alloy_primitives::hex;
use wamp_proto::{Dict, Value};
use xbr_core::eth::keccak;

pub use super::authenticator::{ROLE_USER, member_authid};
use crate::types::Address;

/// The authrole the maker's own sessions (and operators) join with: trusted, everything allowed.
pub const ROLE_MAKER: &str = "xbrmm";
/// The authid prefix of a `user` session: `member-<40 lowercase hex digits of the member>`
/// (as [`member_authid`] writes it).
pub const MEMBER_AUTHID_PREFIX: &str = "member-";

/// Whether the maker checks who calls its procedures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallerPolicy {
    /// Every changing procedure checks the disclosed caller (xbrd always runs so).
    Authenticated,
    /// No caller checks: only for library tests on an open realm and in-process buses, where
    /// nobody discloses callers. Not settable from xbrd's configuration.
    Unchecked,
}

/// The caller of one procedure call as the router disclosed it (all `None`/0 when it did not).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallerId {
    /// The caller's session id (0 when not disclosed).
    pub session: u64,
    /// The caller's authid.
    pub authid: Option<String>,
    /// The caller's authrole.
    pub authrole: Option<String>,
}

impl From<u64> for CallerId {
    /// Only a session id (in-process calls): an [`Principal::Anonymous`] caller.
    fn from(session: u64) -> Self {
        Self {
            session,
            ..Self::default()
        }
    }
}

impl CallerId {
    /// The caller of an INVOCATION from its details. A CALL may carry `forward_for` (meant for
    /// router-to-router links, but any client can send it, and Crossbar then discloses its first
    /// entry as `caller_authid`): the session that really sent the CALL is the list's last
    /// entry, so that one is the caller.
    pub fn from_details(details: &Dict) -> Self {
        let str_of = |d: &Dict, k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
        let forwarded = match details.get("forward_for") {
            Some(Value::List(hops)) => match hops.last() {
                Some(Value::Dict(hop)) => Some(hop),
                // A malformed list names nobody.
                _ => return Self::default(),
            },
            Some(_) => return Self::default(),
            None => None,
        };
        match forwarded {
            Some(hop) => Self {
                session: hop.get("session").and_then(Value::as_u64).unwrap_or(0),
                authid: str_of(hop, "authid"),
                authrole: str_of(hop, "authrole"),
            },
            None => Self {
                session: details.get("caller").and_then(Value::as_u64).unwrap_or(0),
                authid: str_of(details, "caller_authid"),
                authrole: str_of(details, "caller_authrole"),
            },
        }
    }

    /// A `user` caller authenticated as `member`.
    pub fn member(session: u64, member: Address) -> Self {
        Self {
            session,
            authid: Some(member_authid(&member)),
            authrole: Some(ROLE_USER.to_owned()),
        }
    }

    /// A caller with the maker's role.
    pub fn operator(session: u64) -> Self {
        Self {
            session,
            authid: Some("xbrmm".to_owned()),
            authrole: Some(ROLE_MAKER.to_owned()),
        }
    }
}

/// Who a caller is, for the maker's checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A delegate session authenticated for this market member (authrole `user`, authid
    /// `member-<hex>`).
    Member(Address),
    /// The maker's own role (`xbrmm`): trusted.
    Operator,
    /// Anything else, an undisclosed caller included.
    Anonymous,
}

impl Principal {
    /// The principal of an authrole and authid.
    pub fn of(authrole: Option<&str>, authid: Option<&str>) -> Self {
        match authrole {
            Some(ROLE_MAKER) => Self::Operator,
            Some(ROLE_USER) => authid
                .and_then(member_of_authid)
                .map_or(Self::Anonymous, Self::Member),
            _ => Self::Anonymous,
        }
    }

    /// The principal of a disclosed caller.
    pub fn of_caller(caller: &CallerId) -> Self {
        Self::of(caller.authrole.as_deref(), caller.authid.as_deref())
    }
}

/// The member of a `member-<40 hex>` authid (`None` for anything else).
pub fn member_of_authid(authid: &str) -> Option<Address> {
    let digits = authid.strip_prefix(MEMBER_AUTHID_PREFIX)?;
    if digits.len() != 40 {
        return None;
    }
    let mut raw = [0u8; 20];
    hex::decode_to_slice(digits, &mut raw).ok()?;
    Some(Address::from(raw))
}

/// The delegate address of a reference provider id (`0x` + 128 hex digits: the uncompressed
/// secp256k1 public key without `04`): the last 20 bytes of its keccak256. `None` if it is not
/// of that form.
pub fn provider_address(provider_id: &str) -> Option<Address> {
    let digits = provider_id.strip_prefix("0x")?;
    if digits.len() != 128 {
        return None;
    }
    let mut raw = [0u8; 64];
    hex::decode_to_slice(digits, &mut raw).ok()?;
    Some(Address::from_slice(&keccak(raw)[12..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maker::testing::{SELLER_KEY, key};

    fn dict(pairs: &[(&str, Value)]) -> Dict {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn member_authids_round_trip_and_nothing_else_is_a_member() {
        let m = key(SELLER_KEY).address();
        let authid = member_authid(&m);
        assert_eq!(authid.len(), MEMBER_AUTHID_PREFIX.len() + 40);
        assert_eq!(authid, authid.to_lowercase());
        assert_eq!(member_of_authid(&authid), Some(m));
        for bad in [
            "member-",
            "member-0x12",
            "anonymous-3",
            "member-zz",
            &authid[1..],
        ] {
            assert_eq!(member_of_authid(bad), None, "{bad}");
        }
    }

    #[test]
    fn principals_follow_the_authrole() {
        let m = key(SELLER_KEY).address();
        let authid = member_authid(&m);
        assert_eq!(
            Principal::of(Some("user"), Some(&authid)),
            Principal::Member(m)
        );
        assert_eq!(Principal::of(Some("xbrmm"), None), Principal::Operator);
        // A member authid under another role, a user without a member authid, nothing at all.
        assert_eq!(
            Principal::of(Some("anonymous"), Some(&authid)),
            Principal::Anonymous
        );
        assert_eq!(
            Principal::of(Some("user"), Some("alice")),
            Principal::Anonymous
        );
        assert_eq!(Principal::of(None, None), Principal::Anonymous);
        assert_eq!(
            Principal::of_caller(&CallerId::from(7)),
            Principal::Anonymous
        );
    }

    #[test]
    fn the_caller_is_the_session_that_sent_the_call_not_a_forwarded_claim() {
        let victim = member_authid(&key(SELLER_KEY).address());
        let plain = dict(&[
            ("caller", Value::from(5u64)),
            ("caller_authid", Value::from(victim.as_str())),
            ("caller_authrole", Value::from("user")),
        ]);
        let c = CallerId::from_details(&plain);
        assert_eq!(
            (c.session, c.authid.as_deref(), c.authrole.as_deref()),
            (5, Some(victim.as_str()), Some("user"))
        );
        // An attacker's CALL claimed the victim in forward_for; the router appended the attacker.
        let hop = |session: u64, authid: &str, authrole: &str| {
            Value::Dict(dict(&[
                ("session", Value::from(session)),
                ("authid", Value::from(authid)),
                ("authrole", Value::from(authrole)),
            ]))
        };
        let mut forwarded = plain.clone();
        forwarded.insert(
            "forward_for".into(),
            Value::List(vec![
                hop(5, &victim, "user"),
                hop(9, "anonymous-9", "anonymous"),
            ]),
        );
        let c = CallerId::from_details(&forwarded);
        assert_eq!(c.session, 9);
        assert_eq!(Principal::of_caller(&c), Principal::Anonymous);
        forwarded.insert("forward_for".into(), Value::from("junk"));
        assert_eq!(CallerId::from_details(&forwarded), CallerId::default());
    }

    #[test]
    fn a_provider_id_names_its_delegate() {
        let k = key(SELLER_KEY);
        assert_eq!(provider_address(&k.provider_id()), Some(k.address()));
        assert_eq!(
            provider_address(&k.provider_id().to_uppercase().replacen("0X", "0x", 1)),
            Some(k.address())
        );
        for bad in ["", "0x", "0xabc", &k.provider_id()[2..]] {
            assert_eq!(provider_address(bad), None, "{bad}");
        }
    }
}
