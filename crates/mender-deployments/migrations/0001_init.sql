-- Deployments schema. Times are unix nanoseconds (i64) so that "created after" comparisons
-- in update selection keep sub-second order. JSON documents are stored as TEXT.
CREATE TABLE artifacts (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    meta TEXT NOT NULL,
    size BIGINT NOT NULL,
    modified BIGINT NOT NULL
);
CREATE INDEX artifacts_name ON artifacts (tenant_id, name);

CREATE TABLE artifact_device_types (
    artifact_id TEXT NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    device_type TEXT NOT NULL,
    PRIMARY KEY (artifact_id, device_type)
);
CREATE INDEX artifact_device_types_type ON artifact_device_types (device_type);

-- One row per artifact name; locking it serialises uploads of the same name.
CREATE TABLE releases (
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    modified BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    artifact_name TEXT NOT NULL,
    created BIGINT NOT NULL,
    finished BIGINT,
    status TEXT NOT NULL,
    device_count BIGINT NOT NULL,
    max_devices BIGINT NOT NULL,
    force_installation BIGINT NOT NULL,
    group_names TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX deployments_created ON deployments (tenant_id, created);

CREATE TABLE deployment_artifacts (
    deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    artifact_id TEXT NOT NULL,
    PRIMARY KEY (deployment_id, artifact_id)
);
CREATE INDEX deployment_artifacts_artifact ON deployment_artifacts (artifact_id);

CREATE TABLE deployment_devices (
    deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    PRIMARY KEY (deployment_id, device_id)
);
CREATE INDEX deployment_devices_device ON deployment_devices (device_id);

CREATE TABLE device_deployments (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    status TEXT NOT NULL,
    substate TEXT NOT NULL DEFAULT '',
    created BIGINT NOT NULL,
    started BIGINT,
    finished BIGINT,
    active BIGINT NOT NULL,
    deleted BIGINT,
    device_type TEXT NOT NULL DEFAULT '',
    artifact_id TEXT,
    request TEXT,
    log_available BIGINT NOT NULL DEFAULT 0,
    log TEXT
);
CREATE INDEX device_deployments_device ON device_deployments (tenant_id, device_id, created);
CREATE INDEX device_deployments_deployment ON device_deployments (deployment_id, status);
CREATE UNIQUE INDEX device_deployments_once ON device_deployments (deployment_id, device_id) WHERE deleted IS NULL;
