//! Store conformance: every operation of `DeviceConnectStore`, on both backends.

use mender_core::{DeviceId, TenantId, Timestamp};
use mender_db::testing::Backend;
use mender_deviceconnect::SCHEMA;
use mender_deviceconnect::model::Status;
use mender_deviceconnect::store::{DeviceConnectStore, SqlStore, StoreError};

fn ids(t: &str, d: &str) -> (TenantId, DeviceId) {
    (TenantId::from(t), DeviceId::from(d))
}

async fn status_changes_keep_the_creation_time(backend: Backend) {
    let (s, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    s.ping().await.unwrap();
    let (t, d) = ids("", "dev-1");
    let (t0, t1) = (
        Timestamp::from_unix_millis(1_000_123),
        Timestamp::from_unix_millis(2_000_456),
    );
    assert!(s.device(&t, &d).await.unwrap().is_none());
    // A device that connects before it is provisioned gets a record.
    s.set_status(&t, &d, Status::Connected, t0).await.unwrap();
    let got = s.device(&t, &d).await.unwrap().unwrap();
    assert_eq!(
        (got.device_id, got.status, got.created_ts, got.updated_ts),
        (d.clone(), Status::Connected, t0, t0)
    );
    // Provisioning later keeps it as it is.
    s.provision_device(&t, &d, t1).await.unwrap();
    assert_eq!(
        s.device(&t, &d).await.unwrap().unwrap().status,
        Status::Connected
    );
    s.set_status(&t, &d, Status::Disconnected, t1)
        .await
        .unwrap();
    let got = s.device(&t, &d).await.unwrap().unwrap();
    assert_eq!(
        (got.status, got.created_ts, got.updated_ts),
        (Status::Disconnected, t0, t1)
    );
    // The same id in another tenant is another device.
    assert!(s.device(&TenantId::from("t2"), &d).await.unwrap().is_none());
}

async fn provisioning_and_deleting(backend: Backend) {
    let (s, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    let (t, d) = ids("t", "dev-1");
    let now = Timestamp::from_unix_millis(5);
    assert!(matches!(
        s.delete_device(&t, &d).await,
        Err(StoreError::NotFound)
    ));
    s.provision_device(&t, &d, now).await.unwrap();
    let got = s.device(&t, &d).await.unwrap().unwrap();
    assert_eq!((got.status, got.created_ts), (Status::Disconnected, now));
    s.delete_device(&t, &d).await.unwrap();
    assert!(s.device(&t, &d).await.unwrap().is_none());
    for id in ["dev-1", "dev-2"] {
        s.provision_device(&t, &DeviceId::from(id), now)
            .await
            .unwrap();
    }
    let other = TenantId::from("other");
    s.provision_device(&other, &d, now).await.unwrap();
    assert_eq!(s.delete_tenant(&t).await.unwrap(), 2);
    assert_eq!(s.delete_tenant(&t).await.unwrap(), 0);
    assert!(s.device(&other, &d).await.unwrap().is_some());
}

mender_db::each_backend!(
    status_changes_keep_the_creation_time,
    provisioning_and_deleting
);
