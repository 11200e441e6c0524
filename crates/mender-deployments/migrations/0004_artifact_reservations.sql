-- Artifact ids claimed by an upload in progress (or by a deletion removing the file): the row
-- is written before any byte reaches blob storage, so only its holder ever writes or deletes
-- the file of that id. A committed artifact's row in `artifacts` replaces it in the same
-- transaction. Rows left by a crash are swept at start once older than the configured age.
CREATE TABLE artifact_reservations (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX artifact_reservations_created ON artifact_reservations (created);
