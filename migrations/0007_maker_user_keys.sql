-- The market maker's user keys (spec §8.5): a delegate's WAMP-cryptosign public key registered
-- at its member's first login, so later logins with the key alone are that member's.
CREATE TABLE mm_user_key (
    pubkey  BLOB PRIMARY KEY NOT NULL,
    member  BLOB NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX mm_user_key_member ON mm_user_key (member, created);
