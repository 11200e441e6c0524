-- Configuration deployments, upstream's "no identical active deployment" rule and the
-- per-tenant storage settings.
ALTER TABLE deployments ADD COLUMN kind TEXT NOT NULL DEFAULT 'software';
-- The configuration (JSON object text) of a configuration deployment.
ALTER TABLE deployments ADD COLUMN configuration TEXT;
-- SHA-256 of the creation request; unique among unfinished deployments (upstream index
-- deployment_deploymentconstructor_checksum, partial on active deployments).
ALTER TABLE deployments ADD COLUMN constructor_checksum TEXT;
CREATE UNIQUE INDEX deployments_active_checksum ON deployments (tenant_id, constructor_checksum)
    WHERE constructor_checksum IS NOT NULL AND status <> 'finished';

-- Upstream's internal storage settings, one JSON document per tenant.
CREATE TABLE storage_settings (
    tenant_id TEXT PRIMARY KEY,
    settings TEXT NOT NULL
);
