-- deviceconnect: one row per device with its connection status (`connected` or
-- `disconnected`). Times are unix milliseconds.
CREATE TABLE devices (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    updated_ts BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
