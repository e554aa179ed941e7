//! Deploy + bootstrap a complete market on each dev chain kind and read everything back from the
//! contracts.

mod common;

use alloy_primitives::{Address, U256};
use common::{ChainKind, KEYS, deployed_chain, key};
use xbr_chain::bootstrap::{ChannelKind, ChannelSpec, MakerSpec, MemberSpec, OwnerSpec};
use xbr_chain::{
    ActorType, ChainError, ChannelEvent, ChannelState, ChannelType, CloseChannel,
    MarketDescription, MemberLevel, bootstrap,
};
use xbr_core::eip712::{EIP712ChannelClose, EIP712ChannelOpen, recover_typed, sign_typed};
use xbr_core::{ChannelId, MarketId};

per_chain!(
    bootstrapped_market_reads_back_from_the_contracts,
    channel_lifecycle_logs_read_back_whole_or_in_one_block_ranges,
    rerunning_a_bootstrap_changes_nothing_but_funding,
    contract_rejections_surface_their_reason,
);

fn xbr(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

const MARKET: MarketId = MarketId([0xa1; 16]);
const PAYMENT: ChannelId = ChannelId([0xb1; 16]);
const PAYING: ChannelId = ChannelId([0xc1; 16]);

/// Owner = account 1, seller member = 2, buyer member = 3, seller delegate = 4,
/// buyer delegate = 5, market maker = 6 (the roles of the reference examples).
fn description() -> MarketDescription {
    let json = serde_json::json!({
        "market_id": format!("0x{}", "a1".repeat(16)),
        "terms": "QmTerms",
        "meta": "QmMeta",
        "provider_security": xbr(10).to_string(),
        "consumer_security": xbr(7).to_string(),
        "market_fee": "0",
        "owner": { "key": KEYS[1], "xbr": xbr(100).to_string(), "profile": "QmOwner" },
        "maker": { "key": format!("0x{}", KEYS[6]), "xbr": xbr(5000).to_string() },
        "members": [
            { "key": KEYS[2], "actor": "provider", "xbr": xbr(1000).to_string(), "meta": "QmSeller" },
            { "key": KEYS[3], "actor": "consumer", "xbr": xbr(2000).to_string() }
        ],
        "channels": [
            { "channel_id": format!("0x{}", "b1".repeat(16)), "kind": "payment",
              "member": key(3).address(), "delegate": key(5).address(), "amount": xbr(500).to_string() },
            { "channel_id": format!("0x{}", "c1".repeat(16)), "kind": "paying",
              "member": key(2).address(), "delegate": key(4).address(), "amount": xbr(1500).to_string() }
        ]
    });
    serde_json::from_value(json).unwrap()
}

async fn bootstrapped_market_reads_back_from_the_contracts(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    let chain = &d.chain;
    let desc = description();
    let (owner, seller, buyer) = (key(1).address(), key(2).address(), key(3).address());
    let (seller_delegate, buyer_delegate, maker) =
        (key(4).address(), key(5).address(), key(6).address());
    let channel_contract = chain.addresses().channel;
    assert_eq!(
        chain.xbr_balance(channel_contract).await.unwrap(),
        U256::ZERO
    );

    let market = bootstrap(chain, &d.deployer, &desc).await.unwrap();
    assert_eq!(market.owner, owner);
    assert_eq!(market.maker, maker);
    assert_eq!(market.verifying_chain_id, 1337);
    assert_eq!(market.verifying_contract, chain.addresses().network);
    assert_eq!(market.channels.len(), 2);
    assert!(market.channels.iter().all(|c| c.opened_now));

    // Market: owner and maker read back, both ways.
    let market_id = MARKET;
    assert_eq!(chain.market_owner(market_id).await.unwrap(), Some(owner));
    assert_eq!(
        chain.markets_by_maker(maker).await.unwrap(),
        Some(market_id)
    );
    let status = chain.market_status(market_id).await.unwrap().unwrap();
    assert_eq!(status.owner, owner);
    assert_eq!(status.maker, maker);
    assert_eq!(status.coin, chain.addresses().token);
    assert_eq!(
        (status.terms.as_str(), status.meta.as_str()),
        ("QmTerms", "QmMeta")
    );
    assert_eq!(status.provider_security, xbr(10));
    assert_eq!(status.consumer_security, xbr(7));

    // Members registered and joined in their roles.
    for member in [owner, seller, buyer] {
        let m = chain.member_status(member).await.unwrap().unwrap();
        assert_eq!(m.level, MemberLevel::Active);
    }
    assert_eq!(
        chain.member_status(maker).await.unwrap(),
        None,
        "the maker need not be a member"
    );
    assert!(
        chain
            .is_actor(market_id, seller, ActorType::Provider)
            .await
            .unwrap()
    );
    assert!(
        !chain
            .is_actor(market_id, seller, ActorType::Consumer)
            .await
            .unwrap()
    );
    assert!(
        chain
            .is_actor(market_id, buyer, ActorType::Consumer)
            .await
            .unwrap()
    );

    // Payment channel: buyer → market maker, payout to the market owner.
    let payment = chain.channel(PAYMENT).await.unwrap().unwrap();
    assert_eq!(payment.ctype, ChannelType::Payment);
    assert_eq!(payment.state, ChannelState::Open);
    assert_eq!(payment.market_id, market_id);
    assert_eq!(payment.actor, buyer);
    assert_eq!(payment.delegate, buyer_delegate);
    assert_eq!(payment.marketmaker, maker);
    assert_eq!(payment.recipient, owner);
    assert_eq!(payment.amount, xbr(500));
    assert_eq!(payment.seq, 1);
    assert_eq!(payment.closing.closing_seq, 1);
    assert_eq!(payment.closing.closed_at, U256::ZERO);

    // Paying channel: market maker → seller.
    let paying = chain.channel(PAYING).await.unwrap().unwrap();
    assert_eq!(paying.ctype, ChannelType::Paying);
    assert_eq!(paying.state, ChannelState::Open);
    assert_eq!(paying.actor, seller);
    assert_eq!(paying.delegate, seller_delegate);
    assert_eq!(paying.marketmaker, maker);
    assert_eq!(paying.recipient, seller);
    assert_eq!(paying.amount, xbr(1500));

    // The Opened logs of this market announce both channels, in the order they were opened;
    // another market's id finds none.
    let head = chain.gateway().block_number().await.unwrap();
    let opened = chain.opened_channels(market_id, 0, head).await.unwrap();
    let ids: Vec<ChannelId> = opened.iter().map(|o| o.channel_id).collect();
    assert_eq!(ids, vec![PAYMENT, PAYING]);
    for (o, info) in opened.iter().zip([&payment, &paying]) {
        assert_eq!(
            (
                o.market_id,
                o.ctype,
                o.actor,
                o.delegate,
                o.marketmaker,
                o.recipient,
                o.amount
            ),
            (
                info.market_id,
                info.ctype,
                info.actor,
                info.delegate,
                info.marketmaker,
                info.recipient,
                info.amount
            )
        );
        assert!(o.block_number.unwrap() <= head);
    }
    assert!(
        chain
            .opened_channels(MarketId([0xee; 16]), 0, head)
            .await
            .unwrap()
            .is_empty()
    );

    // The stored ChannelOpen signatures recover to the actors (xbr-core agrees with the contract).
    for (info, actor) in [(&payment, buyer), (&paying, seller)] {
        let msg = EIP712ChannelOpen::new(
            1337,
            chain.addresses().network,
            info.ctype.as_u8(),
            u64::try_from(info.created).unwrap(),
            info.market_id,
            info.channel_id,
            info.actor,
            info.delegate,
            info.marketmaker,
            info.recipient,
            info.amount,
        );
        assert_eq!(recover_typed(&msg, &info.signature).unwrap(), actor);
    }

    // Token balances: funding minus securities (to the owner) minus channel deposits.
    assert_eq!(
        chain.xbr_balance(channel_contract).await.unwrap(),
        xbr(2000)
    );
    assert_eq!(chain.xbr_balance(buyer).await.unwrap(), xbr(2000 - 7 - 500));
    assert_eq!(chain.xbr_balance(seller).await.unwrap(), xbr(1000 - 10));
    assert_eq!(chain.xbr_balance(maker).await.unwrap(), xbr(5000 - 1500));
    assert_eq!(chain.xbr_balance(owner).await.unwrap(), xbr(100 + 10 + 7));
    // Allowances were consumed exactly.
    assert_eq!(
        chain.xbr_allowance(buyer, channel_contract).await.unwrap(),
        U256::ZERO
    );
    assert_eq!(
        chain.xbr_allowance(maker, channel_contract).await.unwrap(),
        U256::ZERO
    );
}

async fn channel_lifecycle_logs_read_back_whole_or_in_one_block_ranges(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    let chain = &d.chain;
    bootstrap(chain, &d.deployer, &description()).await.unwrap();

    // A final close of the untouched payment channel (seq 1, the whole deposit back to the
    // buyer), signed by its delegate and the market maker, submitted by the maker.
    let close_at = chain.gateway().block_number().await.unwrap();
    let msg = EIP712ChannelClose::new(
        1337,
        chain.addresses().network,
        close_at,
        MARKET,
        PAYMENT,
        1,
        xbr(500),
        true,
    );
    let (delegate_sig, maker_sig) = (sign_typed(&key(5), &msg), sign_typed(&key(6), &msg));
    chain
        .close_channel(
            &key(6),
            &CloseChannel {
                channel_id: PAYMENT,
                close_at,
                closing_seq: 1,
                balance: xbr(500),
                is_final: true,
                delegate_signature: delegate_sig,
                marketmaker_signature: maker_sig,
            },
        )
        .await
        .unwrap();

    let head = chain.gateway().block_number().await.unwrap();
    let whole = chain.channel_events(MARKET, 0, head).await.unwrap();
    let kinds: Vec<(&str, ChannelId)> = whole
        .iter()
        .map(|e| {
            let kind = match e {
                ChannelEvent::Opened(_) => "opened",
                ChannelEvent::Closing(_) => "closing",
                ChannelEvent::Closed(_) => "closed",
            };
            (kind, e.channel_id())
        })
        .collect();
    assert_eq!(
        kinds,
        [("opened", PAYMENT), ("opened", PAYING), ("closed", PAYMENT)]
    );
    let ChannelEvent::Closed(closed) = &whole[2] else {
        unreachable!()
    };
    assert_eq!(
        (closed.market_id, closed.ctype),
        (MARKET, ChannelType::Payment)
    );
    assert_eq!(closed.refund, xbr(500));
    assert_eq!(closed.payout + closed.fee, U256::ZERO);
    assert!(closed.block_number.unwrap() <= head);

    // The same logs, asked for one block at a time.
    let mut by_block = Vec::new();
    for block in 0..=head {
        by_block.extend(chain.channel_events(MARKET, block, block).await.unwrap());
    }
    assert_eq!(by_block, whole);
    assert!(
        chain
            .channel_events(MarketId([0xee; 16]), 0, head)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn rerunning_a_bootstrap_changes_nothing_but_funding(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    let chain = &d.chain;
    let mut desc = description();
    bootstrap(chain, &d.deployer, &desc).await.unwrap();
    let locked = chain.xbr_balance(chain.addresses().channel).await.unwrap();

    for m in &mut desc.members {
        m.xbr = U256::ZERO;
    }
    desc.owner.xbr = U256::ZERO;
    desc.maker.xbr = U256::ZERO;
    let again = bootstrap(chain, &d.deployer, &desc).await.unwrap();
    assert!(again.channels.iter().all(|c| !c.opened_now));
    assert_eq!(
        chain.xbr_balance(chain.addresses().channel).await.unwrap(),
        locked
    );
    assert_eq!(
        chain.xbr_balance(key(3).address()).await.unwrap(),
        xbr(2000 - 7 - 500)
    );

    // Another maker for the same market id is refused before any transaction.
    desc.maker = MakerSpec {
        key: key(5).into(),
        xbr: U256::ZERO,
        eth: U256::ZERO,
    };
    let err = bootstrap(chain, &d.deployer, &desc).await.unwrap_err();
    assert!(
        matches!(err, ChainError::InvalidDescription(ref m) if m.contains("already exists")),
        "{err}"
    );
}

async fn contract_rejections_surface_their_reason(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    let chain = &d.chain;
    let mut desc = description();
    desc.channels.clear();
    bootstrap(chain, &d.deployer, &desc).await.unwrap();

    // A paying channel whose maker has not approved XBRChannel fails in the contract.
    let seller = key(2);
    let maker = key(6);
    let block = chain.gateway().block_number().await.unwrap();
    let channel_id = ChannelId([0xd1; 16]);
    let msg = EIP712ChannelOpen::new(
        1337,
        chain.addresses().network,
        2,
        block,
        MARKET,
        channel_id,
        seller.address(),
        key(4).address(),
        maker.address(),
        seller.address(),
        xbr(1),
    );
    // Signed by the wrong party (the maker instead of the actor).
    let wrong_signature = xbr_core::eip712::sign_typed(&maker, &msg);
    let open = xbr_chain::OpenChannel {
        ctype: ChannelType::Paying,
        opened_at: block,
        market_id: MARKET,
        channel_id,
        actor: seller.address(),
        delegate: key(4).address(),
        marketmaker: maker.address(),
        recipient: seller.address(),
        amount: xbr(1),
        signature: wrong_signature,
    };
    let err = chain.open_channel(&maker, &open).await.unwrap_err();
    assert!(
        matches!(err, ChainError::Reverted { ref reason, .. } if reason.contains("INVALID_CHANNEL_SIGNATURE")),
        "{err}"
    );
    assert_eq!(chain.channel(channel_id).await.unwrap(), None);
}

#[test]
fn invalid_descriptions_are_refused_before_any_transaction() {
    let mut desc = description();
    desc.channels[0].member = key(2).address(); // the seller cannot open a payment channel
    let err = desc.validate().unwrap_err();
    assert!(
        err.to_string().contains("payment channels need a consumer"),
        "{err}"
    );

    let mut desc = description();
    desc.members.push(MemberSpec {
        key: key(1).into(),
        actor: ActorType::Consumer,
        xbr: U256::ZERO,
        eth: U256::ZERO,
        profile: String::new(),
        meta: String::new(),
    });
    assert!(
        desc.validate()
            .unwrap_err()
            .to_string()
            .contains("market owner")
    );

    let mut desc = description();
    desc.channels.push(ChannelSpec {
        channel_id: PAYMENT,
        kind: ChannelKind::Payment,
        member: key(3).address(),
        delegate: Address::ZERO,
        amount: U256::from(1u64),
    });
    assert!(
        desc.validate()
            .unwrap_err()
            .to_string()
            .contains("listed twice")
    );

    let mut desc = description();
    desc.owner = OwnerSpec {
        key: key(2).into(),
        xbr: U256::ZERO,
        eth: U256::ZERO,
        profile: String::new(),
    };
    assert!(desc.validate().is_err());

    let bad_key = serde_json::json!({"key": "0x1234", "xbr": "0"});
    let err = serde_json::from_value::<MakerSpec>(bad_key).unwrap_err();
    assert!(err.to_string().contains("invalid private key"), "{err}");
}
