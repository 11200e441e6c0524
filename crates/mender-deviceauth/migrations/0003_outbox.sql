-- The transactional outbox (mender_queue::outbox): workflows to start, written in the same
-- transaction as the state change that asks for them and moved to the workflow engine by the
-- relay. Times are unix milliseconds.
CREATE TABLE outbox (
    id              TEXT    PRIMARY KEY,
    workflow        TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    inputs          TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL
);

CREATE INDEX outbox_due ON outbox (next_attempt_at, id);
CREATE INDEX outbox_subject ON outbox (workflow, subject);
