-- Keys of messages enqueued with `enqueue_once`: a second enqueue with a known key adds
-- nothing. Kept for the dedup window (unix milliseconds in `created_at`), then pruned.
CREATE TABLE queue_dedup (
    dedup_key  TEXT   PRIMARY KEY,
    message_id TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX queue_dedup_created ON queue_dedup (created_at);
