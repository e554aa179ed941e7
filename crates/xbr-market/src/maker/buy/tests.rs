//! Each step of `buy_key` on the in-memory store, with real signatures.

use super::super::testing::*;
use crate::error::{MarketError, uri};
use crate::peer::now_ns;
use crate::sig;
use crate::types::{ChannelId, ChannelState, ChannelType, KeyId, SaleStatus, U256};

fn n(v: u64) -> U256 {
    U256::from(v)
}

#[tokio::test]
async fn check_buyer_signature_accepts_the_delegate_and_rejects_another_signer() {
    let f = Fixture::new(100, 1000, 35).await;
    f.maker.check_buyer_signature(&f.request()).unwrap();
    let e = f
        .maker
        .check_buyer_signature(&f.request_signed_by(OTHER_KEY))
        .unwrap_err();
    assert_eq!(e.uri, uri::INVALID_SIGNATURE);
    assert!(e.message.contains("buyer delegate"), "{}", e.message);
}

#[tokio::test]
async fn check_payment_yields_price_and_remaining_after() {
    let f = Fixture::new(100, 1000, 35).await;
    let checked = f.maker.check_payment(&f.request()).await.unwrap();
    assert_eq!(checked.price, n(35));
    assert_eq!(checked.remaining_after, n(65));
    assert_eq!(checked.payment.channel_oid, PAYMENT);
    assert_eq!(checked.offer.offer_id, OFFER_ID);
}

#[tokio::test]
async fn check_payment_rejects_what_does_not_continue_the_channel() {
    let f = Fixture::new(100, 1000, 35).await;
    let check = |mut edit: Box<dyn FnMut(&mut crate::wire::BuyKeyRequest)>| {
        let mut req = f.request();
        edit(&mut req);
        Fixture::resign(&mut req);
        let maker = &f.maker;
        async move { maker.check_payment(&req).await.unwrap_err() }
    };
    let e = check(Box::new(|r| r.amount = n(34))).await;
    assert_eq!(e.uri, uri::INSUFFICIENT_AMOUNT);
    let e = check(Box::new(|r| r.channel_seq = 3)).await;
    assert_eq!(e.uri, uri::UNEXPECTED_CHANNEL_SEQ);
    assert_eq!(
        e.message,
        "payment channel seq is 1, expected 2 in the request"
    );
    let e = check(Box::new(|r| r.balance = n(66))).await;
    assert_eq!(e.uri, uri::UNEXPECTED_CHANNEL_BALANCE);
    let e = check(Box::new(|r| r.delegate = key(OTHER_KEY).address())).await;
    assert_eq!(e.uri, uri::UNEXPECTED_DELEGATE_ADR);
    let e = check(Box::new(|r| r.channel_oid = PAYING)).await;
    assert_eq!(e.uri, uri::NO_SUCH_OBJECT);
    let e = check(Box::new(|r| r.key_id = KeyId([0x77; 16]))).await;
    assert_eq!(e.uri, uri::NO_SUCH_OBJECT);
    // Nothing was reserved by a rejected request.
    assert_eq!(f.view(&PAYMENT), (1, n(100), n(0)));
}

#[tokio::test]
async fn check_payment_rejects_a_price_above_the_payment_remaining_and_an_expired_offer() {
    let f = Fixture::new(30, 1000, 35).await;
    let mut req = f.request_signed_by(BUYER_KEY);
    req.balance = n(0);
    let e = f.maker.check_payment(&req).await.unwrap_err();
    assert_eq!(e.uri, uri::INSUFFICIENT_PAYMENT_BALANCE);

    let f = Fixture::new(100, 1000, 35).await;
    f.store.set_offer_expires(&KEY_ID, now_ns() - 1).unwrap();
    let e = f.maker.check_payment(&f.request()).await.unwrap_err();
    assert_eq!(e.uri, uri::OFFER_EXPIRED);
}

#[tokio::test]
async fn pick_paying_channel_prefers_one_that_earns_the_price() {
    let f = Fixture::new(100, 10, 35).await;
    let seller = key(SELLER_KEY).address();
    // Only the exhausted one: picked all the same (claiming it closes it).
    assert_eq!(
        f.maker.pick_paying_channel(seller, n(35)).await.unwrap(),
        PAYING
    );
    let rich = ChannelId([0x0c; 16]);
    f.maker
        .mirror_channel(&chain_channel(rich, ChannelType::Paying, seller, n(500)))
        .await
        .unwrap();
    assert_eq!(
        f.maker.pick_paying_channel(seller, n(35)).await.unwrap(),
        rich
    );
    let e = f
        .maker
        .pick_paying_channel(key(OTHER_KEY).address(), n(1))
        .await
        .unwrap_err();
    assert_eq!(e.uri, uri::INSUFFICIENT_PAYING_BALANCE);
    assert_eq!(e.message, "seller has no active paying channel");
}

#[tokio::test]
async fn claim_paying_channel_closes_an_exhausted_one() {
    let f = Fixture::new(100, 10, 35).await;
    let checked = f.maker.check_payment(&f.request()).await.unwrap();
    let e = f
        .maker
        .claim_paying_channel(PAYING, &checked)
        .await
        .unwrap_err();
    assert_eq!(e.uri, uri::INSUFFICIENT_PAYING_BALANCE);
    assert_eq!(e.message, "paying channel cannot earn the price");
    assert_eq!(
        f.events.topics(),
        [
            "xbr.marketmaker.on_paying_channel_empty".to_string(),
            "xbr.marketmaker.on_paying_channel_closing".to_string(),
            format!("xbr.provider.{SELLER_AUTHID}.on_channel_closed"),
        ]
    );
    assert_eq!(
        *f.seller.calls.lock().unwrap(),
        [format!("xbr.provider.{SELLER_AUTHID}.close_channel")]
    );
    let paying = f.store.channel(&PAYING).unwrap().unwrap();
    assert_eq!(paying.state, ChannelState::Closing);
    let close = paying.close.unwrap();
    assert_eq!((close.seq, close.balance, close.is_final), (1, n(10), true));
    // Closed now: claiming it again fails without another close.
    let e = f
        .maker
        .claim_paying_channel(PAYING, &checked)
        .await
        .unwrap_err();
    assert_eq!(e.message, "paying channel closed");
    assert_eq!(f.seller.calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn reserve_advances_both_channels_and_stores_the_sale_in_flight() {
    let f = Fixture::new(100, 1000, 35).await;
    let r = reserved(&f).await;
    assert_eq!(f.view(&PAYMENT), (2, n(65), n(35)));
    assert_eq!(f.view(&PAYING), (2, n(965), n(35)));
    let sale = f.store.sale(&r.sale.tx_id).unwrap().unwrap();
    assert_eq!(sale.status, SaleStatus::Inflight);
    assert_eq!((sale.paying_seq, sale.paying_remaining), (2, n(965)));
    assert_eq!(r.sell_state, sig::off_chain(MARKET, PAYING, 2, n(965)));
    assert_eq!(r.seller_delegate, key(SELLER_KEY).address());
    // XBRSIG 3 is the maker's over the paying state.
    domain()
        .verify(
            &r.sell_state,
            &sale.maker_sell_signature,
            &key(MAKER_KEY).address(),
            "maker",
        )
        .unwrap();
}

async fn reserved(f: &Fixture) -> super::Reservation {
    let req = f.request();
    let checked = f.maker.check_payment(&req).await.unwrap();
    let paying = f
        .maker
        .claim_paying_channel(PAYING, &checked)
        .await
        .unwrap();
    f.maker.reserve(&req, &checked, &paying).await.unwrap()
}

#[tokio::test]
async fn call_seller_checks_the_receipt() {
    let f = Fixture::new(100, 1000, 35).await;
    let r = reserved(&f).await;
    let receipt = f.maker.call_seller(&r).await.unwrap();
    assert_eq!(receipt.key_id, KEY_ID);
    assert_eq!((receipt.channel_seq, receipt.balance), (2, n(965)));
    assert_eq!(
        *f.seller.calls.lock().unwrap(),
        [format!("xbr.provider.{SELLER_AUTHID}.sell")]
    );

    *f.seller.script.lock().unwrap() = SellerScript::WrongSigner;
    let e = f.maker.call_seller(&r).await.unwrap_err();
    assert_eq!(e.uri, uri::INVALID_SIGNATURE);
    assert!(e.message.contains("seller delegate"), "{}", e.message);

    *f.seller.script.lock().unwrap() = SellerScript::WrongKey;
    let e = f.maker.call_seller(&r).await.unwrap_err();
    assert_eq!(e.uri, uri::TRANSACTION_FAILED);

    let refused = MarketError::new(uri::UNEXPECTED_CHANNEL_SEQ, "seller says no");
    *f.seller.script.lock().unwrap() = SellerScript::Fail(refused.clone());
    assert_eq!(f.maker.call_seller(&r).await.unwrap_err(), refused);
}

#[tokio::test]
async fn roll_back_restores_both_channels_and_fails_the_sale() {
    let f = Fixture::new(100, 1000, 35).await;
    let r = reserved(&f).await;
    let e = MarketError::new(uri::TRANSACTION_FAILED, "seller gone");
    f.maker.roll_back(&r, &e).await;
    assert_eq!(f.view(&PAYMENT), (1, n(100), n(0)));
    assert_eq!(f.view(&PAYING), (1, n(1000), n(0)));
    let sale = f.store.sale(&r.sale.tx_id).unwrap().unwrap();
    assert_eq!(sale.status, SaleStatus::Failed);
    assert_eq!(sale.failure.as_deref(), Some(e.to_string().as_str()));
}

#[tokio::test]
async fn settle_completes_the_sale_and_signs_the_receipt() {
    let f = Fixture::new(35, 1000, 35).await;
    let r = reserved(&f).await;
    let receipt = f.maker.call_seller(&r).await.unwrap();
    let seller_sig = receipt.signature;
    let out = f.maker.settle(&r, receipt).await.unwrap();
    assert_eq!(f.view(&PAYMENT), (2, n(0), n(0)));
    assert_eq!(f.view(&PAYING), (2, n(965), n(0)));
    let sale = f.store.sale(&r.sale.tx_id).unwrap().unwrap();
    assert_eq!(sale.status, SaleStatus::Completed);
    assert_eq!(sale.seller_signature, Some(seller_sig));
    assert_eq!(sale.maker_receipt_signature.as_ref(), Some(&out.signature));
    assert_eq!(
        (out.channel_seq, out.remaining, out.inflight),
        (2, n(0), n(0))
    );
    assert_eq!((out.amount, out.amount_paid), (n(35), n(35)));
    assert_eq!(out.offer_id, Some(OFFER_ID));
    assert!(!out.free_rated);
    // XBRSIG 7 is the maker's over the new payment state.
    domain()
        .verify(
            &sig::off_chain(MARKET, PAYMENT, 2, n(0)),
            &out.signature,
            &key(MAKER_KEY).address(),
            "maker",
        )
        .unwrap();
    // The payment channel is exhausted, the paying one is not.
    assert_eq!(
        f.events.topics(),
        ["xbr.marketmaker.on_payment_channel_empty"]
    );
}

#[tokio::test]
async fn buy_key_runs_the_steps_and_rolls_back_a_failed_sale() {
    let f = Fixture::new(100, 1000, 35).await;
    let receipt = f.maker.buy_key(f.request()).await.unwrap();
    assert_eq!((receipt.channel_seq, receipt.remaining), (2, n(65)));
    assert_eq!(f.view(&PAYING), (2, n(965), n(0)));

    *f.seller.script.lock().unwrap() = SellerScript::WrongSigner;
    let e = f.maker.buy_key(f.request()).await.unwrap_err();
    assert_eq!(e.uri, uri::INVALID_SIGNATURE);
    assert_eq!(f.view(&PAYMENT), (2, n(65), n(0)));
    assert_eq!(f.view(&PAYING), (2, n(965), n(0)));
    let statuses: Vec<_> = f.store.sales().unwrap().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [SaleStatus::Completed, SaleStatus::Failed]);
}

#[tokio::test]
async fn buy_key_sells_a_free_key() {
    let f = Fixture::new(100, 1000, 0).await;
    let receipt = f.maker.buy_key(f.request()).await.unwrap();
    assert!(receipt.free_rated);
    assert_eq!(receipt.amount_paid, n(0));
    assert_eq!(f.view(&PAYMENT), (2, n(100), n(0)));
}
