//! Whom the buyer pays: the sellers and APIs it is configured for, checked against the maker's
//! quote before a purchase intent is written.

use crate::error::{MarketError, MarketResult, uri};
use crate::types::{Address, ApiId};
use crate::wire::Quote;

/// The sellers (delegate addresses) and APIs the buyer buys from. An empty list allows any; with
/// both lists given, an offer must match both.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList {
    /// Seller delegate addresses (empty: any seller).
    pub sellers: Vec<Address>,
    /// API ids (empty: any API).
    pub apis: Vec<ApiId>,
}

impl AllowList {
    /// Whether any seller and any API is allowed.
    pub fn is_open(&self) -> bool {
        self.sellers.is_empty() && self.apis.is_empty()
    }

    /// `Ok` when the quoted offer's seller and API are allowed, else
    /// `xbr.error.offer_not_allowed`. A quote that does not name them (a reference maker's) passes
    /// only lists that do not restrict them.
    pub fn check(&self, quote: &Quote) -> MarketResult<()> {
        check_one("seller", &self.sellers, quote.seller.as_ref())?;
        check_one("API", &self.apis, quote.api_id.as_ref())
    }
}

fn check_one<T: PartialEq + std::fmt::Display>(
    what: &str,
    allowed: &[T],
    quoted: Option<&T>,
) -> MarketResult<()> {
    if allowed.is_empty() {
        return Ok(());
    }
    match quoted {
        Some(q) if allowed.contains(q) => Ok(()),
        Some(q) => Err(MarketError::new(
            uri::OFFER_NOT_ALLOWED,
            format!("the offer's {what} {q} is not one this buyer buys from"),
        )),
        None => Err(MarketError::new(
            uri::OFFER_NOT_ALLOWED,
            format!("the maker's quote names no {what}, so the allow-list cannot be checked"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{KeyId, U256};

    fn quote(seller: Option<Address>, api: Option<ApiId>) -> Quote {
        Quote {
            timestamp: 1,
            key_id: KeyId([1; 16]),
            price: U256::from(5u64),
            expires: 0,
            seller,
            api_id: api,
        }
    }

    #[test]
    fn an_open_list_allows_any_quote_even_one_naming_nobody() {
        let open = AllowList::default();
        assert!(open.is_open());
        assert!(open.check(&quote(None, None)).is_ok());
        assert!(
            open.check(&quote(Some(Address::repeat_byte(9)), Some(ApiId([2; 16]))))
                .is_ok()
        );
    }

    #[test]
    fn sellers_and_apis_both_restrict() {
        let (good, bad) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let (api, other) = (ApiId([1; 16]), ApiId([2; 16]));
        let list = AllowList {
            sellers: vec![good],
            apis: vec![api],
        };
        assert!(!list.is_open());
        assert!(list.check(&quote(Some(good), Some(api))).is_ok());
        for q in [
            quote(Some(bad), Some(api)),
            quote(Some(good), Some(other)),
            quote(None, Some(api)),
            quote(Some(good), None),
        ] {
            let e = list.check(&q).unwrap_err();
            assert_eq!(e.uri, uri::OFFER_NOT_ALLOWED, "{}", e.message);
        }
        let sellers_only = AllowList {
            sellers: vec![good],
            apis: vec![],
        };
        assert!(sellers_only.check(&quote(Some(good), None)).is_ok());
    }
}
