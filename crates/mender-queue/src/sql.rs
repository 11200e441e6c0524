//! [`SqlQueue`]: the queue as one table on SQLite or PostgreSQL.
//!
//! Claiming is a single atomic statement on both backends: SQLite takes its write lock before
//! an `UPDATE` reads anything, so `UPDATE ... WHERE seq = (SELECT ... LIMIT 1) RETURNING` can
//! never hand one message to two claimers; PostgreSQL uses `FOR UPDATE SKIP LOCKED` in the
//! sub-select so concurrent claimers skip each other's rows instead of waiting.

use std::sync::Arc;
use std::time::Duration;

use mender_db::{Db, Migrations};
use serde_json::Value;
use sqlx::Row;
use sqlx::migrate::Migrator;
use tokio::sync::Notify;

use crate::{Claimed, JobQueue, QueueError, ms, now_ms};

static MIG_SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static MIG_POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The database service name of the queue (`<data-dir>/queue.db`, schema `mender_queue`).
pub const SERVICE: &str = "queue";

/// The queue's migrations, for `Db::connect(url, SERVICE, migrations())`.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: &MIG_SQLITE,
        postgres: &MIG_POSTGRES,
    }
}

const CLAIM_SQLITE: &str = "UPDATE queue_messages SET lease_owner = $1, visible_at = $2, deliveries = deliveries + 1 \
     WHERE seq = (SELECT seq FROM queue_messages \
                  WHERE topic IN (SELECT value FROM json_each($3)) AND visible_at <= $4 \
                  ORDER BY seq LIMIT 1) \
     RETURNING id, topic, payload, deliveries";

const CLAIM_POSTGRES: &str = "UPDATE queue_messages SET lease_owner = $1, visible_at = $2, deliveries = deliveries + 1 \
     WHERE seq = (SELECT seq FROM queue_messages \
                  WHERE topic = ANY($3) AND visible_at <= $4 \
                  ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) \
     RETURNING id, topic, payload, deliveries";

const ENQUEUE: &str = "INSERT INTO queue_messages (id, topic, payload, enqueued_at, visible_at, deliveries) VALUES ($1, $2, $3, $4, $4, 0)";
const HEARTBEAT: &str =
    "UPDATE queue_messages SET visible_at = $1 WHERE id = $2 AND lease_owner = $3";
const ACK: &str = "DELETE FROM queue_messages WHERE id = $1";
const RELEASE: &str = "UPDATE queue_messages SET lease_owner = NULL, visible_at = $1 WHERE id = $2";

/// A [`JobQueue`] in a SQL table. Clones share the in-process wake-up signal.
#[derive(Debug, Clone)]
pub struct SqlQueue {
    db: Db,
    notify: Arc<Notify>,
}

impl SqlQueue {
    /// A queue on an already migrated database (see [`migrations`]).
    pub fn new(db: Db) -> Self {
        Self {
            db,
            notify: Arc::new(Notify::new()),
        }
    }

    /// The database the queue lives in (for health checks).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Number of messages not yet acked (claimed or not); for tests and metrics.
    pub async fn len(&self) -> Result<u64, QueueError> {
        let sql = "SELECT COUNT(*) FROM queue_messages";
        let n: i64 = match &self.db {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await?,
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await?,
        };
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// Whether no message is waiting or in flight.
    pub async fn is_empty(&self) -> Result<bool, QueueError> {
        Ok(self.len().await? == 0)
    }
}

fn claimed_from(
    id: String,
    topic: String,
    payload: String,
    deliveries: i64,
) -> Result<Claimed, QueueError> {
    Ok(Claimed {
        id,
        topic,
        payload: serde_json::from_str(&payload)?,
        deliveries: u32::try_from(deliveries).unwrap_or(u32::MAX),
    })
}

#[async_trait::async_trait]
impl JobQueue for SqlQueue {
    async fn enqueue(&self, topic: &str, payload: Value) -> Result<String, QueueError> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let body = serde_json::to_string(&payload)?;
        let now = now_ms();
        match &self.db {
            Db::Sqlite(p) => sqlx::query(ENQUEUE)
                .bind(&id)
                .bind(topic)
                .bind(&body)
                .bind(now)
                .execute(p)
                .await?
                .rows_affected(),
            Db::Postgres(p) => sqlx::query(ENQUEUE)
                .bind(&id)
                .bind(topic)
                .bind(&body)
                .bind(now)
                .execute(p)
                .await?
                .rows_affected(),
        };
        // One permit per message: wakes one idle worker, or lets the next one that goes
        // idle return at once instead of sleeping a whole poll interval.
        self.notify.notify_one();
        Ok(id)
    }

    async fn claim(
        &self,
        topics: &[String],
        worker_id: &str,
        lease: Duration,
    ) -> Result<Option<Claimed>, QueueError> {
        if topics.is_empty() {
            return Ok(None);
        }
        let now = now_ms();
        let until = now.saturating_add(ms(lease));
        let row = match &self.db {
            Db::Sqlite(p) => sqlx::query(CLAIM_SQLITE)
                .bind(worker_id)
                .bind(until)
                .bind(serde_json::to_string(topics)?)
                .bind(now)
                .fetch_optional(p)
                .await?
                .map(|r| (r.try_get(0), r.try_get(1), r.try_get(2), r.try_get(3))),
            Db::Postgres(p) => sqlx::query(CLAIM_POSTGRES)
                .bind(worker_id)
                .bind(until)
                .bind(topics)
                .bind(now)
                .fetch_optional(p)
                .await?
                .map(|r| (r.try_get(0), r.try_get(1), r.try_get(2), r.try_get(3))),
        };
        match row {
            None => Ok(None),
            Some((id, topic, payload, deliveries)) => {
                claimed_from(id?, topic?, payload?, deliveries?).map(Some)
            }
        }
    }

    async fn heartbeat(
        &self,
        id: &str,
        worker_id: &str,
        lease: Duration,
    ) -> Result<bool, QueueError> {
        let until = now_ms().saturating_add(ms(lease));
        let n = match &self.db {
            Db::Sqlite(p) => sqlx::query(HEARTBEAT)
                .bind(until)
                .bind(id)
                .bind(worker_id)
                .execute(p)
                .await?
                .rows_affected(),
            Db::Postgres(p) => sqlx::query(HEARTBEAT)
                .bind(until)
                .bind(id)
                .bind(worker_id)
                .execute(p)
                .await?
                .rows_affected(),
        };
        Ok(n == 1)
    }

    async fn ack(&self, id: &str) -> Result<(), QueueError> {
        match &self.db {
            Db::Sqlite(p) => sqlx::query(ACK).bind(id).execute(p).await?.rows_affected(),
            Db::Postgres(p) => sqlx::query(ACK).bind(id).execute(p).await?.rows_affected(),
        };
        Ok(())
    }

    async fn release(&self, id: &str, delay: Duration) -> Result<(), QueueError> {
        let at = now_ms().saturating_add(ms(delay));
        match &self.db {
            Db::Sqlite(p) => sqlx::query(RELEASE)
                .bind(at)
                .bind(id)
                .execute(p)
                .await?
                .rows_affected(),
            Db::Postgres(p) => sqlx::query(RELEASE)
                .bind(at)
                .bind(id)
                .execute(p)
                .await?
                .rows_affected(),
        };
        if delay.is_zero() {
            self.notify.notify_one();
        }
        Ok(())
    }

    async fn wait_for_work(&self, max_wait: Duration) {
        let _ = tokio::time::timeout(max_wait, self.notify.notified()).await;
    }
}
