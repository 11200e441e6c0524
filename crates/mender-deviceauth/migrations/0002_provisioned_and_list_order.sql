-- Upstream's next release records whether provision_device has run for a device
-- (PATCH /api/internal/v1/devauth/tenants/{tid}/devices/{did}); existing devices start unset.
ALTER TABLE devices ADD COLUMN provisioned BOOLEAN NOT NULL DEFAULT FALSE;

-- The device list is ordered by status, then id (as upstream), no longer by creation time.
CREATE INDEX devices_tenant_status_id ON devices (tenant_id, status, id);
DROP INDEX devices_tenant_created;
DROP INDEX devices_tenant_status;
