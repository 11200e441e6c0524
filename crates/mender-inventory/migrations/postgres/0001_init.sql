-- One row per device: the attribute document (JSON, every scope except the system
-- attributes kept as columns) and the columns the server maintains itself.
-- Text that is compared or sorted uses the "C" collation: byte order, like upstream.
CREATE TABLE devices (
    seq        BIGSERIAL PRIMARY KEY,
    tenant_id  TEXT   NOT NULL,
    id         TEXT   COLLATE "C" NOT NULL,
    attrs      TEXT   NOT NULL,
    group_name TEXT   COLLATE "C",
    created_ts TEXT   NOT NULL,
    updated_ts TEXT,
    revision   BIGINT NOT NULL DEFAULT 0,
    tags_etag  TEXT,
    text       TEXT   NOT NULL DEFAULT '',
    version    BIGINT NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, id)
);
CREATE INDEX devices_group ON devices (tenant_id, group_name);

-- The search index: one row per scalar attribute value (arrays give one row per element,
-- an empty array one row with t = 0). t: 0 none, 1 number, 2 string, 3 boolean.
-- sk is the first 128 characters of s: B-tree entries must stay small, so only the
-- prefix is indexed and s itself is rechecked.
CREATE TABLE attr_index (
    dev_seq BIGINT NOT NULL REFERENCES devices (seq) ON DELETE CASCADE,
    scope   TEXT   COLLATE "C" NOT NULL,
    name    TEXT   COLLATE "C" NOT NULL,
    i       BIGINT NOT NULL,
    t       BIGINT NOT NULL,
    s       TEXT   COLLATE "C",
    sk      TEXT   COLLATE "C",
    n       DOUBLE PRECISION
);
CREATE INDEX attr_index_s ON attr_index (scope, name, sk, dev_seq);
CREATE INDEX attr_index_n ON attr_index (scope, name, n, dev_seq);
CREATE INDEX attr_index_dev ON attr_index (dev_seq);
