//! `WorkflowsStore` conformance on SQLite and PostgreSQL.

use mender_workflows::definitions;
use mender_workflows::model::{InputParameter, Job, JobStatus, Task, TaskResult};
use serde_json::json;

use crate::common::backends;

fn job(id: &str) -> Job {
    Job {
        id: id.into(),
        workflow_name: "wf".into(),
        input_parameters: vec![
            InputParameter::from_json("device", &json!({"id": "ü🚀"})),
            InputParameter::from_json("list", &json!([1, "a"])),
        ],
        status: JobStatus::Pending,
        results: vec![],
        insert_time: time::macros::datetime!(2024-05-06 07:08:09.123456789 UTC),
        version: "3".into(),
    }
}

fn result(name: &str, success: bool) -> TaskResult {
    let task = Task {
        name: name.into(),
        kind: "http".into(),
        retries: 0,
        retry_delay_seconds: 0,
        requires: vec![],
        http: None,
        cli: None,
        nats: None,
        smtp: None,
    };
    let mut r = TaskResult::new(&task, success);
    r.attempts = 2;
    r
}

#[tokio::test]
async fn definitions_upsert_by_version() {
    for b in backends().await {
        let store = mender_workflows::store_for(b.db.clone());
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
}

#[tokio::test]
async fn jobs_and_results() {
    for b in backends().await {
        let store = mender_workflows::store_for(b.db.clone());
        let j = job("0123456789abcdef01234567");
        assert!(store.insert_job(&j).await.unwrap());
        assert!(!store.insert_job(&j).await.unwrap(), "insert is idempotent");
        assert_eq!(
            store.get_job(&j.id).await.unwrap().unwrap(),
            j,
            "{}",
            b.db.backend()
        );

        assert!(
            store
                .set_job_status(&j.id, JobStatus::Processing)
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
                .set_job_status(&j.id, JobStatus::Failed)
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

        assert!(
            !store
                .set_job_status("missing", JobStatus::Done)
                .await
                .unwrap()
        );
        assert!(store.get_job("missing").await.unwrap().is_none());

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
}
