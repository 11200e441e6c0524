//! Artifact storage under hostile or unlucky timing: duplicate-id uploads never touch the
//! file of a committed artifact, what a crash leaves in storage is swept at start, and a
//! decompression bomb is a clear 400.

use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use mender_core::{ArtifactId, TenantId};
use mender_db::testing::Backend;
use mender_deployments::DeploymentsConfig;
use mender_deployments::app::sweep::SweepReport;
use mender_deployments::error::Error;
use mender_deployments::store::{ArtifactStore, Reservation, SqlStore};
use tokio::sync::oneshot;

use crate::common::{
    ART, Env, blob_files, env, env_with, expect, get_json, make_artifact, make_artifact_of,
    path_and_query, post_upload,
};

mender_db::each_backend!(
    duplicate_id_upload_leaves_the_committed_artifact_alone,
    start_sweeps_orphan_files_and_abandoned_reservations,
    decompression_bomb_is_refused,
);

const ID: &str = "3f0d3c59-2f43-4a55-9d7a-6f0f8f2b1c11";

/// Downloads artifact `id` through its management link; the bytes.
async fn download(env: &Env, id: &str) -> Vec<u8> {
    let link = get_json(env, &format!("{ART}/{id}/download")).await;
    let pq = path_and_query(link["uri"].as_str().unwrap());
    expect(env.open.get(&pq), StatusCode::OK, "download")
        .await
        .body
        .to_vec()
}

/// Upload A of an id is still streaming when upload B of the same id arrives: B is refused
/// (409) without writing or deleting anything, and A's artifact is committed and
/// downloadable. Without the reservation B was recorded, then A's file replaced B's and
/// A's failed insert deleted it: a committed artifact without a file.
async fn duplicate_id_upload_leaves_the_committed_artifact_alone(backend: Backend) {
    let env = env(backend).await;
    let art = make_artifact("dup", &["dt"]);
    let app = env.svc.app().clone();
    let (started_tx, started) = oneshot::channel::<()>();
    let (go, go_rx) = oneshot::channel::<()>();
    let (head, tail) = art.split_at(1024);
    let (head, tail) = (Bytes::copy_from_slice(head), Bytes::copy_from_slice(tail));
    // The first chunk, then a pause until the test says go, then the rest.
    let slow = futures::stream::unfold(
        (0, Some(started_tx), Some(go_rx)),
        move |(step, started_tx, go_rx)| {
            let (head, tail) = (head.clone(), tail.clone());
            async move {
                match step {
                    0 => {
                        if let Some(tx) = started_tx {
                            let _ = tx.send(());
                        }
                        Some((Ok(head), (1, None, go_rx)))
                    }
                    1 => {
                        if let Some(rx) = go_rx {
                            let _ = rx.await;
                        }
                        Some((Ok(tail), (2, None, None)))
                    }
                    _ => None,
                }
            }
        },
    );
    let first = tokio::spawn(async move {
        app.upload_artifact(
            &TenantId::default(),
            Some(ArtifactId::from(ID)),
            "first".into(),
            Box::pin(slow),
        )
        .await
    });
    started.await.unwrap();
    let second = env
        .svc
        .app()
        .upload_artifact(
            &TenantId::default(),
            Some(ArtifactId::from(ID)),
            "second".into(),
            Box::pin(futures::stream::iter([Ok(Bytes::from(art.clone()))])),
        )
        .await;
    assert!(
        matches!(&second, Err(Error::Conflict(_))),
        "the second upload must be refused: {second:?}"
    );
    go.send(()).unwrap();
    let first = first.await.unwrap();
    assert_eq!(first.unwrap().as_str(), ID);
    assert_eq!(download(&env, ID).await, art);
    // Sequentially too: a later upload of the id is refused and the file stays.
    let r = post_upload(
        &env.internal,
        "/api/internal/v1/deployments/tenants//artifacts",
        &[("artifact_id", ID)],
        &art,
    )
    .send()
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert_eq!(download(&env, ID).await, art);
}

/// At start: a file no artifact owns (crash between storing and recording) is deleted; a
/// reservation older than `abandoned_upload_seconds` (crash mid-upload, with its file) is
/// released and its file deleted; a recent reservation (an upload in progress elsewhere)
/// and committed artifacts are left alone.
async fn start_sweeps_orphan_files_and_abandoned_reservations(backend: Backend) {
    let env = env(backend).await;
    let kept = crate::common::upload(&env, &make_artifact("kept", &["dt"]), "").await;
    let store = SqlStore(env.db.clone());
    let t = TenantId::default();
    let orphan = "0b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    let abandoned = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
    let in_progress = "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a";
    let path = |id: &str| env.blob_dir.join("artifacts").join(id);
    for id in [orphan, abandoned, in_progress] {
        std::fs::write(path(id), b"half an artifact").unwrap();
    }
    let reserve = |id: &'static str| {
        let store = store.clone();
        let t = t.clone();
        let now = mender_core::Clock::now(&*env.clock);
        async move {
            store
                .reserve_artifact_id(&t, &ArtifactId::from(id), now)
                .await
        }
    };
    assert_eq!(reserve(abandoned).await.unwrap(), Reservation::Reserved);
    let abandon_after = DeploymentsConfig::default().abandoned_upload_seconds;
    env.clock.advance(Duration::from_secs(abandon_after + 1));
    assert_eq!(reserve(in_progress).await.unwrap(), Reservation::Reserved);

    let report = env.svc.sweep_storage().await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            orphan_files: 2,
            abandoned_reservations: 1,
        }
    );
    assert!(!path(orphan).exists());
    assert!(!path(abandoned).exists());
    assert!(
        path(in_progress).exists(),
        "an upload in progress keeps its file"
    );
    assert_eq!(
        blob_files(&env.blob_dir).len(),
        2,
        "kept artifact and in-progress file"
    );
    // The abandoned id is free again; the one in progress is still held.
    assert_eq!(reserve(abandoned).await.unwrap(), Reservation::Reserved);
    assert_eq!(reserve(in_progress).await.unwrap(), Reservation::Held);
    download(&env, &kept).await;
    // A second sweep finds nothing more.
    assert_eq!(env.svc.sweep_storage().await.unwrap().orphan_files, 0);
}

/// 16 MiB of zeros gzipped into a few kilobytes: with a 10:1 budget (and no allowance) the
/// upload is a 400 that names the cause and leaves nothing behind; the defaults accept it.
async fn decompression_bomb_is_refused(backend: Backend) {
    let bomb = make_artifact_of("bomb", &["dt"], &vec![0u8; 16 << 20], "gzip");
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let config = DeploymentsConfig {
        max_decompression_ratio: 10,
        decompression_allowance: 0,
        ..DeploymentsConfig::default()
    };
    let env = env_with(backend, config).await;
    let size = bomb.len().to_string();
    let r = post_upload(&env.mgmt, ART, &[("size", size.as_str())], &bomb)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let msg = r.json()["error"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("decompresses to more than 10 times the size of the artifact"),
        "{msg}"
    );
    assert!(blob_files(&env.blob_dir).is_empty(), "nothing stored");
    let defaults = env_with(backend, DeploymentsConfig::default()).await;
    crate::common::upload(&defaults, &bomb, "").await;
}
