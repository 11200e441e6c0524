//! Store conformance: every operation of `DeviceConfigStore`, on both backends.

use mender_core::{DeploymentId, DeviceId, TenantId, Timestamp};
use mender_db::testing::Backend;
use mender_deviceconfig::SCHEMA;
use mender_deviceconfig::model::{Configuration, Side};
use mender_deviceconfig::store::{DeviceConfigStore, SqlStore, StoreError};

fn ids(t: &str, d: &str) -> (TenantId, DeviceId) {
    (TenantId::from(t), DeviceId::from(d))
}

fn config(pairs: &[(&str, &str)]) -> Configuration {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn insert_get_delete(backend: Backend) {
    let (s, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    s.ping().await.unwrap();
    let (t, d) = ids("", "dev-1");
    let t0 = Timestamp::from_unix_millis(1_000_123);
    assert!(s.device(&t, &d).await.unwrap().is_none());
    s.insert_device(&t, &d, t0).await.unwrap();
    assert!(matches!(
        s.insert_device(&t, &d, t0).await,
        Err(StoreError::DeviceExists)
    ));
    let got = s.device(&t, &d).await.unwrap().unwrap();
    assert_eq!(got.id, d);
    assert!(got.configured.is_empty() && got.reported.is_empty());
    assert_eq!(
        (got.updated_ts, got.reported_ts, got.deployment_id),
        (Some(t0), None, None)
    );
    // The same id in another tenant is another device.
    let (t2, _) = ids("tenant-2", "");
    assert!(s.device(&t2, &d).await.unwrap().is_none());
    s.insert_device(&t2, &d, t0).await.unwrap();
    s.delete_device(&t, &d).await.unwrap();
    assert!(matches!(
        s.delete_device(&t, &d).await,
        Err(StoreError::NotFound)
    ));
    assert!(s.device(&t, &d).await.unwrap().is_none());
    assert!(s.device(&t2, &d).await.unwrap().is_some());
}

async fn configurations_replace_and_upsert(backend: Backend) {
    let (s, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    let (t, d) = ids("t", "dev-1");
    let (t1, t2) = (
        Timestamp::from_unix_millis(5_000),
        Timestamp::from_unix_millis(6_000),
    );
    // A report before provisioning creates the record, with no updated_ts.
    let rep = config(&[("a", "1")]);
    s.replace_configuration(&t, &d, Side::Reported, &rep, t1)
        .await
        .unwrap();
    let got = s.device(&t, &d).await.unwrap().unwrap();
    assert_eq!((got.reported, got.reported_ts), (rep.clone(), Some(t1)));
    assert_eq!(
        (got.configured, got.updated_ts),
        (Configuration::new(), None)
    );
    // Setting the desired configuration keeps the reported one.
    let want = config(&[("b", "2"), ("a", "x")]);
    s.replace_configuration(&t, &d, Side::Configured, &want, t2)
        .await
        .unwrap();
    let got = s.device(&t, &d).await.unwrap().unwrap();
    assert_eq!((&got.configured, got.updated_ts), (&want, Some(t2)));
    assert_eq!((&got.reported, got.reported_ts), (&rep, Some(t1)));
    // Replacing drops keys not named again; provisioning an existing record conflicts.
    s.replace_configuration(&t, &d, Side::Configured, &config(&[("c", "")]), t2)
        .await
        .unwrap();
    assert_eq!(
        s.device(&t, &d).await.unwrap().unwrap().configured,
        config(&[("c", "")])
    );
    assert!(matches!(
        s.insert_device(&t, &d, t2).await,
        Err(StoreError::DeviceExists)
    ));
    // Any text round-trips, quotes, backslashes and non-ASCII included.
    let odd = config(&[("k\"\\", "v\n\u{1}é😀"), ("$", "'; DROP TABLE devices; --")]);
    s.replace_configuration(&t, &d, Side::Configured, &odd, t2)
        .await
        .unwrap();
    assert_eq!(s.device(&t, &d).await.unwrap().unwrap().configured, odd);
}

async fn deployment_ids_and_tenants(backend: Backend) {
    let (s, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    let (t, d) = ids("t", "dev-1");
    let dep = DeploymentId::from("3f1c2b9e-0000-4000-8000-000000000001");
    assert!(matches!(
        s.set_deployment_id(&t, &d, &dep).await,
        Err(StoreError::NotFound)
    ));
    let now = Timestamp::from_unix_millis(1);
    s.insert_device(&t, &d, now).await.unwrap();
    s.set_deployment_id(&t, &d, &dep).await.unwrap();
    assert_eq!(
        s.device(&t, &d).await.unwrap().unwrap().deployment_id,
        Some(dep)
    );
    for id in ["dev-2", "dev-3"] {
        s.insert_device(&t, &DeviceId::from(id), now).await.unwrap();
    }
    let other = TenantId::from("other");
    s.insert_device(&other, &d, now).await.unwrap();
    assert_eq!(s.delete_tenant(&t).await.unwrap(), 3);
    assert_eq!(s.delete_tenant(&t).await.unwrap(), 0);
    assert!(s.device(&t, &d).await.unwrap().is_none());
    assert!(s.device(&other, &d).await.unwrap().is_some());
}

mender_db::each_backend!(
    insert_get_delete,
    configurations_replace_and_upsert,
    deployment_ids_and_tenants
);
