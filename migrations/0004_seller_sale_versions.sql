-- The seller's sales survive a maker rollback: a sale the maker rolled back is kept, marked
-- voided, and the seq can be sold again. SQLite cannot change a primary key, so the table is
-- rebuilt: a rowid key (the old rowids kept, so paging cursors stay), a `voided` flag, and at
-- most one live sale per (channel, seq).
CREATE TABLE seller_sale_v4 (
    id               INTEGER PRIMARY KEY,
    channel_oid      BLOB NOT NULL,
    seq              INTEGER NOT NULL,
    created          INTEGER NOT NULL,
    key_id           BLOB NOT NULL,
    buyer_pubkey     BLOB NOT NULL,
    amount           BLOB NOT NULL,
    balance          BLOB NOT NULL,
    maker_signature  BLOB NOT NULL,
    seller_signature BLOB NOT NULL,
    voided           INTEGER NOT NULL DEFAULT 0
);
INSERT INTO seller_sale_v4 (id, channel_oid, seq, created, key_id, buyer_pubkey, amount, balance,
                            maker_signature, seller_signature)
    SELECT rowid, channel_oid, seq, created, key_id, buyer_pubkey, amount, balance,
           maker_signature, seller_signature
    FROM seller_sale ORDER BY rowid;
DROP TABLE seller_sale;
ALTER TABLE seller_sale_v4 RENAME TO seller_sale;
CREATE UNIQUE INDEX seller_sale_live ON seller_sale (channel_oid, seq) WHERE voided = 0;
