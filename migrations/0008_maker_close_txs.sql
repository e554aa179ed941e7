-- The signed versions of each close intent's closeChannel transaction, persisted before each is
-- broadcast so that a restart broadcasts the same bytes again instead of signing a second
-- transaction. Version 0 is the first signature; a replacement has the same nonce and higher
-- fees. Append-only: any version may be the one mined. Fees are 16-byte big-endian BLOBs (wei).
CREATE TABLE mm_close_tx (
    channel_oid BLOB NOT NULL REFERENCES mm_close_intent (channel_oid),
    version     INTEGER NOT NULL,
    tx_hash     BLOB NOT NULL,
    nonce       INTEGER NOT NULL,
    max_fee     BLOB NOT NULL,
    max_tip     BLOB NOT NULL,
    raw         BLOB NOT NULL,
    PRIMARY KEY (channel_oid, version)
);
