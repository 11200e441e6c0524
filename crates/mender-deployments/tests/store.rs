//! Store conformance: the same suite on SQLite and PostgreSQL.

use std::sync::Arc;

use mender_db::Db;
use mender_deployments::Service;
use mender_deployments::model::*;
use mender_deployments::store::{
    ArtifactDeletion, DeploymentsStore, StoreError, postgres::PgStore, sqlite::SqliteStore,
};
use time::{Duration, OffsetDateTime};

fn store(db: Db) -> Arc<dyn DeploymentsStore> {
    match db {
        Db::Sqlite(p) => Arc::new(SqliteStore::new(p)),
        Db::Postgres(p) => Arc::new(PgStore::new(p)),
    }
}

fn artifact(id: &str, name: &str, types: &[&str], size: i64) -> Artifact {
    Artifact {
        id: id.into(),
        tenant: String::new(),
        description: format!("desc of {id}"),
        meta: ArtifactMeta {
            name: name.into(),
            device_types_compatible: types.iter().map(|s| s.to_string()).collect(),
            info: ArtifactInfo {
                format: "mender".into(),
                version: 3,
            },
            ..Default::default()
        },
        size,
        modified: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
    }
}

fn deployment(id: &str, name: &str, created: OffsetDateTime, n: i64) -> Deployment {
    Deployment {
        id: id.into(),
        tenant: String::new(),
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
    }
}

fn dd(id: &str, dep: &str, dev: &str, created: OffsetDateTime) -> DeviceDeployment {
    DeviceDeployment {
        id: id.into(),
        tenant: String::new(),
        deployment_id: dep.into(),
        device_id: dev.into(),
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

async fn conformance(s: Arc<dyn DeploymentsStore>, backend: &str) {
    s.ping().await.unwrap();
    // artifacts: insert, conflict on overlapping depends, filters
    s.insert_artifact(&artifact("a1", "rel", &["x", "y"], 10))
        .await
        .unwrap();
    assert!(
        matches!(
            s.insert_artifact(&artifact("a2", "rel", &["y"], 5)).await,
            Err(StoreError::ArtifactConflict)
        ),
        "{backend}"
    );
    s.insert_artifact(&artifact("a2", "rel", &["z"], 5))
        .await
        .unwrap();
    s.insert_artifact(&artifact("a3", "other_%", &["x"], 1))
        .await
        .unwrap();
    assert_eq!(
        s.get_artifact("", "a1")
            .await
            .unwrap()
            .unwrap()
            .meta
            .device_types_compatible,
        vec!["x", "y"]
    );
    assert!(s.get_artifact("tenant2", "a1").await.unwrap().is_none());
    let list = |f: ArtifactFilter| {
        let s = s.clone();
        async move { s.list_artifacts("", &f).await.unwrap() }
    };
    let (all, total) = list(ArtifactFilter::default()).await;
    assert_eq!((all.len(), total), (3, 3));
    assert_eq!(all[0].meta.name, "other_%");
    let (v, _) = list(ArtifactFilter {
        device_type: Some(Match::Exact(vec!["x".into()])),
        ..Default::default()
    })
    .await;
    assert_eq!(
        v.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["a3", "a1"]
    );
    let (v, _) = list(ArtifactFilter {
        name: Some(Match::Prefix("oth".into())),
        ..Default::default()
    })
    .await;
    assert_eq!(v.len(), 1);
    let (v, _) = list(ArtifactFilter {
        name: Some(Match::Contains("R_%".into())),
        ..Default::default()
    })
    .await;
    assert_eq!(v.len(), 1, "{backend}: LIKE wildcards must be escaped");
    let (v, t) = list(ArtifactFilter {
        limit: Some(1),
        offset: 1,
        sort: Sort::Desc,
        ..Default::default()
    })
    .await;
    assert_eq!((v.len(), t), (1, 3));
    assert!(
        s.set_artifact_description("", "a1", "new", OffsetDateTime::now_utc())
            .await
            .unwrap()
    );
    assert!(
        !s.set_artifact_description("", "nope", "new", OffsetDateTime::now_utc())
            .await
            .unwrap()
    );

    // releases
    assert!(
        s.set_release_tags("", "rel", &["t1".into()], OffsetDateTime::now_utc())
            .await
            .unwrap()
    );
    assert!(
        s.set_release_notes("", "rel", "notes", OffsetDateTime::now_utc())
            .await
            .unwrap()
    );
    assert!(
        !s.set_release_notes("", "missing", "notes", OffsetDateTime::now_utc())
            .await
            .unwrap()
    );
    let metas = s.release_metas("").await.unwrap();
    assert_eq!(metas.len(), 2);
    assert_eq!(metas[1].tags, vec!["t1"]);

    // deployments and selection
    let t0 = OffsetDateTime::now_utc();
    let d1 = deployment("d1", "first", t0, 2);
    s.insert_deployment(
        &d1,
        &["dev1".into(), "dev2".into()],
        &["a1".into(), "a2".into()],
    )
    .await
    .unwrap();
    assert_eq!(
        s.deployment_device_ids("", "d1").await.unwrap(),
        vec!["dev1", "dev2"]
    );
    assert_eq!(
        s.active_deployments_of("", &["rel".into()]).await.unwrap(),
        vec!["d1"]
    );
    assert_eq!(
        s.delete_artifact("", "a1").await.unwrap(),
        ArtifactDeletion::InUse
    );
    assert!(s.find_new_deployment("", "devX").await.unwrap().is_none());
    let found = s.find_new_deployment("", "dev1").await.unwrap().unwrap();
    assert_eq!(found.id, "d1");
    let created = s
        .create_device_deployment(&dd("x1", "d1", "dev1", t0 + Duration::seconds(1)))
        .await
        .unwrap();
    // a second create for the same pair returns the first
    let again = s
        .create_device_deployment(&dd("x2", "d1", "dev1", t0 + Duration::seconds(2)))
        .await
        .unwrap();
    assert_eq!(again.id, created.id);
    assert!(s.find_new_deployment("", "dev1").await.unwrap().is_none());
    assert_eq!(
        s.active_device_deployment("", "dev1")
            .await
            .unwrap()
            .unwrap()
            .id,
        "x1"
    );
    s.set_device_status("", "x1", DeviceStatus::Downloading, Some("sub"), t0)
        .await
        .unwrap();
    let got = s
        .get_device_deployment("", "d1", "dev1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.status, got.substate.as_str(), got.started.is_some()),
        (DeviceStatus::Downloading, "sub", true)
    );
    assert_eq!(
        s.get_deployment("", "d1").await.unwrap().unwrap().status,
        DeploymentStatus::Inprogress
    );
    s.set_device_status("", "x1", DeviceStatus::Success, None, t0)
        .await
        .unwrap();
    assert!(
        !s.get_device_deployment("", "d1", "dev1")
            .await
            .unwrap()
            .unwrap()
            .active
    );
    s.create_device_deployment(&dd("x3", "d1", "dev2", t0 + Duration::seconds(3)))
        .await
        .unwrap();
    s.finish_device("", "dev2", DeviceStatus::Decommissioned, t0)
        .await
        .unwrap();
    let d = s.get_deployment("", "d1").await.unwrap().unwrap();
    assert_eq!(d.status, DeploymentStatus::Finished, "{backend}");
    assert!(d.finished.is_some());
    let stats = s.statistics("", &["d1".into()]).await.unwrap();
    assert_eq!(stats["d1"][&DeviceStatus::Success], 1);
    assert_eq!(stats["d1"][&DeviceStatus::Decommissioned], 1);

    // a newer deployment is picked after the finished one; an older one is not
    let d0 = deployment("d0", "older", t0 - Duration::hours(1), 1);
    s.insert_deployment(&d0, &["dev1".into()], &[])
        .await
        .unwrap();
    let d2 = deployment("d2", "newer", t0 + Duration::hours(1), 1);
    s.insert_deployment(&d2, &["dev1".into()], &["a1".into()])
        .await
        .unwrap();
    assert_eq!(
        s.find_new_deployment("", "dev1").await.unwrap().unwrap().id,
        "d2"
    );
    // history reset makes the older one eligible again
    s.reset_device_history("", "dev1", t0).await.unwrap();
    assert_eq!(
        s.find_new_deployment("", "dev1").await.unwrap().unwrap().id,
        "d0"
    );
    assert!(
        s.device_history("", "dev1", None, 0, 20)
            .await
            .unwrap()
            .is_empty()
    );

    // abort, logs, list filters
    s.create_device_deployment(&dd("x4", "d2", "dev1", t0 + Duration::hours(2)))
        .await
        .unwrap();
    s.save_log("", "x4", r#"[{"timestamp":"t","level":"l","message":"m"}]"#)
        .await
        .unwrap();
    assert!(
        s.get_log("", "x4")
            .await
            .unwrap()
            .unwrap()
            .contains("\"m\"")
    );
    s.abort_deployment("", "d2", t0).await.unwrap();
    let x4 = s
        .get_device_deployment("", "d2", "dev1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (x4.status, x4.active, x4.log_available),
        (DeviceStatus::Aborted, false, true)
    );
    let (fin, total) = s
        .list_deployments(
            "",
            &DeploymentFilter {
                status: Some(DeploymentStatus::Finished),
                sort: Sort::Asc,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (fin.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), total),
        (vec!["d1", "d2"], 2)
    );
    let (found, _) = s
        .list_deployments(
            "",
            &DeploymentFilter {
                search: Some("NEW".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let (l, t) = s
        .list_device_deployments(
            "",
            "d1",
            StatusFilter::parse("finished").as_ref(),
            0,
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!((l.len(), t), (1, 2));
    assert_eq!(
        s.device_deployments_by_ids("", &["x1".into(), "x3".into()])
            .await
            .unwrap()
            .len(),
        2
    );

    // deletion once no unfinished deployment uses it
    s.abort_deployment("", "d0", t0).await.unwrap();
    assert_eq!(
        s.delete_artifact("", "a1").await.unwrap(),
        ArtifactDeletion::Deleted
    );
    assert_eq!(
        s.delete_artifact("", "a1").await.unwrap(),
        ArtifactDeletion::NotFound
    );
    assert_eq!(
        s.delete_artifact("", "a2").await.unwrap(),
        ArtifactDeletion::Deleted
    );
    assert_eq!(
        s.release_metas("").await.unwrap().len(),
        1,
        "{backend}: empty release dropped"
    );
}

/// Configuration deployments, the identical-deployment rule, storage settings and usage.
async fn conformance_extras(s: Arc<dyn DeploymentsStore>, backend: &str) {
    let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    s.insert_artifact(&artifact("x1", "cfg-rel", &["dt"], 40))
        .await
        .unwrap();
    s.insert_artifact(&artifact("x2", "other", &["dt"], 2))
        .await
        .unwrap();
    assert_eq!(s.storage_usage("").await.unwrap(), 42, "{backend}");
    assert_eq!(s.storage_usage("nobody").await.unwrap(), 0, "{backend}");

    // a configuration deployment round-trips its type and configuration
    let mut c = deployment("c1", "cfg-rel", t0, 1);
    c.artifact_name = "cfg-rel".into();
    c.kind = DeploymentKind::Configuration;
    c.configuration = Some(r#"{"a":"b"}"#.into());
    s.insert_deployment(&c, &["dev".into()], &[]).await.unwrap();
    assert_eq!(
        s.get_deployment("", "c1").await.unwrap().unwrap(),
        c,
        "{backend}"
    );
    // same id again
    assert!(
        matches!(
            s.insert_deployment(&c, &["dev".into()], &[]).await,
            Err(StoreError::DeploymentConflict)
        ),
        "{backend}"
    );
    // an artifact named like a configuration deployment does not join it
    s.insert_artifact(&artifact("x3", "cfg-rel", &["other-dt"], 1))
        .await
        .unwrap();
    assert!(
        s.deployment_artifact_ids("", "c1")
            .await
            .unwrap()
            .is_empty(),
        "{backend}"
    );
    assert!(!s.artifact_in_any_deployment("", "x1").await.unwrap());

    // the checksum is unique among unfinished deployments of a tenant only
    let mut a = deployment("s1", "n", t0, 1);
    a.checksum = Some("sum".into());
    s.insert_deployment(&a, &["dev".into()], &["x2".into()])
        .await
        .unwrap();
    assert!(
        s.artifact_in_any_deployment("", "x2").await.unwrap(),
        "{backend}"
    );
    assert!(
        !s.artifact_in_any_deployment("t", "x2").await.unwrap(),
        "{backend}"
    );
    let mut b = deployment("s2", "n", t0, 1);
    b.checksum = Some("sum".into());
    assert!(
        matches!(
            s.insert_deployment(&b, &["dev".into()], &[]).await,
            Err(StoreError::DeploymentConflict)
        ),
        "{backend}"
    );
    assert!(
        s.get_deployment("", "s2").await.unwrap().is_none(),
        "{backend}: nothing half-written"
    );
    assert!(s.deployment_device_ids("", "s2").await.unwrap().is_empty());
    let mut other_tenant = b.clone();
    other_tenant.id = "s3".into();
    other_tenant.tenant = "t".into();
    s.insert_deployment(&other_tenant, &["dev".into()], &[])
        .await
        .unwrap();
    s.abort_deployment("", "s1", t0).await.unwrap();
    s.insert_deployment(&b, &["dev".into()], &[]).await.unwrap();

    // type filter
    let by_kind = |k: DeploymentKind| {
        let s = s.clone();
        async move {
            let f = DeploymentFilter {
                kind: Some(k),
                ..Default::default()
            };
            let (v, n) = s.list_deployments("", &f).await.unwrap();
            (v.into_iter().map(|d| d.id).collect::<Vec<_>>(), n)
        }
    };
    assert_eq!(
        by_kind(DeploymentKind::Configuration).await,
        (vec!["c1".to_owned()], 1),
        "{backend}"
    );
    let (soft, n) = by_kind(DeploymentKind::Software).await;
    assert_eq!(n, 2, "{backend}: {soft:?}");

    // storage settings: absent, set, replaced, per tenant, removed
    assert_eq!(s.get_storage_settings("").await.unwrap(), None);
    s.set_storage_settings("", Some(r#"{"bucket":"one"}"#))
        .await
        .unwrap();
    s.set_storage_settings("", Some(r#"{"bucket":"two"}"#))
        .await
        .unwrap();
    s.set_storage_settings("t", Some(r#"{"bucket":"t"}"#))
        .await
        .unwrap();
    assert_eq!(
        s.get_storage_settings("").await.unwrap().as_deref(),
        Some(r#"{"bucket":"two"}"#)
    );
    s.set_storage_settings("", None).await.unwrap();
    assert_eq!(s.get_storage_settings("").await.unwrap(), None, "{backend}");
    assert_eq!(
        s.get_storage_settings("t").await.unwrap().as_deref(),
        Some(r#"{"bucket":"t"}"#)
    );
}

#[tokio::test]
async fn store_conformance_both_backends() {
    let dbs = mender_db::testing::all("deployments", Service::migrations()).await;
    assert!(!dbs.is_empty());
    for (db, _guard) in dbs {
        let backend = db.backend();
        conformance(store(db), backend).await;
    }
}

#[tokio::test]
async fn store_conformance_extras_both_backends() {
    let dbs = mender_db::testing::all("deployments", Service::migrations()).await;
    let backends: Vec<&str> = dbs.iter().map(|(db, _)| db.backend()).collect();
    for (db, _guard) in dbs {
        let backend = db.backend();
        conformance_extras(store(db), backend).await;
    }
    assert!(
        backends.len() == 2 || mender_db::testing::pg_url().is_none(),
        "{backends:?}"
    );
}
