-- deviceauth: devices, their authentication sets, issued tokens and limits.
-- Times are unix seconds.
CREATE TABLE devices (
    id              TEXT PRIMARY KEY NOT NULL,
    tenant_id       TEXT NOT NULL DEFAULT '',
    id_data         TEXT NOT NULL,
    id_data_sha256  TEXT NOT NULL,
    status          TEXT NOT NULL,
    decommissioning BOOLEAN NOT NULL DEFAULT FALSE,
    created_ts      BIGINT NOT NULL,
    updated_ts      BIGINT NOT NULL,
    check_in_time   BIGINT,
    revision        BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX devices_identity ON devices (tenant_id, id_data_sha256);
CREATE INDEX devices_tenant_status ON devices (tenant_id, status);
CREATE INDEX devices_tenant_created ON devices (tenant_id, created_ts, id);

CREATE TABLE auth_sets (
    id             TEXT PRIMARY KEY NOT NULL,
    tenant_id      TEXT NOT NULL DEFAULT '',
    device_id      TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    id_data        TEXT NOT NULL,
    id_data_sha256 TEXT NOT NULL,
    pubkey         TEXT NOT NULL,
    status         TEXT NOT NULL,
    ts             BIGINT NOT NULL
);
CREATE UNIQUE INDEX auth_sets_identity_key ON auth_sets (tenant_id, id_data_sha256, pubkey);
CREATE INDEX auth_sets_device ON auth_sets (device_id);

-- One row per auth set: re-authentication replaces the row, so the table stays bounded.
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    tenant_id  TEXT NOT NULL DEFAULT '',
    device_id  TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_device ON tokens (device_id);
CREATE INDEX tokens_tenant ON tokens (tenant_id);

CREATE TABLE limits (
    tenant_id TEXT NOT NULL DEFAULT '',
    name      TEXT NOT NULL,
    value     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
