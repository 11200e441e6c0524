//! [`SqlStore`]: the deviceconfig store on `mender_db`, one set of statements for SQLite and
//! PostgreSQL. Configurations are JSON text, times unix milliseconds.

use mender_core::{DeploymentId, DeviceId, TenantId, Timestamp};
use mender_db::{Db, query};

use super::{DeviceConfigStore, StoreError};
use crate::model::{Configuration, Device, Side};

/// The deviceconfig store on either backend (a database opened with [`crate::SCHEMA`]).
#[derive(Debug, Clone)]
pub struct SqlStore(pub Db);

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: String,
    configured: String,
    reported: String,
    deployment_id: Option<String>,
    updated_ts: Option<i64>,
    reported_ts: Option<i64>,
}

impl TryFrom<DeviceRow> for Device {
    type Error = mender_db::Error;

    fn try_from(r: DeviceRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: r.id.into(),
            configured: decode(&r.configured)?,
            reported: decode(&r.reported)?,
            deployment_id: r.deployment_id.map(DeploymentId::from),
            updated_ts: r.updated_ts.map(Timestamp::from_unix_millis),
            reported_ts: r.reported_ts.map(Timestamp::from_unix_millis),
        })
    }
}

fn decode(text: &str) -> Result<Configuration, mender_db::Error> {
    serde_json::from_str(text)
        .map_err(|e| mender_db::Error::decode(format!("stored configuration: {e}")))
}

/// `Ok` when the statement touched a row, else `none`.
fn touched(n: u64, none: StoreError) -> Result<(), StoreError> {
    if n == 0 { Err(none) } else { Ok(()) }
}

fn encode(c: &Configuration) -> String {
    // A map of strings always serialises; the fallback only satisfies the type.
    serde_json::to_string(c).unwrap_or_else(|_| "{}".to_owned())
}

#[async_trait::async_trait]
impl DeviceConfigStore for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.0.ping().await?)
    }

    async fn insert_device(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let n = query(
            "INSERT INTO devices (tenant_id, id, updated_ts) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(tenant)
        .bind(device)
        .bind(now.unix_millis())
        .execute(&self.0)
        .await?;
        touched(n, StoreError::DeviceExists)
    }

    async fn replace_configuration(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        side: Side,
        configuration: &Configuration,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        // An upsert: a device may report (or be configured) before it is provisioned.
        let sql = match side {
            Side::Configured => {
                "INSERT INTO devices (tenant_id, id, configured, updated_ts) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, id) DO UPDATE \
                 SET configured = excluded.configured, updated_ts = excluded.updated_ts"
            }
            Side::Reported => {
                "INSERT INTO devices (tenant_id, id, reported, reported_ts) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, id) DO UPDATE \
                 SET reported = excluded.reported, reported_ts = excluded.reported_ts"
            }
        };
        query(sql)
            .bind(tenant)
            .bind(device)
            .bind(encode(configuration))
            .bind(now.unix_millis())
            .execute(&self.0)
            .await?;
        Ok(())
    }

    async fn set_deployment_id(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        deployment: &DeploymentId,
    ) -> Result<(), StoreError> {
        let n = query("UPDATE devices SET deployment_id = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(device)
            .bind(deployment)
            .execute(&self.0)
            .await?;
        touched(n, StoreError::NotFound)
    }

    async fn device(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
    ) -> Result<Option<Device>, StoreError> {
        let row = query(
            "SELECT id, configured, reported, deployment_id, updated_ts, reported_ts \
             FROM devices WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(device)
        .fetch_optional::<DeviceRow>(&self.0)
        .await?;
        Ok(row.map(Device::try_from).transpose()?)
    }

    async fn delete_device(&self, tenant: &TenantId, device: &DeviceId) -> Result<(), StoreError> {
        let n = query("DELETE FROM devices WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(device)
            .execute(&self.0)
            .await?;
        touched(n, StoreError::NotFound)
    }

    async fn delete_tenant(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        Ok(query("DELETE FROM devices WHERE tenant_id = $1")
            .bind(tenant)
            .execute(&self.0)
            .await?)
    }
}
