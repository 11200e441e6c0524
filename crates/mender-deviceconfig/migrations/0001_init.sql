-- deviceconfig: one row per device with its desired (configured) and reported configuration.
-- Configurations are JSON objects of strings kept as text (JSON escapes every control
-- character, so any key or value stores the same on both backends). Times are unix
-- milliseconds, the resolution upstream's MongoDB keeps.
CREATE TABLE devices (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    configured    TEXT NOT NULL DEFAULT '{}',
    reported      TEXT NOT NULL DEFAULT '{}',
    deployment_id TEXT,
    updated_ts    BIGINT,
    reported_ts   BIGINT,
    PRIMARY KEY (tenant_id, id)
);
