-- The market maker's chain log scan: the next block to scan for XBRChannel logs (one row).
CREATE TABLE mm_scan_cursor (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    next_block INTEGER NOT NULL
);
