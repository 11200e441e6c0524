//! Conformance suite for `SqlQueue`: every test runs on SQLite and on PostgreSQL
//! (`sqlite::<name>`, `postgres::<name>`). Leases and delays run on a manual clock.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use mender_core::clock::ManualClock;
use mender_db::testing::{Backend, TestDb};
use mender_queue::{Claimed, JobQueue, SCHEMA, SqlQueue};
use serde_json::json;

mender_db::each_backend!(
    claims_oldest_first_and_filters_topics,
    ack_removes_and_is_idempotent,
    expired_lease_redelivers_with_count,
    heartbeat_prevents_redelivery,
    release_with_delay,
    concurrent_claimers_never_share_a_message,
    wait_for_work_wakes_on_enqueue_and_times_out,
    payloads_round_trip_unicode_and_large,
    enqueue_once_keeps_one_message_per_key,
    enqueue_once_forgets_keys_after_the_window,
    concurrent_enqueue_once_of_one_key_keeps_one,
);

/// A queue on a fresh database of `backend`, its clock, and the database guard.
async fn queue(backend: Backend) -> (SqlQueue, Arc<ManualClock>, TestDb) {
    let db = backend.open(&SCHEMA).await;
    let clock = ManualClock::starting_now();
    (SqlQueue::new(db.db(), clock.clone()), clock, db)
}

fn topics(t: &[&str]) -> Vec<String> {
    t.iter().map(|s| (*s).to_owned()).collect()
}

const LEASE: Duration = Duration::from_secs(30);

/// Claims the oldest message of the topic `default` for `worker`, if there is one.
async fn claim_default(q: &SqlQueue, worker: &str, lease: Duration) -> Option<Claimed> {
    q.claim(&topics(&["default"]), worker, lease).await.unwrap()
}

async fn claims_oldest_first_and_filters_topics(backend: Backend) {
    let (q, _clock, _db) = queue(backend).await;
    let a = q.enqueue("default", json!({"n": 1})).await.unwrap();
    let other = q
        .enqueue("generate_artifact", json!({"n": 2}))
        .await
        .unwrap();
    let b = q.enqueue("default", json!({"n": 3})).await.unwrap();

    let c1 = claim_default(&q, "w1", LEASE).await.unwrap();
    assert_eq!(
        (c1.id.as_str(), c1.payload.clone(), c1.deliveries),
        (a.as_str(), json!({"n": 1}), 1)
    );
    assert_eq!(c1.topic, "default");
    let c2 = claim_default(&q, "w1", LEASE).await.unwrap();
    assert_eq!(c2.id, b, "{}", q.db().backend());
    assert!(claim_default(&q, "w1", LEASE).await.is_none());
    assert!(q.claim(&[], "w1", LEASE).await.unwrap().is_none());

    let c3 = q
        .claim(&topics(&["x", "generate_artifact"]), "w2", LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c3.id, other);
    assert_eq!(q.len().await.unwrap(), 3);
}

async fn ack_removes_and_is_idempotent(backend: Backend) {
    let (q, _clock, _db) = queue(backend).await;
    let id = q.enqueue("default", json!("x")).await.unwrap();
    let c = claim_default(&q, "w", LEASE).await.unwrap();
    q.ack(&c.id).await.unwrap();
    q.ack(&id).await.unwrap();
    assert!(q.is_empty().await.unwrap());
    assert!(
        !q.heartbeat(&id, "w", LEASE).await.unwrap(),
        "heartbeat after ack"
    );
    // Even after a lease would have expired, an acked message never comes back.
    assert!(
        q.claim(&topics(&["default"]), "w", Duration::ZERO)
            .await
            .unwrap()
            .is_none()
    );
}

async fn expired_lease_redelivers_with_count(backend: Backend) {
    let (q, clock, _db) = queue(backend).await;
    let id = q.enqueue("default", json!({"job": 1})).await.unwrap();
    let short = Duration::from_millis(200);
    let c = claim_default(&q, "dead", short).await.unwrap();
    assert_eq!(c.deliveries, 1);
    assert!(claim_default(&q, "w2", LEASE).await.is_none(), "leased");
    clock.advance(Duration::from_millis(350));
    let again = claim_default(&q, "w2", LEASE).await.unwrap();
    assert_eq!((again.id.as_str(), again.deliveries), (id.as_str(), 2));
    // The dead worker lost the message: its heartbeat says so and does not steal it back.
    assert!(!q.heartbeat(&id, "dead", LEASE).await.unwrap());
    assert!(q.heartbeat(&id, "w2", LEASE).await.unwrap());
}

async fn heartbeat_prevents_redelivery(backend: Backend) {
    let (q, clock, _db) = queue(backend).await;
    q.enqueue("default", json!(1)).await.unwrap();
    let lease = Duration::from_millis(300);
    let c = claim_default(&q, "w1", lease).await.unwrap();
    for _ in 0..4 {
        clock.advance(Duration::from_millis(150));
        assert!(q.heartbeat(&c.id, "w1", lease).await.unwrap());
        assert!(claim_default(&q, "w2", lease).await.is_none());
    }
    // 600 ms have passed, twice the lease: only the heartbeats kept it.
    clock.advance(Duration::from_millis(400));
    assert!(claim_default(&q, "w2", lease).await.is_some());
}

async fn release_with_delay(backend: Backend) {
    let (q, clock, _db) = queue(backend).await;
    let id = q.enqueue("default", json!(1)).await.unwrap();
    let c = claim_default(&q, "w1", LEASE).await.unwrap();
    q.release(&c.id, Duration::from_millis(300)).await.unwrap();
    assert!(claim_default(&q, "w1", LEASE).await.is_none(), "delayed");
    clock.advance(Duration::from_millis(400));
    let c = claim_default(&q, "w2", LEASE).await.unwrap();
    assert_eq!((c.id.as_str(), c.deliveries), (id.as_str(), 2));
    // A zero-delay release is visible at once.
    q.release(&c.id, Duration::ZERO).await.unwrap();
    assert_eq!(claim_default(&q, "w3", LEASE).await.unwrap().deliveries, 3);
}

async fn concurrent_claimers_never_share_a_message(backend: Backend) {
    let (q, _clock, _db) = queue(backend).await;
    let n = 60;
    for i in 0..n {
        q.enqueue("default", json!(i)).await.unwrap();
    }
    let q = Arc::new(q);
    let mut tasks = Vec::new();
    for w in 0..6 {
        let q = q.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(c) = claim_default(&q, &format!("w{w}"), LEASE).await {
                got.push(c.id);
            }
            got
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for t in tasks {
        for id in t.await.unwrap() {
            total += 1;
            assert!(
                seen.insert(id),
                "message claimed twice on {}",
                q.db().backend()
            );
        }
    }
    assert_eq!((total, seen.len()), (n, n));
}

async fn wait_for_work_wakes_on_enqueue_and_times_out(backend: Backend) {
    let (q, _clock, _db) = queue(backend).await;
    let start = std::time::Instant::now();
    q.wait_for_work(Duration::from_millis(100)).await;
    assert!(start.elapsed() >= Duration::from_millis(90));

    let q2 = q.clone();
    let waiter = tokio::spawn(async move {
        let start = std::time::Instant::now();
        q2.wait_for_work(Duration::from_secs(20)).await;
        start.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    q.enqueue("default", json!(1)).await.unwrap();
    assert!(waiter.await.unwrap() < Duration::from_secs(5));

    // An enqueue while nobody waits is remembered for the next waiter.
    q.enqueue("default", json!(2)).await.unwrap();
    let start = std::time::Instant::now();
    q.wait_for_work(Duration::from_secs(20)).await;
    assert!(start.elapsed() < Duration::from_secs(5));
}

async fn payloads_round_trip_unicode_and_large(backend: Backend) {
    let (q, _clock, _db) = queue(backend).await;
    let big = "ü".repeat(200_000);
    let payload = json!({"s": big, "emoji": "🚀", "nested": [1, {"a": null}]});
    q.enqueue("t", payload.clone()).await.unwrap();
    let c = q.claim(&topics(&["t"]), "w", LEASE).await.unwrap().unwrap();
    assert_eq!(c.payload, payload);
}

async fn enqueue_once_keeps_one_message_per_key(backend: Backend) {
    let (q, _clock, _db) = queue(backend).await;
    let a = q
        .enqueue_once("default", json!({"n": 1}), "k1")
        .await
        .unwrap();
    // A repeat (a relay retrying after a crash) adds nothing and names the first message.
    let again = q
        .enqueue_once("default", json!({"n": 2}), "k1")
        .await
        .unwrap();
    assert_eq!(again, a, "{}", q.db().backend());
    let b = q
        .enqueue_once("default", json!({"n": 3}), "k2")
        .await
        .unwrap();
    assert_ne!(a, b);
    assert_eq!(q.len().await.unwrap(), 2);
    // Still a repeat once the first message was processed and acked.
    let c = claim_default(&q, "w", LEASE).await.unwrap();
    assert_eq!((c.id.as_str(), c.payload), (a.as_str(), json!({"n": 1})));
    q.ack(&c.id).await.unwrap();
    assert_eq!(
        q.enqueue_once("default", json!({"n": 4}), "k1")
            .await
            .unwrap(),
        a
    );
    assert_eq!(q.len().await.unwrap(), 1);
}

async fn enqueue_once_forgets_keys_after_the_window(backend: Backend) {
    let (q, clock, _db) = queue(backend).await;
    let q = q.with_dedup_window(Duration::from_secs(60));
    let a = q.enqueue_once("default", json!(1), "k").await.unwrap();
    clock.advance(Duration::from_secs(59));
    assert_eq!(q.enqueue_once("default", json!(1), "k").await.unwrap(), a);
    clock.advance(Duration::from_secs(2));
    let b = q.enqueue_once("default", json!(1), "k").await.unwrap();
    assert_ne!(b, a, "the key expired");
    assert_eq!(q.len().await.unwrap(), 2);
}

async fn concurrent_enqueue_once_of_one_key_keeps_one(backend: Backend) {
    let (q, _clock, _db) = queue(backend).await;
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let q = q.clone();
            tokio::spawn(async move { q.enqueue_once("default", json!(n), "same").await })
        })
        .collect();
    let mut ids = HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap().unwrap());
    }
    assert_eq!(ids.len(), 1, "{}", q.db().backend());
    assert_eq!(q.len().await.unwrap(), 1);
}
