-- The market maker's close intents: a close signed by the channel's delegate and the maker,
-- persisted with the channel's move to Closing and carried to the chain by the close worker
-- (state 1 signed, 2 submitted, 3 mined, 4 final, 5 failed). One per channel.
CREATE TABLE mm_close_intent (
    channel_oid  BLOB PRIMARY KEY NOT NULL REFERENCES mm_channel (channel_oid),
    close_at     INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    balance      BLOB NOT NULL,
    is_final     INTEGER NOT NULL,
    del_sig      BLOB NOT NULL,
    mm_sig       BLOB NOT NULL,
    created      INTEGER NOT NULL,
    state        INTEGER NOT NULL,
    tx_hash      BLOB,
    submitted_at INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    mined_block  INTEGER,
    failure      TEXT
);
CREATE INDEX mm_close_intent_state ON mm_close_intent (state);
