-- One row per device: the attribute document (JSON, every scope except the system
-- attributes kept as columns) and the columns the server maintains itself.
CREATE TABLE devices (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    attrs      TEXT    NOT NULL,
    group_name TEXT,
    created_ts TEXT    NOT NULL,
    updated_ts TEXT,
    revision   INTEGER NOT NULL DEFAULT 0,
    tags_etag  TEXT,
    text       TEXT    NOT NULL DEFAULT '',
    version    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, id)
);
CREATE INDEX devices_group ON devices (tenant_id, group_name);

-- The search index: one row per scalar attribute value (arrays give one row per element,
-- an empty array one row with t = 0). t: 0 none, 1 number, 2 string, 3 boolean.
-- sk is the first 128 characters of s, the indexed key for string predicates.
CREATE TABLE attr_index (
    dev_seq INTEGER NOT NULL REFERENCES devices (seq) ON DELETE CASCADE,
    scope   TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    i       INTEGER NOT NULL,
    t       INTEGER NOT NULL,
    s       TEXT,
    sk      TEXT,
    n       REAL
);
CREATE INDEX attr_index_s ON attr_index (scope, name, sk, dev_seq);
CREATE INDEX attr_index_n ON attr_index (scope, name, n, dev_seq);
CREATE INDEX attr_index_dev ON attr_index (dev_seq);
