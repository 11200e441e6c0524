//! Store conformance: the same expectations on SQLite and PostgreSQL, each test once per
//! backend (`store::sqlite::<name>`, `store::postgres::<name>`).

use mender_core::{AuthSetId, DeviceId, TenantId, Timestamp, TokenId};
use mender_db::query;
use mender_db::testing::{Backend, TestDb};
use mender_deviceauth::SCHEMA;
use mender_deviceauth::model::{AuthSet, Device, DeviceFilter, NewDevice, Status, TokenRecord};
use mender_deviceauth::store::{
    AUTH_SETS_READ_PER_DEVICE, AuthRecord, DeviceauthStore, PendingCaps, Preauth, SqlStore,
    StatusChange, StoreError, Transition,
};

mender_db::each_backend!(
    auth_requests_create_once_and_track_status,
    preauth_limits_and_tokens,
    listing_pages_and_filters,
    times_are_kept_in_whole_seconds,
    unknown_stored_status_is_a_decode_error,
    listing_orders_by_status_then_id,
    update_device_sets_provisioned_and_bumps_revision,
    pending_caps_replace_old_sets_and_refuse_new_identities,
    reads_are_bounded_per_device,
);

async fn store(backend: Backend) -> (SqlStore, TestDb) {
    let db = backend.open(&SCHEMA).await;
    (SqlStore(db.db()), db)
}

/// The open-source server's tenant.
fn oss() -> TenantId {
    TenantId::default_tenant()
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_secs(secs)
}

fn new(n: u32, key: &str) -> NewDevice {
    NewDevice {
        device_id: format!("dev-{n}-{key}").into(),
        auth_set_id: format!("set-{n}-{key}").into(),
        id_data: format!("{{\"n\":{n}}}"),
        id_data_sha256: format!("sha-{n}"),
        pubkey: key.to_owned(),
    }
}

/// Moves auth set `set` of `device` (default tenant) to `to` if it is in `allowed_from`,
/// at time `now`.
async fn change(
    s: &SqlStore,
    (device, set): (&DeviceId, &AuthSetId),
    to: Status,
    allowed_from: &[Status],
    max_devices: u64,
    now: i64,
) -> Result<StatusChange, StoreError> {
    let t = Transition {
        to,
        allowed_from,
        max_devices,
    };
    s.set_auth_set_status(&oss(), device, set, t, at(now), &|_| Vec::new())
        .await
}

fn token(id: &AuthSetId, device: &DeviceId, issued: i64, expires: i64) -> TokenRecord {
    TokenRecord {
        id: TokenId::new(id.as_str()),
        tenant_id: oss(),
        device_id: device.clone(),
        issued_at: at(issued),
        expires_at: at(expires),
    }
}

async fn recorded(s: &SqlStore, tenant: &TenantId, req: &NewDevice, now: i64) -> AuthRecord {
    s.record_auth_request(tenant, req, at(now), PendingCaps::default())
        .await
        .unwrap()
}

async fn auth_requests_create_once_and_track_status(backend: Backend) {
    let (s, _db) = store(backend).await;
    let (device, auth_set) = first_request_creates_a_pending_device(&s).await;
    same_identity_reuses_the_device(&s, &device, &auth_set).await;
    other_tenants_are_separate(&s, &device).await;
    let dev2 = accepting_respects_transitions_and_the_limit(&s, &device, &auth_set).await;
    rejecting_and_decommissioning_end_the_device(&s, &device, &auth_set).await;
    listing_filters_by_status_and_id(&s, &dev2).await;
}

async fn first_request_creates_a_pending_device(s: &SqlStore) -> (Device, AuthSet) {
    let AuthRecord::Recorded {
        device,
        auth_set,
        device_created,
        previous_status,
    } = recorded(s, &oss(), &new(1, "k1"), 100).await
    else {
        panic!("recorded")
    };
    assert!(device_created);
    assert_eq!(previous_status, Some(Status::Noauth));
    assert_eq!(
        (device.status, device.revision, auth_set.status),
        (Status::Pending, 2, Status::Pending)
    );
    (device, auth_set)
}

async fn same_identity_reuses_the_device(s: &SqlStore, device: &Device, auth_set: &AuthSet) {
    // Same identity, new key: a second auth set on the same device, status unchanged.
    let AuthRecord::Recorded {
        device_created,
        previous_status,
        device: d2,
        auth_set: a2,
    } = recorded(s, &oss(), &new(1, "k1-rotated"), 101).await
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
    } = recorded(s, &oss(), &again, 102).await
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
}

async fn other_tenants_are_separate(s: &SqlStore, device: &Device) {
    let t2 = TenantId::from("t2");
    let AuthRecord::Recorded { device_created, .. } = recorded(s, &t2, &new(9, "k9"), 100).await
    else {
        panic!()
    };
    assert!(device_created);
    assert_eq!(s.count_devices(&oss(), None).await.unwrap(), 1);
    assert_eq!(
        s.count_devices(&t2, Some(Status::Pending)).await.unwrap(),
        1
    );
    assert!(s.get_device(&t2, &device.id).await.unwrap().is_none());
}

/// Returns the second (pending) device.
async fn accepting_respects_transitions_and_the_limit(
    s: &SqlStore,
    device: &Device,
    auth_set: &AuthSet,
) -> Device {
    let ids = (&device.id, &auth_set.id);
    let accepted = change(s, ids, Status::Accepted, &[Status::Pending], 0, 103)
        .await
        .unwrap();
    assert_eq!(accepted.device.status, Status::Accepted);
    assert_eq!(accepted.previous_device_status, Status::Pending);
    s.save_token(&token(&auth_set.id, &device.id, 104, 200))
        .await
        .unwrap();
    let st = s.token_state(&auth_set.token_id()).await.unwrap().unwrap();
    assert_eq!(
        (st.auth_set_status, st.decommissioning, st.check_in_time),
        (Status::Accepted, false, Some(at(104)))
    );
    assert!(matches!(
        change(s, ids, Status::Pending, &[Status::Rejected], 0, 105).await,
        Err(StoreError::InvalidTransition(Status::Accepted))
    ));
    let other = (&DeviceId::from("other"), &auth_set.id);
    assert!(matches!(
        change(s, other, Status::Rejected, &[Status::Accepted], 0, 105).await,
        Err(StoreError::Mismatch)
    ));
    // The second device cannot be accepted with a limit of 1.
    let AuthRecord::Recorded {
        device: dev2,
        auth_set: set2,
        ..
    } = recorded(s, &oss(), &new(2, "k2"), 106).await
    else {
        panic!()
    };
    assert!(matches!(
        change(
            s,
            (&dev2.id, &set2.id),
            Status::Accepted,
            &[Status::Pending],
            1,
            107
        )
        .await,
        Err(StoreError::LimitReached)
    ));
    dev2
}

async fn rejecting_and_decommissioning_end_the_device(
    s: &SqlStore,
    device: &Device,
    auth_set: &AuthSet,
) {
    // Rejecting the accepted set drops its token.
    let ids = (&device.id, &auth_set.id);
    change(s, ids, Status::Rejected, &[Status::Accepted], 0, 108)
        .await
        .unwrap();
    assert!(s.token_state(&auth_set.token_id()).await.unwrap().is_none());
    assert!(
        s.set_decommissioning(&oss(), &device.id, at(109), &[])
            .await
            .unwrap()
    );
    assert!(matches!(
        recorded(s, &oss(), &new(1, "k1"), 110).await,
        AuthRecord::Decommissioning
    ));
    assert!(s.delete_device(&oss(), &device.id).await.unwrap());
    assert!(!s.delete_device(&oss(), &device.id).await.unwrap());
    assert!(
        s.get_auth_set(&oss(), &auth_set.id)
            .await
            .unwrap()
            .is_none()
    );
}

async fn listing_filters_by_status_and_id(s: &SqlStore, dev2: &Device) {
    let list = s
        .list_devices(
            &oss(),
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
            &oss(),
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

async fn preauth_limits_and_tokens(backend: Backend) {
    let (s, _db) = store(backend).await;
    let Preauth::Created(d) = s
        .preauthorize(&oss(), &new(5, "kp"), false, at(1), &|_| Vec::new())
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (d.status, d.auth_sets[0].status),
        (Status::Preauthorized, Status::Preauthorized)
    );
    assert!(matches!(
        s.preauthorize(&oss(), &new(5, "kq"), false, at(2), &|_| Vec::new())
            .await
            .unwrap(),
        Preauth::Conflict(_)
    ));
    let Preauth::Forced { device, .. } = s
        .preauthorize(&oss(), &new(5, "kq"), true, at(3), &|_| Vec::new())
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(device.auth_sets.len(), 2);
    let found = s
        .find_auth_set(&oss(), "sha-5", "kq")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.status, Status::Preauthorized);
    assert!(
        s.find_auth_set(&"t".into(), "sha-5", "kq")
            .await
            .unwrap()
            .is_none()
    );

    assert_eq!(s.get_limit(&oss(), "max_devices").await.unwrap(), None);
    s.put_limit(&oss(), "max_devices", 3).await.unwrap();
    s.put_limit(&oss(), "max_devices", 4).await.unwrap();
    assert_eq!(s.get_limit(&oss(), "max_devices").await.unwrap(), Some(4));
    s.delete_limit(&oss(), "max_devices").await.unwrap();
    assert_eq!(s.get_limit(&oss(), "max_devices").await.unwrap(), None);

    let tok = token(&found.id, &d.id, 1, 2);
    s.save_token(&tok).await.unwrap();
    s.save_token(&tok).await.unwrap();
    assert!(!s.delete_token(&"other".into(), &tok.id).await.unwrap());
    assert!(s.delete_token(&oss(), &tok.id).await.unwrap());
    s.save_token(&tok).await.unwrap();
    assert_eq!(s.delete_tokens(&oss(), Some(&d.id)).await.unwrap(), 1);
    // Without a device, every token of the tenant goes, and only of that tenant.
    s.save_token(&tok).await.unwrap();
    assert_eq!(s.delete_tokens(&"other".into(), None).await.unwrap(), 0);
    assert_eq!(s.delete_tokens(&oss(), None).await.unwrap(), 1);
    s.ping().await.unwrap();
}

async fn listing_pages_and_filters(backend: Backend) {
    let (s, _db) = store(backend).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let AuthRecord::Recorded { device, .. } =
            recorded(&s, &oss(), &new(n, "k"), 1_000 + i64::from(n)).await
        else {
            panic!()
        };
        ids.push(device.id);
    }
    let all = DeviceFilter::default();
    let page = |skip, limit| {
        let (s, all) = (&s, &all);
        async move {
            s.list_devices(&oss(), all, skip, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(0, 10).await, ids);
    assert_eq!(page(1, 2).await, ids[1..3]);
    assert_eq!(page(4, 2).await, ids[4..]);
    assert!(page(5, 2).await.is_empty());
    let two = DeviceFilter {
        status: vec![Status::Pending, Status::Accepted],
        ids: vec![ids[3].clone(), ids[1].clone(), "nope".into()],
    };
    let got: Vec<DeviceId> = s
        .list_devices(&oss(), &two, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(got, vec![ids[1].clone(), ids[3].clone()]);
    let rejected = DeviceFilter {
        status: vec![Status::Rejected],
        ids: vec![],
    };
    assert!(
        s.list_devices(&oss(), &rejected, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.count_devices(&oss(), None).await.unwrap(), 5);
    assert_eq!(
        s.count_devices(&oss(), Some(Status::Accepted))
            .await
            .unwrap(),
        0
    );
}

async fn times_are_kept_in_whole_seconds(backend: Backend) {
    let (s, _db) = store(backend).await;
    let now = Timestamp::from_unix_millis(1_700_000_000_750);
    let AuthRecord::Recorded {
        device, auth_set, ..
    } = s
        .record_auth_request(&oss(), &new(1, "k"), now, PendingCaps::default())
        .await
        .unwrap()
    else {
        panic!()
    };
    let secs = now.trunc_secs();
    assert_eq!(
        (device.created_ts, device.updated_ts, auth_set.ts),
        (secs, secs, secs)
    );
    assert_eq!(device.check_in_time, None);
    let later = at(1_700_000_100);
    s.set_check_in(
        &oss(),
        &device.id,
        later + std::time::Duration::from_millis(300),
    )
    .await
    .unwrap();
    let got = s.get_device(&oss(), &device.id).await.unwrap().unwrap();
    assert_eq!(got.check_in_time, Some(later));
    assert_eq!(got.created_ts, secs);
    // Another tenant's check-in does not touch this device.
    s.set_check_in(&"t".into(), &device.id, at(1))
        .await
        .unwrap();
    let got = s.get_device(&oss(), &device.id).await.unwrap().unwrap();
    assert_eq!(got.check_in_time, Some(later));
}

async fn unknown_stored_status_is_a_decode_error(backend: Backend) {
    let (s, db) = store(backend).await;
    let AuthRecord::Recorded { device, .. } = recorded(&s, &oss(), &new(1, "k"), 1).await else {
        panic!()
    };
    query("UPDATE devices SET status = 'bogus' WHERE id = $1")
        .bind(&device.id)
        .execute(&*db)
        .await
        .unwrap();
    match s.get_device(&oss(), &device.id).await {
        Err(StoreError::Db(e)) => assert!(e.is_decode(), "{e}"),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

async fn listing_orders_by_status_then_id(backend: Backend) {
    let (s, _db) = store(backend).await;
    // Created in this order, with ids and statuses that sort differently.
    let plan = [
        ("zz", Status::Pending),
        ("b", Status::Accepted),
        ("a", Status::Pending),
        ("Z", Status::Accepted),
        ("c", Status::Rejected),
        ("a-", Status::Pending),
    ];
    for (n, (id, status)) in plan.iter().enumerate() {
        let n = n as u32;
        let mut req = new(n, "k");
        req.device_id = (*id).into();
        let AuthRecord::Recorded {
            device, auth_set, ..
        } = recorded(&s, &oss(), &req, 1_000 + i64::from(n)).await
        else {
            panic!()
        };
        if *status != Status::Pending {
            let from = [Status::Pending];
            change(&s, (&device.id, &auth_set.id), *status, &from, 0, 2_000)
                .await
                .unwrap();
        }
    }
    let ids = |list: Vec<Device>| {
        list.into_iter()
            .map(|d| d.id.to_string())
            .collect::<Vec<_>>()
    };
    let all = DeviceFilter::default();
    // Byte order: upper case before lower case, "a" before "a-".
    assert_eq!(
        ids(s.list_devices(&oss(), &all, 0, 10).await.unwrap()),
        ["Z", "b", "a", "a-", "zz", "c"]
    );
    assert_eq!(
        ids(s.list_devices(&oss(), &all, 2, 3).await.unwrap()),
        ["a", "a-", "zz"]
    );
    let pending = DeviceFilter {
        status: vec![Status::Pending],
        ids: vec![],
    };
    assert_eq!(
        ids(s.list_devices(&oss(), &pending, 1, 10).await.unwrap()),
        ["a-", "zz"]
    );
}

async fn update_device_sets_provisioned_and_bumps_revision(backend: Backend) {
    let (s, _db) = store(backend).await;
    let AuthRecord::Recorded { device, .. } = recorded(&s, &oss(), &new(1, "k"), 10).await else {
        panic!()
    };
    assert!(!device.provisioned);
    assert!(
        s.update_device(&oss(), &device.id, Some(true), at(20))
            .await
            .unwrap()
    );
    let got = s.get_device(&oss(), &device.id).await.unwrap().unwrap();
    assert!(got.provisioned);
    assert_eq!(got.revision, device.revision + 1);
    assert_eq!(got.updated_ts, at(20));
    // Nothing to set still bumps the revision and the time.
    assert!(
        s.update_device(&oss(), &device.id, None, at(30))
            .await
            .unwrap()
    );
    let got = s.get_device(&oss(), &device.id).await.unwrap().unwrap();
    assert!(got.provisioned);
    assert_eq!(
        (got.revision, got.updated_ts),
        (device.revision + 2, at(30))
    );
    assert!(
        s.update_device(&oss(), &device.id, Some(false), at(40))
            .await
            .unwrap()
    );
    assert!(
        !s.get_device(&oss(), &device.id)
            .await
            .unwrap()
            .unwrap()
            .provisioned
    );
    // Another tenant, or an unknown device: not found, nothing written.
    assert!(
        !s.update_device(&"t".into(), &device.id, Some(true), at(50))
            .await
            .unwrap()
    );
    assert!(
        !s.update_device(&oss(), &"nope".into(), Some(true), at(50))
            .await
            .unwrap()
    );
    let got = s.get_device(&oss(), &device.id).await.unwrap().unwrap();
    assert_eq!(
        (got.provisioned, got.revision),
        (false, device.revision + 3)
    );
}

async fn capped(s: &SqlStore, n: u32, key: &str, now: i64, caps: PendingCaps) -> AuthRecord {
    s.record_auth_request(&oss(), &new(n, key), at(now), caps)
        .await
        .unwrap()
}

/// The keys of a device's auth sets with their statuses, oldest first.
async fn keys_of(s: &SqlStore, id: &DeviceId) -> Vec<(String, Status)> {
    let d = s.get_device(&oss(), id).await.unwrap().unwrap();
    d.auth_sets
        .into_iter()
        .map(|a| (a.pubkey, a.status))
        .collect()
}

fn keyed(sets: &[(&str, Status)]) -> Vec<(String, Status)> {
    sets.iter().map(|(k, st)| ((*k).to_owned(), *st)).collect()
}

async fn pending_caps_replace_old_sets_and_refuse_new_identities(backend: Backend) {
    let (s, _db) = store(backend).await;
    let caps = PendingCaps {
        sets_per_device: 2,
        devices: 2,
    };
    let AuthRecord::Recorded { device, .. } = capped(&s, 1, "k1", 100, caps).await else {
        panic!()
    };
    capped(&s, 1, "k2", 101, caps).await;
    capped(&s, 1, "k3", 102, caps).await;
    use Status::{Accepted, Pending};
    assert_eq!(
        keys_of(&s, &device.id).await,
        keyed(&[("k2", Pending), ("k3", Pending)])
    );
    // An accepted set is never replaced; only pending ones are.
    let k2 = s
        .find_auth_set(&oss(), "sha-1", "k2")
        .await
        .unwrap()
        .unwrap();
    change(&s, (&device.id, &k2.id), Accepted, &[Pending], 0, 103)
        .await
        .unwrap();
    capped(&s, 1, "k4", 104, caps).await;
    let AuthRecord::Recorded { auth_set, .. } = capped(&s, 1, "k5", 105, caps).await else {
        panic!()
    };
    assert_eq!((auth_set.pubkey.as_str(), auth_set.status), ("k5", Pending));
    let expected = keyed(&[("k2", Accepted), ("k4", Pending), ("k5", Pending)]);
    assert_eq!(keys_of(&s, &device.id).await, expected);
    // A known key changes nothing.
    capped(&s, 1, "k4", 106, caps).await;
    assert_eq!(keys_of(&s, &device.id).await, expected);

    // Two pending devices fill the cap (the accepted one does not count)...
    assert!(matches!(
        capped(&s, 2, "a", 107, caps).await,
        AuthRecord::Recorded { .. }
    ));
    assert!(matches!(
        capped(&s, 3, "a", 108, caps).await,
        AuthRecord::Recorded { .. }
    ));
    // ...so a new identity is not recorded, while known ones still are.
    assert!(matches!(
        capped(&s, 4, "a", 109, caps).await,
        AuthRecord::TooManyPending
    ));
    assert_eq!(s.count_devices(&oss(), None).await.unwrap(), 3);
    let AuthRecord::Recorded { device: d2, .. } = capped(&s, 2, "b", 110, caps).await else {
        panic!()
    };
    assert_eq!(d2.auth_sets.len(), 2);
    assert_eq!(s.count_devices(&oss(), None).await.unwrap(), 3);
    // Without caps there is no limit.
    let none = PendingCaps::default();
    assert!(matches!(
        capped(&s, 4, "a", 111, none).await,
        AuthRecord::Recorded { .. }
    ));
}

async fn reads_are_bounded_per_device(backend: Backend) {
    let (s, _db) = store(backend).await;
    // A backlog from before the caps: 150 pending sets, the oldest then accepted.
    let none = PendingCaps::default();
    let AuthRecord::Recorded {
        device, auth_set, ..
    } = capped(&s, 1, "k000", 100, none).await
    else {
        panic!()
    };
    for i in 1..150 {
        capped(&s, 1, &format!("k{i:03}"), 100 + i, none).await;
    }
    change(
        &s,
        (&device.id, &auth_set.id),
        Status::Accepted,
        &[Status::Pending],
        0,
        300,
    )
    .await
    .unwrap();
    let max = AUTH_SETS_READ_PER_DEVICE as usize;
    let sets = keys_of(&s, &device.id).await;
    assert_eq!(sets.len(), max);
    assert_eq!(sets[0], ("k000".to_owned(), Status::Accepted));
    assert_eq!(sets[1].0, format!("k{:03}", 150 - max + 1));
    assert_eq!(sets[max - 1].0, "k149");
    let listed = s
        .list_devices(&oss(), &DeviceFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(listed[0].auth_sets.len(), max);
    // The device status still sees every set.
    assert_eq!(listed[0].status, Status::Accepted);
    // The next request under a cap trims the backlog.
    let caps = PendingCaps {
        sets_per_device: 3,
        devices: 0,
    };
    capped(&s, 1, "k150", 400, caps).await;
    assert_eq!(
        keys_of(&s, &device.id).await,
        keyed(&[
            ("k000", Status::Accepted),
            ("k148", Status::Pending),
            ("k149", Status::Pending),
            ("k150", Status::Pending)
        ])
    );
}
