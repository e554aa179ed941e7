-- The buyer's side of the money path (issue 11).

-- The X25519 receive key bought keys are sealed to, wrapped under the key-encryption key: one
-- per buyer database, created on first start and reused, so a retried buy_key is identical.
CREATE TABLE buyer_receive_key (
    id      INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    wrapped BLOB NOT NULL
);

-- A signed buy_key request persisted before it is sent, kept until the maker answers for good.
-- At most one per payment channel.
CREATE TABLE buyer_intent (
    channel_oid     BLOB PRIMARY KEY NOT NULL,
    key_id          BLOB NOT NULL,
    seq             INTEGER NOT NULL,
    amount          BLOB NOT NULL,
    balance         BLOB NOT NULL,
    buyer_signature BLOB NOT NULL,
    buyer_pubkey    BLOB NOT NULL,
    created         INTEGER NOT NULL,
    ciphertext      BLOB
);

-- 0 for a paid key that did not open the ciphertext it was bought for (until one opens).
ALTER TABLE buyer_key ADD COLUMN verified INTEGER NOT NULL DEFAULT 1;
