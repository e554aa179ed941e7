-- The market maker's sale states: SELLER_SIGNED (status 4) keeps the seller's sealed key so a
-- retried buy_key gets its key again; `recovered` is 1 when recovery, not the original request,
-- resolved the sale. Rows written before this migration read as sealed_key NULL, recovered 0.
ALTER TABLE mm_sale ADD COLUMN sealed_key BLOB;
ALTER TABLE mm_sale ADD COLUMN recovered INTEGER NOT NULL DEFAULT 0;
CREATE INDEX mm_sale_by_paying ON mm_sale (paying_channel, paying_seq);
-- Unresolved sales (in flight or seller-signed): what recovery and the sweeper look for.
CREATE INDEX mm_sale_unresolved ON mm_sale (created) WHERE status IN (1, 4);
