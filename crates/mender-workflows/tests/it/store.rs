//! `WorkflowsStore` conformance: every test runs on SQLite and on PostgreSQL
//! (`store::sqlite::<name>`, `store::postgres::<name>`).

use mender_core::{JobId, Timestamp};
use mender_db::query;
use mender_db::testing::{Backend, TestDb};
use mender_workflows::model::{InputParameter, Job, JobStatus, Task, TaskResult};
use mender_workflows::{SCHEMA, SqlStore, StoreError, WorkflowsStore, definitions};
use serde_json::json;

mender_db::each_backend!(
    definitions_upsert_by_version,
    jobs_and_results,
    insert_time_is_rfc3339_text,
    finished_jobs_are_pruned_by_age,
);

/// `n` seconds after a fixed start.
fn at(n: u64) -> Timestamp {
    Timestamp::from_unix_secs(1_700_000_000) + std::time::Duration::from_secs(n)
}

fn job(id: &str) -> Job {
    Job {
        id: JobId::new(id),
        workflow_name: "wf".into(),
        input_parameters: vec![
            InputParameter::from_json("device", &json!({"id": "ü🚀"})),
            InputParameter::from_json("list", &json!([1, "a"])),
        ],
        status: JobStatus::Pending,
        results: vec![],
        insert_time: Timestamp::parse_rfc3339("2024-05-06T07:08:09.123456Z").unwrap(),
        version: "3".into(),
    }
}

fn result(name: &str, success: bool) -> TaskResult {
    let task = Task {
        name: name.into(),
        kind: "http".into(),
        ..Task::default()
    };
    let mut r = TaskResult::new(&task, success);
    r.attempts = 2;
    r
}

async fn definitions_upsert_by_version(backend: Backend) {
    let (store, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    let mut wf = definitions::builtin().remove(0);
    assert!(store.upsert_workflow(&wf).await.unwrap());
    assert!(
        !store.upsert_workflow(&wf).await.unwrap(),
        "same version is not stored again"
    );
    let original = wf.clone();
    wf.version -= 1;
    wf.description = "older".into();
    assert!(!store.upsert_workflow(&wf).await.unwrap());
    assert_eq!(
        store.get_workflow(&wf.name).await.unwrap().unwrap(),
        original
    );
    wf.version = original.version + 1;
    wf.description = "newer ü".into();
    assert!(store.upsert_workflow(&wf).await.unwrap());
    assert_eq!(store.get_workflow(&wf.name).await.unwrap().unwrap(), wf);
    assert!(store.get_workflow("nope").await.unwrap().is_none());

    for other in definitions::builtin() {
        store.upsert_workflow(&other).await.unwrap();
    }
    let names: Vec<_> = store
        .list_workflows()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.name)
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!((names.len(), names.clone()), (6, sorted));
    store.ping().await.unwrap();
}

async fn jobs_and_results(backend: Backend) {
    let (store, _db) = backend.open_with(&SCHEMA, SqlStore).await;
    let j = job("0123456789abcdef01234567");
    assert!(store.insert_job(&j).await.unwrap());
    assert!(!store.insert_job(&j).await.unwrap(), "insert is idempotent");
    assert_eq!(store.get_job(&j.id).await.unwrap().unwrap(), j);

    assert!(
        store
            .set_job_status(&j.id, JobStatus::Processing, at(0))
            .await
            .unwrap()
    );
    store
        .add_job_result(&j.id, &result("first", true))
        .await
        .unwrap();
    store
        .add_job_result(&j.id, &result("second", false))
        .await
        .unwrap();
    assert!(
        store
            .set_job_status(&j.id, JobStatus::Failed, at(0))
            .await
            .unwrap()
    );
    let got = store.get_job(&j.id).await.unwrap().unwrap();
    assert_eq!(got.status, JobStatus::Failed);
    assert_eq!(
        got.results,
        vec![result("first", true), result("second", false)]
    );
    assert_eq!(got.input_parameters[0].raw, Some(json!({"id": "ü🚀"})));
    assert_eq!(got.input_parameters[1].value, "1,a");

    let missing = JobId::new("missing");
    assert!(
        !store
            .set_job_status(&missing, JobStatus::Done, at(0))
            .await
            .unwrap()
    );
    assert!(store.get_job(&missing).await.unwrap().is_none());

    store.delete_job(&j.id).await.unwrap();
    assert!(store.get_job(&j.id).await.unwrap().is_none());
    // Re-inserting after delete starts without the old results.
    store.insert_job(&j).await.unwrap();
    assert!(
        store
            .get_job(&j.id)
            .await
            .unwrap()
            .unwrap()
            .results
            .is_empty()
    );
}

/// Writes a finished job row directly, with `insert_time` as the text given.
async fn insert_done_job(db: &TestDb, id: &JobId, insert_time: &str) {
    query(
        "INSERT INTO jobs (id, workflow_name, version, status, input_parameters, insert_time) \
         VALUES ($1, 'wf', '', 'done', '[]', $2)",
    )
    .bind(id)
    .bind(insert_time)
    .execute(&**db)
    .await
    .unwrap();
}

/// `jobs.insert_time` stays RFC 3339 text: what is written now, and what earlier versions
/// wrote (nanoseconds from the system clock) still reads.
async fn insert_time_is_rfc3339_text(backend: Backend) {
    let (store, db) = backend.open_with(&SCHEMA, SqlStore).await;
    let j = job("00000000000000000000000a");
    store.insert_job(&j).await.unwrap();
    let text: String = query("SELECT insert_time FROM jobs WHERE id = $1")
        .bind(&j.id)
        .scalar(&*db)
        .await
        .unwrap();
    assert_eq!(text, "2024-05-06T07:08:09.123456Z");

    let cases = [
        // (stored text, what reads back)
        (
            "2024-05-06T07:08:09.123456789Z",
            "2024-05-06T07:08:09.123456Z",
        ),
        ("2024-05-06T07:08:09Z", "2024-05-06T07:08:09Z"),
        ("2024-05-06T09:08:09.5+02:00", "2024-05-06T07:08:09.5Z"),
    ];
    for (n, (stored, read)) in cases.into_iter().enumerate() {
        let id = JobId::new(format!("{n:024x}"));
        insert_done_job(&db, &id, stored).await;
        let got = store.get_job(&id).await.unwrap().unwrap();
        assert_eq!(got.insert_time.to_rfc3339(), read, "{stored}");
    }

    let bad = JobId::new("bad");
    insert_done_job(&db, &bad, "yesterday").await;
    assert!(matches!(
        store.get_job(&bad).await,
        Err(StoreError::Data(m)) if m.contains("insert_time")
    ));
}

/// Jobs that finished before the cut-off go, with their results; running jobs, jobs that
/// finished later, and other jobs' results stay; a limit bounds one call; jobs that finished
/// before finish times were recorded are dated at the first prune that sees them.
async fn finished_jobs_are_pruned_by_age(backend: Backend) {
    let (store, db) = backend.open_with(&SCHEMA, SqlStore).await;
    let finish = |id: &str, status: JobStatus, t: u64| {
        let store = store.clone();
        let j = job(id);
        async move {
            assert!(store.insert_job(&j).await.unwrap());
            store
                .add_job_result(&j.id, &result("task", true))
                .await
                .unwrap();
            assert!(store.set_job_status(&j.id, status, at(t)).await.unwrap());
        }
    };
    finish("old-done", JobStatus::Done, 10).await;
    finish("old-failed", JobStatus::Failed, 20).await;
    finish("running", JobStatus::Processing, 0).await;
    finish("recent", JobStatus::Done, 100).await;
    // Finished before this column existed.
    let legacy = JobId::new("legacy");
    insert_done_job(&db, &legacy, "2020-01-01T00:00:00Z").await;

    assert_eq!(
        store.prune_finished_jobs(at(50), at(60), 1).await.unwrap(),
        1
    );
    assert!(
        store
            .get_job(&JobId::new("old-done"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.prune_finished_jobs(at(50), at(60), 10).await.unwrap(),
        1
    );
    for gone in ["old-done", "old-failed"] {
        assert!(
            store.get_job(&JobId::new(gone)).await.unwrap().is_none(),
            "{gone}"
        );
    }
    let results: i64 = query("SELECT COUNT(*) FROM job_results")
        .scalar(&*db)
        .await
        .unwrap();
    assert_eq!(results, 2, "only the remaining jobs' results");
    for kept in ["running", "recent", "legacy"] {
        assert!(
            store.get_job(&JobId::new(kept)).await.unwrap().is_some(),
            "{kept}"
        );
    }
    // The legacy job was dated at(60) by the first prune: it goes once that is old enough.
    assert_eq!(
        store
            .prune_finished_jobs(at(61), at(200), 10)
            .await
            .unwrap(),
        1
    );
    assert!(store.get_job(&legacy).await.unwrap().is_none());
    assert_eq!(
        store
            .prune_finished_jobs(at(101), at(300), 10)
            .await
            .unwrap(),
        1
    );
    let left: Vec<String> = query("SELECT id FROM jobs").scalars(&*db).await.unwrap();
    assert_eq!(left, ["running"]);
}
