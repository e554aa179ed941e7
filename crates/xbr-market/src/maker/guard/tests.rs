//! Each caller check, allowed and refused, through `dispatch` on a maker that checks its callers.
//! The fixture's channels: the payment channel's delegate is the buyer, the paying channel's the
//! seller, and both have [`OTHER_KEY`]'s member as actor; the offer of [`KEY_ID`] is the seller's.

use wamp_proto::Dict;

use super::*;
use crate::maker::Procedure;
use crate::maker::testing::{
    BUYER_KEY, Fixture, KEY_ID, MARKET, OTHER_KEY, PAYMENT, SELLER_KEY, domain, final_close, key,
};
use crate::types::{ApiId, ChannelState, Signature, U256};
use crate::wire::{Payload, PlaceOfferRequest};

/// The member both fixture channels are bound to.
fn owner() -> Address {
    key(OTHER_KEY).address()
}

/// A member with no channel at this maker.
fn stranger() -> Address {
    Address::repeat_byte(0x55)
}

fn member(m: Address) -> CallerId {
    CallerId::member(9, m)
}

fn refused(r: MarketResult<Payload>) -> String {
    let e = r.expect_err("the call was allowed");
    assert!(e.is(uri::NOT_AUTHORIZED), "{e}");
    e.message
}

/// Passed the caller check (whatever came of the call itself).
fn not_refused(r: &MarketResult<Payload>) {
    if let Err(e) = r {
        assert!(!e.is(uri::NOT_AUTHORIZED), "{e}");
    }
}

fn offer(delegate_key: &str, provider_key: Option<&str>) -> PlaceOfferRequest {
    PlaceOfferRequest {
        key_id: KeyId([0x02; 16]),
        api_id: ApiId([0x62; 16]),
        uri: "io.crossbar.example".into(),
        valid_from: 1,
        delegate: key(delegate_key).address(),
        signature: Signature([0; 65]),
        price: Some(U256::from(5)),
        categories: None,
        expires: None,
        copies: None,
        provider_id: provider_key.map(|k| key(k).provider_id()),
    }
}

async fn place(f: &Fixture, req: &PlaceOfferRequest, caller: CallerId) -> MarketResult<Payload> {
    let (args, kwargs) = req.to_call();
    f.maker
        .dispatch(Procedure::PlaceOffer, &args, &kwargs, caller)
        .await
}

#[tokio::test]
async fn offers_are_placed_only_by_the_member_of_their_delegate() {
    let f = Fixture::checked(100, 100, 5).await;
    let req = offer(SELLER_KEY, Some(SELLER_KEY));
    let why = refused(place(&f, &req, member(stranger())).await);
    assert!(why.contains("does not belong"), "{why}");
    let why = refused(place(&f, &req, CallerId::from(3)).await);
    assert!(why.contains("not an authenticated market member"), "{why}");
    // The right member, under another delegate's provider id.
    let wrong_pid = offer(SELLER_KEY, Some(BUYER_KEY));
    let why = refused(place(&f, &wrong_pid, member(owner())).await);
    assert!(why.contains("provider_id"), "{why}");
    assert!(f.store.offer_by_key(&req.key_id).unwrap().is_none());
    assert!(f.events.topics().is_empty());

    place(&f, &req, member(owner())).await.unwrap();
    assert!(f.store.offer_by_key(&req.key_id).unwrap().is_some());
    // A delegate that is its own member, without a provider id; the maker's own role.
    let mut own = offer(SELLER_KEY, None);
    own.key_id = KeyId([0x03; 16]);
    place(&f, &own, member(key(SELLER_KEY).address()))
        .await
        .unwrap();
    own.key_id = KeyId([0x04; 16]);
    place(&f, &own, CallerId::operator(1)).await.unwrap();
}

#[tokio::test]
async fn offers_are_revoked_only_by_the_member_of_their_seller() {
    let f = Fixture::checked(100, 100, 5).await;
    let revoke = |caller: CallerId| {
        let args = vec![crate::wire::v_bytes(KEY_ID)];
        let maker = &f.maker;
        async move {
            maker
                .dispatch(Procedure::RevokeOffer, &args, &Dict::new(), caller)
                .await
        }
    };
    refused(revoke(member(stranger())).await);
    refused(revoke(CallerId::default()).await);
    let offer = f.store.offer_by_key(&KEY_ID).unwrap().unwrap();
    assert_eq!(offer.expires, None, "a refused revocation ended the offer");
    revoke(member(owner())).await.unwrap();
    assert!(f.maker.get_quote(KEY_ID).await.is_err());
}

#[tokio::test]
async fn keys_are_bought_only_by_a_party_of_the_payment_channel() {
    let f = Fixture::checked(100, 100, 5).await;
    let args = f.request().to_args();
    let buy = async |caller: CallerId| {
        f.maker
            .dispatch(Procedure::BuyKey, &args, &Dict::new(), caller)
            .await
    };
    let why = refused(buy(member(stranger())).await);
    assert!(why.contains("neither the actor"), "{why}");
    refused(buy(CallerId::from(4)).await);
    assert_eq!(f.view(&PAYMENT), (1, U256::from(100), U256::ZERO));
    assert!(f.seller.calls.lock().unwrap().is_empty());
    // The channel's actor.
    buy(member(owner())).await.unwrap();
    assert_eq!(f.view(&PAYMENT).0, 2);
    // The delegate itself (its own member), continuing the channel.
    let args = f.request().to_args();
    let r = f
        .maker
        .dispatch(
            Procedure::BuyKey,
            &args,
            &Dict::new(),
            member(key(BUYER_KEY).address()),
        )
        .await;
    r.unwrap();
    assert_eq!(f.view(&PAYMENT).0, 3);
}

fn open_request(member: Address, amount: U256) -> OpenChannelRequest {
    OpenChannelRequest {
        member,
        market_oid: MARKET,
        channel_oid: ChannelId([0x33; 16]),
        verifying_chain_id: domain().chain_id,
        current_block_number: 1,
        verifying_contract: domain().verifying_contract,
        channel_type: ChannelType::Payment,
        delegate: key(BUYER_KEY).address(),
        marketmaker: key(crate::maker::testing::MAKER_KEY).address(),
        recipient: owner(),
        amount,
        signature: Signature([0; 65]),
    }
}

#[tokio::test]
async fn channels_are_opened_only_for_the_calling_member_and_up_to_the_cap() {
    let f = Fixture::checked(100, 100, 5).await;
    let cap = U256::from(DEFAULT_MAX_CHANNEL_AMOUNT);
    let open = |req: OpenChannelRequest, caller: CallerId| {
        let maker = &f.maker;
        async move {
            maker
                .dispatch(Procedure::OpenChannel, &req.to_args(), &Dict::new(), caller)
                .await
        }
    };
    let why = refused(open(open_request(owner(), cap), member(stranger())).await);
    assert!(why.contains("not for the calling member"), "{why}");
    refused(open(open_request(owner(), cap), CallerId::default()).await);
    let why = refused(open(open_request(owner(), cap + U256::from(1)), member(owner())).await);
    assert!(why.contains("exceeds the maker's cap"), "{why}");
    // The cap holds for the maker's own role too.
    refused(
        open(
            open_request(owner(), cap + U256::from(1)),
            CallerId::operator(1),
        )
        .await,
    );
    // Allowed: it goes on to open the channel (and fails there: this maker has no chain).
    let r = open(open_request(owner(), cap), member(owner())).await;
    not_refused(&r);
    assert!(r.is_err());
}

#[tokio::test]
async fn channels_are_closed_only_by_their_parties() {
    let f = Fixture::checked(100, 100, 5).await;
    let args = final_close(100).to_args();
    let close = async |caller: CallerId| {
        f.maker
            .dispatch(Procedure::CloseChannel, &args, &Dict::new(), caller)
            .await
    };
    refused(close(member(stranger())).await);
    refused(close(CallerId::from(2)).await);
    let state = |f: &Fixture| f.store.channel(&PAYMENT).unwrap().unwrap().state;
    assert_eq!(state(&f), ChannelState::Open);
    close(member(owner())).await.unwrap();
    assert_eq!(state(&f), ChannelState::Closing);
}

#[tokio::test]
async fn delegates_belong_to_their_channels_actor_and_to_a_paying_channels_recipient() {
    let f = Fixture::checked(100, 100, 5).await;
    let (buyer, seller) = (key(BUYER_KEY).address(), key(SELLER_KEY).address());
    let belongs = |d, m| f.maker.delegate_belongs_to(d, m);
    assert!(belongs(buyer, owner()).await.unwrap());
    assert!(belongs(seller, owner()).await.unwrap());
    assert!(belongs(buyer, buyer).await.unwrap());
    assert!(!belongs(buyer, stranger()).await.unwrap());
    // The fixture's payment channel names its delegate as recipient: that binds nothing.
    assert!(!belongs(buyer, seller).await.unwrap());
    let mut paying = f
        .store
        .channel(&crate::maker::testing::PAYING)
        .unwrap()
        .unwrap();
    paying.recipient = stranger();
    assert!(binds(&paying, seller, stranger()));
    paying.channel_type = ChannelType::Payment;
    assert!(!binds(&paying, seller, stranger()));
}

#[tokio::test]
async fn reads_are_open_to_anyone_and_an_unchecked_maker_checks_nobody() {
    let f = Fixture::checked(100, 100, 5).await;
    let args = vec![crate::wire::v_bytes(KEY_ID)];
    f.maker
        .dispatch(Procedure::GetQuote, &args, &Dict::new(), 0)
        .await
        .unwrap();
    f.maker
        .dispatch(Procedure::GetStatus, &[], &Dict::new(), 0)
        .await
        .unwrap();

    let open = Fixture::new(100, 100, 5).await;
    let (args, kwargs) = offer(SELLER_KEY, Some(BUYER_KEY)).to_call();
    open.maker
        .dispatch(Procedure::PlaceOffer, &args, &kwargs, 0)
        .await
        .unwrap();
    let revoke = vec![crate::wire::v_bytes(KEY_ID)];
    open.maker
        .dispatch(Procedure::RevokeOffer, &revoke, &Dict::new(), 0)
        .await
        .unwrap();
}
