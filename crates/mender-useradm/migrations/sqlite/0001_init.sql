-- useradm: users, tokens (login sessions and personal access tokens), settings.
CREATE TABLE users (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT    NOT NULL UNIQUE,
    tenant_id     TEXT    NOT NULL DEFAULT '',
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    login_at      INTEGER
);
CREATE INDEX users_tenant ON users (tenant_id);

CREATE TABLE tokens (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    user_id    TEXT    NOT NULL,
    tenant_id  TEXT    NOT NULL DEFAULT '',
    name       TEXT,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER,
    last_used  INTEGER
);
CREATE INDEX tokens_user ON tokens (tenant_id, user_id);
CREATE UNIQUE INDEX tokens_user_name ON tokens (tenant_id, user_id, name);

CREATE TABLE settings (
    tenant_id TEXT NOT NULL DEFAULT '',
    user_id   TEXT NOT NULL DEFAULT '',
    etag      TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
