//! Store conformance: the same suite on SQLite and PostgreSQL, each test once per backend.

use std::sync::Arc;
use std::time::Duration;

use mender_artifact::{ArtifactInfo, ArtifactMeta, TypeInfo, Update, UpdateFile};
use mender_core::{ArtifactId, DeploymentId, DeviceId, TenantId, Timestamp};
use mender_db::testing::{Backend, TestDb};
use mender_deployments::SCHEMA;
use mender_deployments::model::*;
use mender_deployments::store::{
    ArtifactDeletion, DeploymentsStore, ReleaseChange, Reservation, SqlStore, StoreError,
};
use serde_json::{Map, json};

mender_db::each_backend!(
    conformance,
    conformance_extras,
    created_bounds_at_whole_seconds,
    counts_move_with_device_statuses,
    limits_per_tenant,
    migration_backfills_counts,
    artifact_documents_keep_their_stored_shape,
    concurrent_clashing_uploads_admit_one,
    concurrent_reports_finish_the_deployment,
    artifact_ids_are_reserved_before_their_files,
);

type Store = Arc<dyn DeploymentsStore>;

async fn store(backend: Backend) -> (Store, TestDb) {
    let db = backend.open(&SCHEMA).await;
    (Arc::new(SqlStore(db.db())), db)
}

fn none() -> TenantId {
    TenantId::default()
}

fn aid(id: &str) -> ArtifactId {
    ArtifactId::from(id)
}

fn did(id: &str) -> DeploymentId {
    DeploymentId::from(id)
}

fn dev(id: &str) -> DeviceId {
    DeviceId::from(id)
}

fn devs(ids: &[&str]) -> Vec<DeviceId> {
    ids.iter().map(|d| dev(d)).collect()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn now() -> Timestamp {
    mender_core::Clock::now(&mender_core::clock::SystemClock)
}

/// A deployment as stored, if any.
async fn stored(s: &Store, id: &str) -> Option<Deployment> {
    s.get_deployment(&none(), &did(id)).await.unwrap()
}

/// The id of the deployment the device would join next, if any.
async fn next_for(s: &Store, device: &str) -> Option<String> {
    let found = s.find_new_deployment(&none(), &dev(device)).await.unwrap();
    found.map(|d| d.id.into_string())
}

/// The device's current part in a deployment.
async fn dd_of(s: &Store, dep: &str, device: &str) -> DeviceDeployment {
    let (dep, device) = (did(dep), dev(device));
    let found = s.get_device_deployment(&none(), &dep, &device).await;
    found.unwrap().unwrap()
}

/// Stores an artifact that does not clash with any stored one.
async fn insert(s: &Store, a: Artifact) {
    s.insert_artifact(&a).await.unwrap();
}

/// Sets a device deployment's status, without a substate.
async fn set_status(s: &Store, dd_id: &str, status: DeviceStatus, at: Timestamp) {
    s.set_device_status(&none(), dd_id, status, None, at)
        .await
        .unwrap();
}

fn meta(name: &str, types: &[&str], size: u64) -> ArtifactMeta {
    ArtifactMeta {
        name: name.into(),
        device_types_compatible: types.iter().map(|s| s.to_string()).collect(),
        info: ArtifactInfo {
            format: "mender".into(),
            version: 3,
        },
        signed: false,
        updates: Vec::new(),
        artifact_provides: None,
        artifact_depends: Map::new(),
        clears_artifact_provides: None,
        size,
    }
}

fn artifact(id: &str, name: &str, types: &[&str], size: u64) -> Artifact {
    Artifact {
        id: aid(id),
        tenant: none(),
        description: format!("desc of {id}"),
        meta: meta(name, types, size),
        modified: Timestamp::from_unix_secs(1_700_000_000),
    }
}

fn deployment(id: &str, name: &str, created: Timestamp, n: i64) -> Deployment {
    Deployment {
        id: did(id),
        tenant: none(),
        name: name.into(),
        artifact_name: "rel".into(),
        created,
        finished: None,
        status: DeploymentStatus::Pending,
        device_count: n,
        max_devices: n,
        force_installation: false,
        groups: vec![],
        kind: DeploymentKind::Software,
        configuration: None,
        checksum: None,
        total_size: 0,
    }
}

fn dd(id: &str, dep: &str, device: &str, created: Timestamp) -> DeviceDeployment {
    DeviceDeployment {
        id: id.into(),
        tenant: none(),
        deployment_id: did(dep),
        device_id: dev(device),
        status: DeviceStatus::Pending,
        substate: String::new(),
        created,
        started: None,
        finished: None,
        active: true,
        deleted: None,
        device_type: "dt".into(),
        artifact_id: None,
        request: Some(DeviceRequest {
            artifact_name: "a".into(),
            device_type: "dt".into(),
            ..Default::default()
        }),
        log_available: false,
    }
}

// ---- the main story: artifacts, releases, deployments, selection, history ----

async fn conformance(backend: Backend) {
    let (s, _db) = store(backend).await;
    s.ping().await.unwrap();
    artifacts_insert_conflict_and_filter(&s).await;
    releases_notes_and_tags(&s).await;
    let t0 = now();
    deployments_and_device_selection(&s, t0).await;
    newer_deployments_and_history_reset(&s, t0).await;
    abort_logs_and_list_filters(&s, t0).await;
    artifacts_deleted_once_unused(&s, t0).await;
}

async fn artifacts_insert_conflict_and_filter(s: &Store) {
    insert(s, artifact("a1", "rel", &["x", "y"], 10)).await;
    assert!(matches!(
        s.insert_artifact(&artifact("a2", "rel", &["y"], 5)).await,
        Err(StoreError::ArtifactConflict)
    ));
    insert(s, artifact("a2", "rel", &["z"], 5)).await;
    insert(s, artifact("a3", "other_%", &["x"], 1)).await;
    let a1 = s.get_artifact(&none(), &aid("a1")).await.unwrap().unwrap();
    assert_eq!(a1.meta.device_types_compatible, vec!["x", "y"]);
    assert_eq!(a1, artifact("a1", "rel", &["x", "y"], 10), "round trip");
    assert!(
        s.get_artifact(&"tenant2".into(), &aid("a1"))
            .await
            .unwrap()
            .is_none()
    );
    let list = |f: ArtifactFilter| async move { s.list_artifacts(&none(), &f).await.unwrap() };
    let ids = |v: &[Artifact]| v.iter().map(|a| a.id.to_string()).collect::<Vec<_>>();
    let (all, total) = list(ArtifactFilter::default()).await;
    assert_eq!((all.len(), total), (3, 3));
    assert_eq!(all[0].meta.name, "other_%");
    let cases = [
        (
            "device type",
            ArtifactFilter {
                device_type: Some(Match::Exact(vec!["x".into()])),
                ..Default::default()
            },
            vec!["a3", "a1"],
        ),
        (
            "name prefix",
            ArtifactFilter {
                name: Some(Match::Prefix("oth".into())),
                ..Default::default()
            },
            vec!["a3"],
        ),
        (
            // LIKE wildcards must be escaped
            "name contains wildcards",
            ArtifactFilter {
                name: Some(Match::Contains("R_%".into())),
                ..Default::default()
            },
            vec!["a3"],
        ),
    ];
    for (what, f, want) in cases {
        assert_eq!(ids(&list(f).await.0), want, "{what}");
    }
    let (v, t) = list(ArtifactFilter {
        limit: Some(1),
        offset: 1,
        sort: Sort::Desc,
        ..Default::default()
    })
    .await;
    assert_eq!((v.len(), t), (1, 3));
    assert!(
        s.set_artifact_description(&none(), &aid("a1"), "new", now())
            .await
            .unwrap()
    );
    assert!(
        !s.set_artifact_description(&none(), &aid("nope"), "new", now())
            .await
            .unwrap()
    );
}

async fn releases_notes_and_tags(s: &Store) {
    let tags = ["t1".to_owned()];
    for (name, change, want) in [
        ("rel", ReleaseChange::Tags(&tags), true),
        ("rel", ReleaseChange::Notes("notes"), true),
        ("missing", ReleaseChange::Notes("notes"), false),
    ] {
        let changed = s.update_release(&none(), name, change, now()).await;
        assert_eq!(changed.unwrap(), want, "{name} {change:?}");
    }
    let metas = s.release_metas(&none()).await.unwrap();
    assert_eq!(metas.len(), 2);
    assert_eq!(metas[1].tags, vec!["t1"]);
    assert_eq!(metas[1].notes, "notes");
}

async fn deployments_and_device_selection(s: &Store, t0: Timestamp) {
    let d1 = deployment("d1", "first", t0, 2);
    s.insert_deployment(&d1, &devs(&["dev1", "dev2"]), &[aid("a1"), aid("a2")])
        .await
        .unwrap();
    assert_eq!(
        s.deployment_device_ids(&none(), &did("d1")).await.unwrap(),
        devs(&["dev1", "dev2"])
    );
    assert_eq!(
        s.active_deployments_of(&none(), &["rel".into()])
            .await
            .unwrap(),
        vec![did("d1")]
    );
    assert_eq!(
        s.delete_artifact(&none(), &aid("a1"), now()).await.unwrap(),
        ArtifactDeletion::InUse
    );
    assert_eq!(next_for(s, "devX").await, None);
    let found = s
        .find_new_deployment(&none(), &dev("dev1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, "d1");
    assert_eq!(found, d1, "round trip");
    let created = s
        .create_device_deployment(&dd("x1", "d1", "dev1", t0 + secs(1)))
        .await
        .unwrap();
    // a second create for the same pair returns the first
    let again = s
        .create_device_deployment(&dd("x2", "d1", "dev1", t0 + secs(2)))
        .await
        .unwrap();
    assert_eq!(again.id, created.id);
    assert_eq!(next_for(s, "dev1").await, None);
    assert_eq!(
        s.active_device_deployment(&none(), &dev("dev1"))
            .await
            .unwrap()
            .unwrap(),
        dd("x1", "d1", "dev1", t0 + secs(1)),
        "round trip"
    );
    s.set_device_status(&none(), "x1", DeviceStatus::Downloading, Some("sub"), t0)
        .await
        .unwrap();
    let got = dd_of(s, "d1", "dev1").await;
    assert_eq!(
        (got.status, got.substate.as_str(), got.started),
        (DeviceStatus::Downloading, "sub", Some(t0))
    );
    assert_eq!(
        stored(s, "d1").await.unwrap().status,
        DeploymentStatus::Inprogress
    );
    set_status(s, "x1", DeviceStatus::Success, t0).await;
    assert!(!dd_of(s, "d1", "dev1").await.active);
    s.create_device_deployment(&dd("x3", "d1", "dev2", t0 + secs(3)))
        .await
        .unwrap();
    s.finish_device(&none(), &dev("dev2"), DeviceStatus::Decommissioned, t0)
        .await
        .unwrap();
    let d = stored(s, "d1").await.unwrap();
    assert_eq!(d.status, DeploymentStatus::Finished);
    assert_eq!(d.finished, Some(t0));
    let stats = s.statistics(&none(), &[did("d1")]).await.unwrap();
    assert_eq!(stats[&did("d1")][&DeviceStatus::Success], 1);
    assert_eq!(stats[&did("d1")][&DeviceStatus::Decommissioned], 1);
}

async fn newer_deployments_and_history_reset(s: &Store, t0: Timestamp) {
    // a newer deployment is picked after the finished one; an older one is not
    let d0 = deployment("d0", "older", t0 - secs(3600), 1);
    s.insert_deployment(&d0, &devs(&["dev1"]), &[])
        .await
        .unwrap();
    let d2 = deployment("d2", "newer", t0 + secs(3600), 1);
    s.insert_deployment(&d2, &devs(&["dev1"]), &[aid("a1")])
        .await
        .unwrap();
    assert_eq!(next_for(s, "dev1").await.as_deref(), Some("d2"));
    // history reset makes the older one eligible again
    s.reset_device_history(&none(), &dev("dev1"), t0)
        .await
        .unwrap();
    assert_eq!(next_for(s, "dev1").await.as_deref(), Some("d0"));
    let page = DeviceDeploymentFilter {
        limit: Some(20),
        ..Default::default()
    };
    let history = s.device_history(&none(), &dev("dev1"), &page).await;
    assert_eq!(history.unwrap(), (Vec::new(), 0));
}

async fn abort_logs_and_list_filters(s: &Store, t0: Timestamp) {
    s.create_device_deployment(&dd("x4", "d2", "dev1", t0 + secs(7200)))
        .await
        .unwrap();
    s.save_log(
        &none(),
        "x4",
        r#"[{"timestamp":"t","level":"l","message":"m"}]"#,
    )
    .await
    .unwrap();
    assert!(
        s.get_log(&none(), "x4")
            .await
            .unwrap()
            .unwrap()
            .contains("\"m\"")
    );
    s.abort_deployment(&none(), &did("d2"), t0).await.unwrap();
    let x4 = dd_of(s, "d2", "dev1").await;
    assert_eq!(
        (x4.status, x4.active, x4.log_available),
        (DeviceStatus::Aborted, false, true)
    );
    let list = |f: DeploymentFilter| async move { s.list_deployments(&none(), &f).await.unwrap() };
    let (fin, total) = list(DeploymentFilter {
        status: Some(DeploymentStatus::Finished),
        sort: Sort::Asc,
        ..Default::default()
    })
    .await;
    assert_eq!(
        (fin.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), total),
        (vec!["d1", "d2"], 2)
    );
    let (found, _) = list(DeploymentFilter {
        search: Some("NEW".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(found.len(), 1);
    // created_after/before are whole seconds, both ends included (the exact bounds:
    // `created_bounds_at_whole_seconds`)
    let (within, _) = list(DeploymentFilter {
        created_after: Some(t0.unix_secs()),
        created_before: Some(t0.unix_secs() + 1),
        ..Default::default()
    })
    .await;
    assert_eq!(
        within.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["d1"]
    );
    let finished = DeviceDeploymentFilter {
        status: StatusFilter::parse("finished"),
        offset: 0,
        limit: Some(1),
    };
    let (l, t) = s
        .list_device_deployments(&none(), &did("d1"), &finished)
        .await
        .unwrap();
    assert_eq!((l.len(), t), (1, 2));
    assert_eq!(
        s.device_deployments_by_ids(&none(), &["x1".into(), "x3".into()])
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn artifacts_deleted_once_unused(s: &Store, t0: Timestamp) {
    s.abort_deployment(&none(), &did("d0"), t0).await.unwrap();
    for (id, want) in [
        ("a1", ArtifactDeletion::Deleted),
        ("a1", ArtifactDeletion::NotFound),
        ("a2", ArtifactDeletion::Deleted),
    ] {
        assert_eq!(
            s.delete_artifact(&none(), &aid(id), now()).await.unwrap(),
            want,
            "{id}"
        );
    }
    // empty release dropped
    assert_eq!(s.release_metas(&none()).await.unwrap().len(), 1);
}

// ---- configuration deployments, the identical-deployment rule, settings, usage ----

async fn conformance_extras(backend: Backend) {
    let (s, _db) = store(backend).await;
    let t0 = Timestamp::from_unix_secs(1_800_000_000);
    insert(&s, artifact("x1", "cfg-rel", &["dt"], 40)).await;
    insert(&s, artifact("x2", "other", &["dt"], 2)).await;
    assert_eq!(s.storage_usage(&none()).await.unwrap(), 42);
    assert_eq!(s.storage_usage(&"nobody".into()).await.unwrap(), 0);
    configuration_deployments_round_trip(&s, t0).await;
    checksum_unique_among_unfinished(&s, t0).await;
    type_filter(&s).await;
    storage_settings(&s).await;
}

async fn configuration_deployments_round_trip(s: &Store, t0: Timestamp) {
    // a configuration deployment round-trips its type and configuration
    let mut c = deployment("c1", "cfg-rel", t0, 1);
    c.artifact_name = "cfg-rel".into();
    c.kind = DeploymentKind::Configuration;
    c.configuration = Some(r#"{"a":"b"}"#.into());
    s.insert_deployment(&c, &devs(&["dev"]), &[]).await.unwrap();
    assert_eq!(stored(s, "c1").await, Some(c.clone()));
    // same id again
    assert!(matches!(
        s.insert_deployment(&c, &devs(&["dev"]), &[]).await,
        Err(StoreError::DeploymentConflict)
    ));
    // an artifact named like a configuration deployment does not join it
    insert(s, artifact("x3", "cfg-rel", &["other-dt"], 1)).await;
    assert!(
        s.deployment_artifact_ids(&none(), &did("c1"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !s.artifact_in_any_deployment(&none(), &aid("x1"))
            .await
            .unwrap()
    );
}

async fn checksum_unique_among_unfinished(s: &Store, t0: Timestamp) {
    // the checksum is unique among unfinished deployments of a tenant only
    let mut a = deployment("s1", "n", t0, 1);
    a.checksum = Some("sum".into());
    s.insert_deployment(&a, &devs(&["dev"]), &[aid("x2")])
        .await
        .unwrap();
    assert!(
        s.artifact_in_any_deployment(&none(), &aid("x2"))
            .await
            .unwrap()
    );
    assert!(
        !s.artifact_in_any_deployment(&"t".into(), &aid("x2"))
            .await
            .unwrap()
    );
    let mut b = deployment("s2", "n", t0, 1);
    b.checksum = Some("sum".into());
    assert!(matches!(
        s.insert_deployment(&b, &devs(&["dev"]), &[]).await,
        Err(StoreError::DeploymentConflict)
    ));
    // nothing half-written
    assert_eq!(stored(s, "s2").await, None);
    assert!(
        s.deployment_device_ids(&none(), &did("s2"))
            .await
            .unwrap()
            .is_empty()
    );
    let mut other_tenant = b.clone();
    other_tenant.id = did("s3");
    other_tenant.tenant = "t".into();
    s.insert_deployment(&other_tenant, &devs(&["dev"]), &[])
        .await
        .unwrap();
    s.abort_deployment(&none(), &did("s1"), t0).await.unwrap();
    s.insert_deployment(&b, &devs(&["dev"]), &[]).await.unwrap();
}

async fn type_filter(s: &Store) {
    let by_kind = |k: DeploymentKind| async move {
        let f = DeploymentFilter {
            kind: Some(k),
            ..Default::default()
        };
        let (v, n) = s.list_deployments(&none(), &f).await.unwrap();
        (
            v.into_iter()
                .map(|d| d.id.into_string())
                .collect::<Vec<_>>(),
            n,
        )
    };
    assert_eq!(
        by_kind(DeploymentKind::Configuration).await,
        (vec!["c1".to_owned()], 1)
    );
    let (soft, n) = by_kind(DeploymentKind::Software).await;
    assert_eq!(n, 2, "{soft:?}");
}

async fn storage_settings(s: &Store) {
    // storage settings: absent, set, replaced, per tenant, removed
    let t: TenantId = "t".into();
    assert_eq!(s.get_storage_settings(&none()).await.unwrap(), None);
    for (tenant, doc) in [
        (none(), r#"{"bucket":"one"}"#),
        (none(), r#"{"bucket":"two"}"#),
        (t.clone(), r#"{"bucket":"t"}"#),
    ] {
        s.set_storage_settings(&tenant, Some(doc)).await.unwrap();
    }
    assert_eq!(
        s.get_storage_settings(&none()).await.unwrap().as_deref(),
        Some(r#"{"bucket":"two"}"#)
    );
    s.set_storage_settings(&none(), None).await.unwrap();
    assert_eq!(s.get_storage_settings(&none()).await.unwrap(), None);
    assert_eq!(
        s.get_storage_settings(&t).await.unwrap().as_deref(),
        Some(r#"{"bucket":"t"}"#)
    );
}

// ---- concurrency ----

/// Uploads of one name are checked against each other: of several clashing ones that run at
/// once, exactly one is stored.
async fn concurrent_clashing_uploads_admit_one(backend: Backend) {
    let (s, _db) = store(backend).await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.insert_artifact(&artifact(&format!("c{i}"), "same", &["dt"], 1))
                    .await
            })
        })
        .collect();
    let mut stored = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => stored += 1,
            Err(StoreError::ArtifactConflict) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(stored, 1);
    let (all, _) = s
        .list_artifacts(&none(), &ArtifactFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
}

/// Devices that finish at the same moment all count: the last one finishes the deployment.
async fn concurrent_reports_finish_the_deployment(backend: Backend) {
    let (s, _db) = store(backend).await;
    let t0 = now();
    let names: Vec<String> = (0..8).map(|i| format!("dev{i}")).collect();
    let ids: Vec<DeviceId> = names.iter().map(|n| dev(n)).collect();
    s.insert_deployment(&deployment("d", "n", t0, 8), &ids, &[])
        .await
        .unwrap();
    for n in &names {
        s.create_device_deployment(&dd(&format!("x-{n}"), "d", n, t0))
            .await
            .unwrap();
    }
    let tasks: Vec<_> = names
        .iter()
        .map(|n| {
            let (s, id) = (s.clone(), format!("x-{n}"));
            tokio::spawn(async move {
                s.set_device_status(&none(), &id, DeviceStatus::Success, None, t0)
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let d = stored(&s, "d").await.unwrap();
    assert_eq!(d.status, DeploymentStatus::Finished);
}

// ---- stored documents ----

/// The metadata document keeps upstream's `meta_artifact` shape (each payload's meta-data
/// as the `metadata` object and the `meta_data` list, no size), so rows written before
/// read back the same and new rows are what older versions wrote.
async fn artifact_documents_keep_their_stored_shape(backend: Backend) {
    let (s, db) = store(backend).await;
    let mut m = meta("rel", &["dt"], 77);
    let mut md = Map::new();
    md.insert("k".into(), json!("v"));
    m.updates = vec![
        Update {
            type_info: TypeInfo {
                type_: Some("single-file".into()),
            },
            files: vec![UpdateFile {
                name: "f".into(),
                checksum: "ab".into(),
                size: 5,
                date: Timestamp::from_unix_secs(1_600_000_000).to_datetime(),
            }],
            meta_data: Some(md),
        },
        Update {
            type_info: TypeInfo { type_: None },
            files: Vec::new(),
            meta_data: None,
        },
    ];
    m.artifact_depends
        .insert("device_type".into(), json!(["dt"]));
    let a = Artifact {
        meta: m,
        ..artifact("n1", "rel", &["dt"], 77)
    };
    insert(&s, a.clone()).await;
    let stored: String = mender_db::query("SELECT meta FROM artifacts WHERE id = $1")
        .bind("n1")
        .scalar(&*db)
        .await
        .unwrap();
    let old_shape = r#"{"name":"rel","device_types_compatible":["dt"],"info":{"format":"mender","version":3},"signed":false,"updates":[{"type_info":{"type":"single-file"},"files":[{"name":"f","checksum":"ab","size":5,"date":"2020-09-13T12:26:40Z"}],"metadata":{"k":"v"},"meta_data":[{"Key":"k","Value":"v"}]},{"type_info":{"type":null},"files":[],"metadata":{},"meta_data":[]}],"artifact_depends":{"device_type":["dt"]}}"#;
    assert_eq!(stored, old_shape);
    assert_eq!(
        s.get_artifact(&none(), &aid("n1")).await.unwrap().unwrap(),
        a
    );

    // A row as an older version wrote it reads back the same.
    mender_db::query(
        "INSERT INTO artifacts (id, tenant_id, name, description, meta, size, modified) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind("n2")
    .bind("")
    .bind("rel-old")
    .bind("desc of n2")
    .bind(old_shape.replace("\"rel\"", "\"rel-old\""))
    .bind(77_i64)
    .bind(1_700_000_000_000_000_000_i64)
    .execute(&*db)
    .await
    .unwrap();
    let old = s.get_artifact(&none(), &aid("n2")).await.unwrap().unwrap();
    let mut want = a.clone();
    want.id = aid("n2");
    want.meta.name = "rel-old".into();
    want.description = "desc of n2".into();
    assert_eq!(old, want);
}

// ---- issue 14: list bounds, stored counts, limits ----

/// `created_after`/`created_before` compare at `T.000` with upstream's millisecond
/// precision: `T.000999` counts as `T.000`, `T.001` is after it.
async fn created_bounds_at_whole_seconds(backend: Backend) {
    let (s, _db) = store(backend).await;
    const T: i64 = 1_800_000_000;
    let at = |ns: i64| Timestamp::from_unix_nanos(T * 1_000_000_000 + ns);
    for (id, t) in [
        ("before", at(-1)),
        ("exact", at(0)),
        ("sub-ms", at(999_999)),
        ("one-ms", at(1_000_000)),
        ("half", at(500_000_000)),
        ("next", at(1_000_000_000)),
    ] {
        s.insert_deployment(&deployment(id, id, t, 1), &devs(&["dev"]), &[])
            .await
            .unwrap();
    }
    let ids = |after: Option<i64>, before: Option<i64>| {
        let s = s.clone();
        async move {
            let f = DeploymentFilter {
                created_after: after,
                created_before: before,
                sort: Sort::Asc,
                ..Default::default()
            };
            let (list, total) = s.list_deployments(&none(), &f).await.unwrap();
            let ids: Vec<String> = list.into_iter().map(|d| d.id.into_string()).collect();
            assert_eq!(ids.len() as u64, total);
            ids
        }
    };
    assert_eq!(ids(None, Some(T)).await, ["before", "exact", "sub-ms"]);
    assert_eq!(
        ids(Some(T), None).await,
        ["exact", "sub-ms", "one-ms", "half", "next"]
    );
    assert_eq!(ids(Some(T), Some(T)).await, ["exact", "sub-ms"]);
    assert_eq!(ids(Some(T + 1), Some(T + 1)).await, ["next"]);
    assert!(ids(Some(T + 1), Some(T)).await.is_empty());
    // far-away bounds do not overflow
    assert_eq!(ids(Some(i64::MIN), Some(i64::MAX)).await.len(), 6);
}

/// The stored counts: every target pending at creation; a device joining moves nothing but
/// `device_count` (once per device, even after a history reset); a status change moves one
/// device from the old count to the new one; an abort recounts the device deployments.
async fn counts_move_with_device_statuses(backend: Backend) {
    let (s, _db) = store(backend).await;
    let t0 = now();
    let mut d = deployment("d", "n", t0, 3);
    d.device_count = 0;
    s.insert_deployment(&d, &devs(&["a", "b", "c"]), &[])
        .await
        .unwrap();
    let counts = || {
        let s = s.clone();
        async move {
            let stats = s.statistics(&none(), &[did("d")]).await.unwrap();
            let mut v: Vec<(DeviceStatus, i64)> = stats[&did("d")]
                .iter()
                .filter(|(_, n)| **n != 0)
                .map(|(k, n)| (*k, *n))
                .collect();
            v.sort();
            let d = stored(&s, "d").await.unwrap();
            (v, d.device_count, d.status)
        }
    };
    use DeviceStatus::*;
    assert_eq!(
        counts().await,
        (vec![(Pending, 3)], 0, DeploymentStatus::Pending)
    );
    s.create_device_deployment(&dd("xa", "d", "a", t0))
        .await
        .unwrap();
    assert_eq!(
        counts().await,
        (vec![(Pending, 3)], 1, DeploymentStatus::Pending)
    );
    set_status(&s, "xa", Downloading, t0).await;
    assert_eq!(
        counts().await,
        (
            vec![(Downloading, 1), (Pending, 2)],
            1,
            DeploymentStatus::Inprogress
        )
    );
    // the same status again moves nothing
    set_status(&s, "xa", Downloading, t0).await;
    set_status(&s, "xa", Success, t0).await;
    assert_eq!(
        counts().await,
        (
            vec![(Pending, 2), (Success, 1)],
            1,
            DeploymentStatus::Inprogress
        )
    );
    // a history reset and a new check-in do not count the device twice
    s.reset_device_history(&none(), &dev("a"), t0)
        .await
        .unwrap();
    s.create_device_deployment(&dd("xa2", "d", "a", t0))
        .await
        .unwrap();
    assert_eq!(counts().await.1, 1);
    s.create_device_deployment(&dd("xb", "d", "b", t0))
        .await
        .unwrap();
    s.finish_device(&none(), &dev("b"), Decommissioned, t0)
        .await
        .unwrap();
    assert_eq!(
        counts().await,
        (
            vec![(Pending, 1), (Success, 1), (Decommissioned, 1)],
            2,
            DeploymentStatus::Inprogress
        )
    );
    s.add_total_size(&none(), &did("d"), 40).await.unwrap();
    s.add_total_size(&none(), &did("d"), 2).await.unwrap();
    assert_eq!(stored(&s, "d").await.unwrap().total_size, 42);
    // abort: the counts of the device deployments (reset ones excluded); "c" never checked
    // in and is no longer pending
    s.abort_deployment(&none(), &did("d"), t0).await.unwrap();
    assert_eq!(
        counts().await,
        (
            vec![(Aborted, 1), (Decommissioned, 1)],
            2,
            DeploymentStatus::Finished
        )
    );
    // another tenant sees no counts
    let other = s.statistics(&"t".into(), &[did("d")]).await.unwrap();
    assert!(other[&did("d")].is_empty());
}

/// Limits are per tenant and name; unset is `None`.
async fn limits_per_tenant(backend: Backend) {
    let (s, _db) = store(backend).await;
    let t: TenantId = "t".into();
    assert_eq!(s.get_limit(&none(), "storage").await.unwrap(), None);
    s.set_limit(&none(), "storage", 100).await.unwrap();
    s.set_limit(&none(), "storage", 200).await.unwrap();
    s.set_limit(&t, "storage", 0).await.unwrap();
    assert_eq!(s.get_limit(&none(), "storage").await.unwrap(), Some(200));
    assert_eq!(s.get_limit(&t, "storage").await.unwrap(), Some(0));
    assert_eq!(s.get_limit(&t, "other").await.unwrap(), None);
    let big = u64::try_from(i64::MAX).unwrap();
    s.set_limit(&t, "storage", big).await.unwrap();
    assert_eq!(s.get_limit(&t, "storage").await.unwrap(), Some(big));
}

/// Deployments stored before the counts existed get them from their device deployments when
/// the migration runs: devices that never checked in are pending (unfinished deployments
/// only), `device_count` becomes the devices that joined and `total_size` the artifacts
/// handed out.
async fn migration_backfills_counts(backend: Backend) {
    // A database as the two migrations before the counts left it.
    let dir = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for f in std::fs::read_dir(&src).unwrap() {
        let f = f.unwrap();
        let name = f.file_name().into_string().unwrap();
        if name.starts_with("0001") || name.starts_with("0002") {
            std::fs::copy(f.path(), dir.path().join(&name)).unwrap();
        }
    }
    let old = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    let old: &'static sqlx::migrate::Migrator = Box::leak(Box::new(old));
    let old_schema = mender_db::Schema::portable("deployments", old);
    let db = backend.open(&old_schema).await;
    let exec = |sql: &'static str| {
        let db = db.db();
        async move { mender_db::query(sql).execute(&db).await.unwrap() }
    };
    exec(
        "INSERT INTO artifacts (id, tenant_id, name, description, meta, size, modified) \
         VALUES ('a', '', 'rel', '', '{}', 100, 0)",
    )
    .await;
    exec(
        "INSERT INTO deployments (id, tenant_id, name, artifact_name, created, status, \
         device_count, max_devices, force_installation) VALUES \
         ('open', '', 'o', 'rel', 1, 'inprogress', 4, 4, 0), \
         ('aborted', '', 'x', 'rel', 2, 'finished', 2, 2, 0)",
    )
    .await;
    exec(
        "INSERT INTO device_deployments (id, tenant_id, deployment_id, device_id, status, \
         created, active, artifact_id, deleted) VALUES \
         ('1', '', 'open', 'ok', 'success', 1, 0, 'a', NULL), \
         ('2', '', 'open', 'same', 'already-installed', 1, 0, 'a', NULL), \
         ('3', '', 'open', 'busy', 'pending', 1, 1, 'a', NULL), \
         ('4', '', 'open', 'reset', 'failure', 1, 0, 'a', 5), \
         ('5', '', 'aborted', 'ok', 'aborted', 2, 0, 'a', NULL)",
    )
    .await;
    db.migrate(&SCHEMA).await.unwrap();
    let s: Store = Arc::new(SqlStore(db.db()));
    let stats = s
        .statistics(&none(), &[did("open"), did("aborted")])
        .await
        .unwrap();
    use DeviceStatus::*;
    let nonzero = |id: &str| {
        let mut v: Vec<(DeviceStatus, i64)> = stats[&did(id)]
            .iter()
            .filter(|(_, n)| **n != 0)
            .map(|(k, n)| (*k, *n))
            .collect();
        v.sort();
        v
    };
    // "busy" checked in but did not start, "reset" is history: both count as pending
    assert_eq!(
        nonzero("open"),
        [(Pending, 2), (Success, 1), (AlreadyInstalled, 1)]
    );
    assert_eq!(nonzero("aborted"), [(Aborted, 1)]);
    // (deployment, device count, total size) after the migration
    for (id, devices, size) in [("open", 4, 300), ("aborted", 1, 100)] {
        let d = s.get_deployment(&none(), &did(id)).await.unwrap().unwrap();
        assert_eq!((d.device_count, d.total_size), (devices, size), "{id}");
    }
}

/// An artifact id is claimed before its file is written: one holder at a time, never the id
/// of an existing artifact; committing the artifact ends the claim; deleting an artifact
/// holds its id until released; claims older than a time are listed for the sweep.
async fn artifact_ids_are_reserved_before_their_files(backend: Backend) {
    let (s, _db) = store(backend).await;
    let t0 = Timestamp::from_unix_secs(1_700_000_000);
    let (x, y) = (aid("x"), aid("y"));
    assert_eq!(
        s.reserve_artifact_id(&none(), &x, t0).await.unwrap(),
        Reservation::Reserved
    );
    // A second upload of the same id, in any tenant, while the first is in progress.
    for t in [none(), TenantId::from("t2")] {
        assert_eq!(
            s.reserve_artifact_id(&t, &x, t0).await.unwrap(),
            Reservation::Held
        );
    }
    insert(&s, artifact("x", "rel", &["dt"], 1)).await;
    // Committed: the claim is gone, and the id cannot be claimed while the artifact exists.
    assert_eq!(
        s.reserve_artifact_id(&none(), &x, t0).await.unwrap(),
        Reservation::Exists
    );
    assert!(s.stale_reservations(t0 + secs(1)).await.unwrap().is_empty());
    // A failed upload releases its id for the next one.
    assert_eq!(
        s.reserve_artifact_id(&none(), &y, t0).await.unwrap(),
        Reservation::Reserved
    );
    s.release_artifact_id(&y).await.unwrap();
    assert_eq!(
        s.reserve_artifact_id(&none(), &y, t0 + secs(10))
            .await
            .unwrap(),
        Reservation::Reserved
    );
    // Deleting holds the id until the file is gone.
    assert_eq!(
        s.delete_artifact(&none(), &x, t0 + secs(20)).await.unwrap(),
        ArtifactDeletion::Deleted
    );
    assert_eq!(
        s.reserve_artifact_id(&none(), &x, t0).await.unwrap(),
        Reservation::Held
    );
    assert_eq!(
        s.stale_reservations(t0 + secs(15)).await.unwrap(),
        vec![(none(), y.clone())]
    );
    assert_eq!(
        s.stale_reservations(t0 + secs(21)).await.unwrap(),
        vec![(none(), y), (none(), x.clone())]
    );
    s.release_artifact_id(&x).await.unwrap();
    assert_eq!(
        s.reserve_artifact_id(&none(), &x, t0).await.unwrap(),
        Reservation::Reserved
    );
}
