-- xbr-market store, schema version 1.
-- Amounts (uint256) are 32-byte big-endian BLOBs, addresses 20-byte BLOBs, ids 16-byte BLOBs,
-- times are integer nanoseconds since the Unix epoch. Key material is stored only wrapped
-- (encrypted at rest by the role before it reaches the store).

-- ---------------------------------------------------------------- market maker
CREATE TABLE mm_channel (
    channel_oid     BLOB PRIMARY KEY NOT NULL,
    channel_type    INTEGER NOT NULL CHECK (channel_type IN (1, 2)),
    market_oid      BLOB NOT NULL,
    member_oid      BLOB,
    timestamp       INTEGER NOT NULL,
    open_at         BLOB NOT NULL,
    marketmaker     BLOB NOT NULL,
    actor           BLOB NOT NULL,
    delegate        BLOB NOT NULL,
    recipient       BLOB NOT NULL,
    amount          BLOB NOT NULL,
    timeout         INTEGER NOT NULL,
    state           INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    remaining       BLOB NOT NULL,
    inflight        BLOB NOT NULL,
    close_seq       INTEGER,
    close_balance   BLOB,
    close_is_final  INTEGER,
    close_del_sig   BLOB,
    close_mm_sig    BLOB,
    closing_at      INTEGER,
    closed_tx       BLOB
);
CREATE INDEX mm_channel_by_delegate ON mm_channel (delegate, channel_type, timestamp);
CREATE INDEX mm_channel_by_actor ON mm_channel (actor, channel_type, timestamp);
CREATE INDEX mm_channel_by_recipient ON mm_channel (recipient, channel_type, timestamp);

CREATE TABLE mm_offer (
    offer_id          BLOB PRIMARY KEY NOT NULL,
    key_id            BLOB NOT NULL UNIQUE,
    timestamp         INTEGER NOT NULL,
    seller            BLOB NOT NULL,
    seller_session_id INTEGER NOT NULL,
    seller_authid     TEXT NOT NULL,
    api_id            BLOB NOT NULL,
    uri               TEXT NOT NULL,
    valid_from        INTEGER NOT NULL,
    signature         BLOB NOT NULL,
    price             BLOB NOT NULL,
    categories        TEXT,
    expires           INTEGER,
    copies            INTEGER,
    remaining         INTEGER
);
CREATE INDEX mm_offer_by_api ON mm_offer (api_id, timestamp);
CREATE INDEX mm_offer_by_seller ON mm_offer (seller, timestamp);

-- One row per buy_key: INFLIGHT (1) after transaction 1, COMPLETED (2) or FAILED (3).
CREATE TABLE mm_sale (
    tx_id               BLOB PRIMARY KEY NOT NULL,
    created             INTEGER NOT NULL,
    status              INTEGER NOT NULL,
    key_id              BLOB NOT NULL,
    offer_id            BLOB NOT NULL,
    buyer_delegate      BLOB NOT NULL,
    buyer_pubkey        BLOB NOT NULL,
    amount_offered      BLOB NOT NULL,
    amount_paid         BLOB NOT NULL,
    payment_channel     BLOB NOT NULL,
    payment_seq         INTEGER NOT NULL,
    payment_remaining   BLOB NOT NULL,
    buyer_signature     BLOB NOT NULL,
    paying_channel      BLOB NOT NULL,
    paying_seq          INTEGER NOT NULL,
    paying_remaining    BLOB NOT NULL,
    maker_sell_sig      BLOB NOT NULL,
    seller_signature    BLOB,
    maker_receipt_sig   BLOB,
    failure             TEXT
);
CREATE INDEX mm_sale_by_payment ON mm_sale (payment_channel, payment_seq);

-- ---------------------------------------------------------------- seller
CREATE TABLE seller_key (
    key_id      BLOB PRIMARY KEY NOT NULL,
    api_id      BLOB NOT NULL,
    created     INTEGER NOT NULL,
    wrapped_key BLOB NOT NULL,
    offered     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX seller_key_by_api ON seller_key (api_id, created);

CREATE TABLE seller_channel (
    channel_oid BLOB PRIMARY KEY NOT NULL,
    market_oid  BLOB NOT NULL,
    seq         INTEGER NOT NULL,
    balance     BLOB NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE seller_sale (
    channel_oid      BLOB NOT NULL,
    seq              INTEGER NOT NULL,
    created          INTEGER NOT NULL,
    key_id           BLOB NOT NULL,
    buyer_pubkey     BLOB NOT NULL,
    amount           BLOB NOT NULL,
    balance          BLOB NOT NULL,
    maker_signature  BLOB NOT NULL,
    seller_signature BLOB NOT NULL,
    PRIMARY KEY (channel_oid, seq)
);

-- ---------------------------------------------------------------- buyer
CREATE TABLE buyer_channel (
    channel_oid BLOB PRIMARY KEY NOT NULL,
    market_oid  BLOB NOT NULL,
    seq         INTEGER NOT NULL,
    balance     BLOB NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE buyer_key (
    key_id           BLOB PRIMARY KEY NOT NULL,
    created          INTEGER NOT NULL,
    wrapped_key      BLOB NOT NULL,
    channel_oid      BLOB NOT NULL,
    seq              INTEGER NOT NULL,
    amount           BLOB NOT NULL,
    balance          BLOB NOT NULL,
    buyer_signature  BLOB NOT NULL,
    maker_signature  BLOB NOT NULL
);
