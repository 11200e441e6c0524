-- Upstream's stored deployment counters, the total size of the artifacts handed out, and
-- per-tenant limits.

-- Per-status counts of a deployment's devices (upstream `stats`): every target device starts
-- as pending, and a count moves when a device deployment changes status. Statuses without a
-- row count 0.
CREATE TABLE deployment_stats (
    deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (deployment_id, status)
);

-- Sum of the sizes of the artifacts assigned to the deployment's devices (upstream
-- `statistics.total_size`).
ALTER TABLE deployments ADD COLUMN total_size BIGINT NOT NULL DEFAULT 0;

-- Deployments stored before: the counts of their device deployments, and the devices that
-- have not checked in yet as pending.
INSERT INTO deployment_stats (deployment_id, status, count)
    SELECT deployment_id, status, COUNT(*) FROM device_deployments
    WHERE deleted IS NULL AND status <> 'pending'
    GROUP BY deployment_id, status;
INSERT INTO deployment_stats (deployment_id, status, count)
    SELECT id, 'pending', n FROM (
        SELECT d.id, d.max_devices - (SELECT COUNT(*) FROM device_deployments x
            WHERE x.deployment_id = d.id AND x.deleted IS NULL AND x.status <> 'pending') AS n
        FROM deployments d WHERE d.status <> 'finished'
    ) counted WHERE n > 0;
-- Upstream counts the devices that joined, not the targets.
UPDATE deployments SET device_count = (SELECT COUNT(DISTINCT x.device_id)
    FROM device_deployments x WHERE x.deployment_id = deployments.id);
UPDATE deployments SET total_size = COALESCE((SELECT SUM(a.size)
    FROM device_deployments x JOIN artifacts a ON a.id = x.artifact_id
    WHERE x.deployment_id = deployments.id AND x.status <> 'already-installed'), 0);

-- Per-tenant limits by name (only `storage`: bytes of stored artifacts, 0 = unlimited).
CREATE TABLE limits (
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
