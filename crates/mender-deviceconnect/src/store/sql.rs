//! [`SqlStore`]: the deviceconnect store on `mender_db`, one set of statements for SQLite and
//! PostgreSQL. Times are unix milliseconds.

use mender_core::{DeviceId, TenantId, Timestamp};
use mender_db::{Db, query};

use super::{DeviceConnectStore, StoreError};
use crate::model::{Device, Status};

/// The deviceconnect store on either backend (a database opened with [`crate::SCHEMA`]).
#[derive(Debug, Clone)]
pub struct SqlStore(pub Db);

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: String,
    status: String,
    created_ts: i64,
    updated_ts: i64,
}

impl From<DeviceRow> for Device {
    fn from(r: DeviceRow) -> Self {
        Self {
            device_id: r.id.into(),
            status: Status::parse(&r.status),
            created_ts: Timestamp::from_unix_millis(r.created_ts),
            updated_ts: Timestamp::from_unix_millis(r.updated_ts),
        }
    }
}

#[async_trait::async_trait]
impl DeviceConnectStore for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.0.ping().await?)
    }

    async fn set_status(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        status: Status,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        query(
            "INSERT INTO devices (tenant_id, id, status, created_ts, updated_ts) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (tenant_id, id) DO UPDATE \
             SET status = excluded.status, updated_ts = excluded.updated_ts",
        )
        .bind(tenant)
        .bind(device)
        .bind(status.as_str())
        .bind(now.unix_millis())
        .execute(&self.0)
        .await?;
        Ok(())
    }

    async fn provision_device(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        query(
            "INSERT INTO devices (tenant_id, id, status, created_ts, updated_ts) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(device)
        .bind(Status::Disconnected.as_str())
        .bind(now.unix_millis())
        .execute(&self.0)
        .await?;
        Ok(())
    }

    async fn device(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
    ) -> Result<Option<Device>, StoreError> {
        let row = query(
            "SELECT id, status, created_ts, updated_ts FROM devices \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(device)
        .fetch_optional::<DeviceRow>(&self.0)
        .await?;
        Ok(row.map(Device::from))
    }

    async fn delete_device(&self, tenant: &TenantId, device: &DeviceId) -> Result<(), StoreError> {
        let n = query("DELETE FROM devices WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(device)
            .execute(&self.0)
            .await?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        Ok(query("DELETE FROM devices WHERE tenant_id = $1")
            .bind(tenant)
            .execute(&self.0)
            .await?)
    }
}
