-- Durable work queue. `seq` gives enqueue order; `visible_at` (unix milliseconds) is when the
-- message may next be claimed: enqueue time, end of the current lease, or end of a release delay.
CREATE TABLE queue_messages (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    topic       TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    enqueued_at INTEGER NOT NULL,
    visible_at  INTEGER NOT NULL,
    lease_owner TEXT,
    deliveries  INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX queue_messages_visible ON queue_messages (topic, visible_at, seq);
