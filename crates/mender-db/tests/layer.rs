//! The storage layer's own conformance suite: every value type, NULLs, transactions, the write
//! lock, read snapshots, unique violations and JSON lists behave the same on SQLite and
//! PostgreSQL (`sqlite::<name>`, `postgres::<name>`).

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use mender_db::testing::{Backend, TestDb};
use mender_db::{Blob, Conn, JsonList, QueryBuilder, Schema, query};
use sqlx::migrate::Migrator;

static MIGRATIONS: Migrator = sqlx::migrate!("./tests/migrations");
static SCHEMA: Schema = Schema::portable("layer", &MIGRATIONS);

mender_db::each_backend!(
    every_type_round_trips,
    nulls_are_typed,
    nul_in_text_is_refused_on_both,
    unique_violation_is_recognised,
    transactions_commit_or_roll_back,
    write_transactions_exclude_each_other,
    read_transaction_sees_one_state,
    builder_lists_and_json_lists,
    analyze_refreshes_statistics,
);

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Thing {
    id: String,
    n: Option<i64>,
    f: Option<f64>,
    b: Option<bool>,
    t: Option<String>,
    bytes: Option<Vec<u8>>,
}

async fn open(backend: Backend) -> TestDb {
    backend.open(&SCHEMA).await
}

async fn insert(db: &TestDb, id: &str, n: i64) {
    query("INSERT INTO things (id, n) VALUES ($1, $2)")
        .bind(id)
        .bind(n)
        .execute(&**db)
        .await
        .unwrap();
}

/// Inserts a row with only its id set.
async fn insert_id<'c>(on: impl Into<Conn<'c>>, id: &str) {
    query("INSERT INTO things (id) VALUES ($1)")
        .bind(id)
        .execute(on)
        .await
        .unwrap();
}

/// How many rows `things` has.
async fn count<'c>(on: impl Into<Conn<'c>>) -> i64 {
    query("SELECT COUNT(*) FROM things")
        .scalar(on)
        .await
        .unwrap()
}

async fn every_type_round_trips(backend: Backend) {
    let db = open(backend).await;
    let n = query("INSERT INTO things (id, n, f, b, t, bytes) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind("a")
        .bind(i64::MIN)
        .bind(-0.5_f64)
        .bind(true)
        .bind(String::from("ü \u{1} 🚀"))
        .bind(Blob(&[0, 255, 1]))
        .execute(&*db)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let got: Thing = query("SELECT id, n, f, b, t, bytes FROM things WHERE id = $1")
        .bind("a")
        .fetch_one(&*db)
        .await
        .unwrap();
    assert_eq!(
        got,
        Thing {
            id: "a".into(),
            n: Some(i64::MIN),
            f: Some(-0.5),
            b: Some(true),
            t: Some("ü \u{1} 🚀".into()),
            bytes: Some(vec![0, 255, 1]),
        }
    );
    let count = count(&*db).await;
    assert_eq!(count, 1);
    let none: Option<i64> = query("SELECT n FROM things WHERE id = $1")
        .bind("missing")
        .scalar_optional(&*db)
        .await
        .unwrap();
    assert_eq!(none, None);
    assert!(
        query("SELECT n FROM things WHERE id = 'missing'")
            .fetch_one::<(i64,)>(&*db)
            .await
            .is_err(),
        "fetch_one without a row is an error"
    );
}

async fn nulls_are_typed(backend: Backend) {
    let db = open(backend).await;
    // PostgreSQL refuses a NULL of the wrong type; each binds as its column's type.
    query("INSERT INTO things (id, n, f, b, t, bytes) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind("a")
        .bind(None::<i64>)
        .bind(None::<f64>)
        .bind(None::<bool>)
        .bind(None::<&str>)
        .bind(None::<Blob<'_>>)
        .execute(&*db)
        .await
        .unwrap();
    let got: Thing = query("SELECT id, n, f, b, t, bytes FROM things")
        .fetch_one(&*db)
        .await
        .unwrap();
    assert_eq!(
        (got.n, got.f, got.b, got.t, got.bytes),
        (None, None, None, None, None)
    );
}

async fn nul_in_text_is_refused_on_both(backend: Backend) {
    let db = open(backend).await;
    let e = query("INSERT INTO things (id, t) VALUES ($1, $2)")
        .bind("a")
        .bind("before\u{0}after")
        .execute(&*db)
        .await
        .unwrap_err();
    assert!(e.is_invalid_text(), "{e}");
    assert!(!e.is_unique_violation());
    let n = count(&*db).await;
    assert_eq!(n, 0);
}

async fn unique_violation_is_recognised(backend: Backend) {
    let db = open(backend).await;
    insert(&db, "a", 1).await;
    let e = query("INSERT INTO things (id) VALUES ($1)")
        .bind("a")
        .execute(&*db)
        .await
        .unwrap_err();
    assert!(e.is_unique_violation(), "{e}");
    let e = query("SELECT nope FROM things")
        .execute(&*db)
        .await
        .unwrap_err();
    assert!(!e.is_unique_violation(), "{e}");
}

async fn transactions_commit_or_roll_back(backend: Backend) {
    let db = open(backend).await;
    let mut tx = db.begin_write().await.unwrap();
    insert_id(&mut tx, "kept").await;
    tx.commit().await.unwrap();
    let mut tx = db.begin_write().await.unwrap();
    insert_id(&mut tx, "undone").await;
    tx.rollback().await.unwrap();
    {
        let mut tx = db.begin_write().await.unwrap();
        insert_id(&mut tx, "dropped").await;
        // Dropped without commit: rolled back.
    }
    let ids: Vec<String> = query("SELECT id FROM things ORDER BY id")
        .scalars(&*db)
        .await
        .unwrap();
    assert_eq!(ids, ["kept"]);
}

async fn write_transactions_exclude_each_other(backend: Backend) {
    let db = open(backend).await;
    insert(&db, "counter", 0).await;
    // Read-then-write increments: without the write lock taken up front, SQLite would fail
    // some of them (a read lock cannot be upgraded once another writer committed) and
    // PostgreSQL would lose updates without the row lock.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let db = db.db();
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                let mut tx = db.begin_write().await.unwrap();
                let sql = match tx.dialect() {
                    mender_db::Dialect::Sqlite => "SELECT n FROM things WHERE id = 'counter'",
                    mender_db::Dialect::Postgres => {
                        "SELECT n FROM things WHERE id = 'counter' FOR UPDATE"
                    }
                };
                let n: i64 = query(sql).scalar(&mut tx).await.unwrap();
                query("UPDATE things SET n = $1 WHERE id = 'counter'")
                    .bind(n + 1)
                    .execute(&mut tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n: i64 = query("SELECT n FROM things WHERE id = 'counter'")
        .scalar(&*db)
        .await
        .unwrap();
    assert_eq!(n, 40);
}

async fn read_transaction_sees_one_state(backend: Backend) {
    let db = open(backend).await;
    insert(&db, "a", 1).await;
    let mut read = db.begin_read().await.unwrap();
    let before = count(&mut read).await;
    insert(&db, "b", 2).await;
    let during = count(&mut read).await;
    assert_eq!(
        (before, during),
        (1, 1),
        "a write from outside showed up mid-read"
    );
    read.commit().await.unwrap();
    let after = count(&*db).await;
    assert_eq!(after, 2);
}

async fn builder_lists_and_json_lists(backend: Backend) {
    let db = open(backend).await;
    for (id, n) in [("a", 1), ("b", 2), ("c", 3), ("d", 4)] {
        insert(&db, id, n).await;
    }
    let mut q = QueryBuilder::new(db.dialect(), "SELECT id FROM things WHERE id IN (");
    q.push_list(["a", "c", "zz"])
        .push(") OR n IN (")
        .push_json_list("[4, 40]".into(), JsonList::Int)
        .push(") OR id IN (")
        .push_json_list(r#"["b\"", "x"]"#.into(), JsonList::Text)
        .push(") ORDER BY id");
    let ids: Vec<String> = q.build().scalars(&*db).await.unwrap();
    assert_eq!(ids, ["a", "c", "d"]);
    let mut q = QueryBuilder::new(db.dialect(), "SELECT COUNT(*) FROM things WHERE n > ");
    let p = q.param(1_i64);
    q.push_param(p).push(" AND n < 4 AND n <> ").push_param(p);
    let n: i64 = q.build().scalar(&*db).await.unwrap();
    assert_eq!(n, 2);
}

async fn analyze_refreshes_statistics(backend: Backend) {
    let db = open(backend).await;
    for (id, n) in [("a", 1), ("b", 2)] {
        insert(&db, id, n).await;
    }
    db.analyze(&["things"]).await.unwrap();
    assert_eq!(count(&*db).await, 2);
    // A table that does not exist is an error on PostgreSQL; SQLite analyzes the whole file.
    let missing = db.analyze(&["nope"]).await;
    assert_eq!(
        missing.is_err(),
        db.dialect() == mender_db::Dialect::Postgres
    );
}
