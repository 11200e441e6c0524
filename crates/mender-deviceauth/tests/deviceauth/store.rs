//! Store conformance: the same expectations on SQLite and PostgreSQL.

use std::sync::Arc;

use mender_db::Db;
use mender_deviceauth::Service;
use mender_deviceauth::model::{DeviceFilter, NewDevice, Status, TokenRecord};
use mender_deviceauth::store::{
    AuthRecord, DeviceauthStore, PgStore, Preauth, SqliteStore, StoreError,
};

async fn stores() -> Vec<(Arc<dyn DeviceauthStore>, Option<tempfile::TempDir>)> {
    mender_db::testing::all("deviceauth", Service::migrations())
        .await
        .into_iter()
        .map(|(db, dir)| {
            let s: Arc<dyn DeviceauthStore> = match db {
                Db::Sqlite(p) => Arc::new(SqliteStore::new(p)),
                Db::Postgres(p) => Arc::new(PgStore::new(p)),
            };
            (s, dir)
        })
        .collect()
}

fn new(n: u32, key: &str) -> NewDevice {
    NewDevice {
        device_id: format!("dev-{n}-{key}"),
        auth_set_id: format!("set-{n}-{key}"),
        id_data: format!("{{\"n\":{n}}}"),
        id_data_sha256: format!("sha-{n}"),
        pubkey: key.to_owned(),
    }
}

#[tokio::test]
async fn auth_requests_create_once_and_track_status() {
    for (s, _dir) in stores().await {
        let AuthRecord::Recorded {
            device,
            auth_set,
            device_created,
            previous_status,
        } = s.record_auth_request("", &new(1, "k1"), 100).await.unwrap()
        else {
            panic!("recorded")
        };
        assert!(device_created);
        assert_eq!(previous_status, Some(Status::Noauth));
        assert_eq!(
            (device.status, device.revision, auth_set.status),
            (Status::Pending, 2, Status::Pending)
        );
        // Same identity, new key: a second auth set on the same device, status unchanged.
        let AuthRecord::Recorded {
            device_created,
            previous_status,
            device: d2,
            auth_set: a2,
        } = s
            .record_auth_request("", &new(1, "k1-rotated"), 101)
            .await
            .unwrap()
        else {
            panic!()
        };
        assert!(!device_created);
        assert_eq!(previous_status, None);
        assert_ne!(a2.id, auth_set.id);
        assert_eq!(d2.auth_sets.len(), 2);
        assert_eq!(d2.id, device.id);
        // Same identity and key with fresh ids: the stored ones win.
        let mut again = new(1, "k1");
        again.device_id = "x".into();
        again.auth_set_id = "y".into();
        let AuthRecord::Recorded {
            device: d3,
            auth_set: a3,
            device_created,
            previous_status,
        } = s.record_auth_request("", &again, 102).await.unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (
                d3.id.as_str(),
                a3.id.as_str(),
                device_created,
                previous_status
            ),
            (device.id.as_str(), auth_set.id.as_str(), false, None)
        );
        // Another tenant is another device.
        let AuthRecord::Recorded { device_created, .. } = s
            .record_auth_request("t2", &new(9, "k9"), 100)
            .await
            .unwrap()
        else {
            panic!()
        };
        assert!(device_created);
        assert_eq!(s.count_devices("", None).await.unwrap(), 1);
        assert_eq!(
            s.count_devices("t2", Some(Status::Pending)).await.unwrap(),
            1
        );
        assert!(s.get_device("t2", &device.id).await.unwrap().is_none());

        // Accept with limit, tokens, decommissioning.
        let change = s
            .set_auth_set_status(
                "",
                &device.id,
                &auth_set.id,
                Status::Accepted,
                &[Status::Pending],
                0,
                103,
            )
            .await
            .unwrap();
        assert_eq!(change.device.status, Status::Accepted);
        assert_eq!(change.previous_device_status, Status::Pending);
        s.save_token(&TokenRecord {
            id: auth_set.id.clone(),
            tenant_id: "".into(),
            device_id: device.id.clone(),
            issued_at: 104,
            expires_at: 200,
        })
        .await
        .unwrap();
        let st = s.token_state(&auth_set.id).await.unwrap().unwrap();
        assert_eq!(
            (st.auth_set_status, st.decommissioning, st.check_in_time),
            (Status::Accepted, false, Some(104))
        );
        assert!(matches!(
            s.set_auth_set_status(
                "",
                &device.id,
                &auth_set.id,
                Status::Pending,
                &[Status::Rejected],
                0,
                105
            )
            .await,
            Err(StoreError::InvalidTransition(Status::Accepted))
        ));
        assert!(matches!(
            s.set_auth_set_status(
                "",
                "other",
                &auth_set.id,
                Status::Rejected,
                &[Status::Accepted],
                0,
                105
            )
            .await,
            Err(StoreError::Mismatch)
        ));
        // The second device cannot be accepted with a limit of 1.
        let AuthRecord::Recorded {
            device: dev2,
            auth_set: set2,
            ..
        } = s.record_auth_request("", &new(2, "k2"), 106).await.unwrap()
        else {
            panic!()
        };
        assert!(matches!(
            s.set_auth_set_status(
                "",
                &dev2.id,
                &set2.id,
                Status::Accepted,
                &[Status::Pending],
                1,
                107
            )
            .await,
            Err(StoreError::LimitReached)
        ));
        // Rejecting the accepted set drops its token.
        s.set_auth_set_status(
            "",
            &device.id,
            &auth_set.id,
            Status::Rejected,
            &[Status::Accepted],
            0,
            108,
        )
        .await
        .unwrap();
        assert!(s.token_state(&auth_set.id).await.unwrap().is_none());
        assert!(s.set_decommissioning("", &device.id, 109).await.unwrap());
        assert!(matches!(
            s.record_auth_request("", &new(1, "k1"), 110).await.unwrap(),
            AuthRecord::Decommissioning
        ));
        assert!(s.delete_device("", &device.id).await.unwrap());
        assert!(!s.delete_device("", &device.id).await.unwrap());
        assert!(s.get_auth_set("", &auth_set.id).await.unwrap().is_none());

        // Listing and filters.
        let list = s
            .list_devices(
                "",
                &DeviceFilter {
                    status: vec![Status::Pending],
                    ids: vec![],
                },
                0,
                10,
            )
            .await
            .unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, dev2.id);
        assert_eq!(list[0].auth_sets.len(), 1);
        let none = s
            .list_devices(
                "",
                &DeviceFilter {
                    status: vec![],
                    ids: vec!["zzz".into()],
                },
                0,
                10,
            )
            .await
            .unwrap();
        assert!(none.is_empty());
    }
}

#[tokio::test]
async fn preauth_limits_and_tokens() {
    for (s, _dir) in stores().await {
        let Preauth::Created(d) = s.preauthorize("", &new(5, "kp"), false, 1).await.unwrap() else {
            panic!()
        };
        assert_eq!(
            (d.status, d.auth_sets[0].status),
            (Status::Preauthorized, Status::Preauthorized)
        );
        assert!(matches!(
            s.preauthorize("", &new(5, "kq"), false, 2).await.unwrap(),
            Preauth::Conflict(_)
        ));
        let Preauth::Forced { device, .. } =
            s.preauthorize("", &new(5, "kq"), true, 3).await.unwrap()
        else {
            panic!()
        };
        assert_eq!(device.auth_sets.len(), 2);
        let found = s.find_auth_set("", "sha-5", "kq").await.unwrap().unwrap();
        assert_eq!(found.status, Status::Preauthorized);
        assert!(s.find_auth_set("t", "sha-5", "kq").await.unwrap().is_none());

        assert_eq!(s.get_limit("", "max_devices").await.unwrap(), None);
        s.put_limit("", "max_devices", 3).await.unwrap();
        s.put_limit("", "max_devices", 4).await.unwrap();
        assert_eq!(s.get_limit("", "max_devices").await.unwrap(), Some(4));
        s.delete_limit("", "max_devices").await.unwrap();
        assert_eq!(s.get_limit("", "max_devices").await.unwrap(), None);

        let tok = |id: &str| TokenRecord {
            id: id.into(),
            tenant_id: "".into(),
            device_id: d.id.clone(),
            issued_at: 1,
            expires_at: 2,
        };
        s.save_token(&tok(&found.id)).await.unwrap();
        s.save_token(&tok(&found.id)).await.unwrap();
        assert!(!s.delete_token("other", &found.id).await.unwrap());
        assert!(s.delete_token("", &found.id).await.unwrap());
        s.save_token(&tok(&found.id)).await.unwrap();
        assert_eq!(s.delete_tokens("", Some(&d.id)).await.unwrap(), 1);
        s.ping().await.unwrap();
    }
}
