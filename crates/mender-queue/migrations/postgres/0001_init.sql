-- Durable work queue. `seq` gives enqueue order; `visible_at` (unix milliseconds) is when the
-- message may next be claimed: enqueue time, end of the current lease, or end of a release delay.
CREATE TABLE queue_messages (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT   NOT NULL UNIQUE,
    topic       TEXT   NOT NULL,
    payload     TEXT   NOT NULL,
    enqueued_at BIGINT NOT NULL,
    visible_at  BIGINT NOT NULL,
    lease_owner TEXT,
    deliveries  BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX queue_messages_visible ON queue_messages (topic, visible_at, seq);
