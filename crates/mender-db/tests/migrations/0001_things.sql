-- A table with every column type the services use, for the layer's own conformance tests.
CREATE TABLE things (
    id    TEXT   NOT NULL PRIMARY KEY,
    n     BIGINT,
    f     DOUBLE PRECISION,
    b     BOOLEAN,
    t     TEXT,
    bytes BYTEA
);
