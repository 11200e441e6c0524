//! [`SqlQueue`]: the queue as one table on SQLite or PostgreSQL.
//!
//! Claiming is a single atomic statement on both backends: SQLite takes its write lock before
//! an `UPDATE` reads anything, so `UPDATE ... WHERE seq = (SELECT ... LIMIT 1) RETURNING` can
//! never hand one message to two claimers; on PostgreSQL the sub-select skips rows that other
//! claimers hold locked ([`Dialect::skip_locked`](mender_db::Dialect::skip_locked)) instead
//! of waiting for them.

use std::sync::Arc;
use std::time::Duration;

use mender_core::SharedClock;
use mender_db::{Db, JsonList, QueryBuilder, Schema, query};
use serde_json::Value;
use sqlx::migrate::Migrator;
use tokio::sync::Notify;

use crate::{Claimed, JobQueue, QueueError};

static MIG_SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static MIG_POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The database service name of the queue (`<data-dir>/queue.db`, schema `mender_queue`).
pub const SERVICE: &str = "queue";

/// The queue's tables on both backends.
pub static SCHEMA: Schema = Schema::new(SERVICE, &MIG_SQLITE, &MIG_POSTGRES);

/// A [`JobQueue`] in a SQL table. Clones share the in-process wake-up signal.
#[derive(Debug, Clone)]
pub struct SqlQueue {
    db: Db,
    clock: SharedClock,
    notify: Arc<Notify>,
}

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: String,
    topic: String,
    payload: String,
    deliveries: i64,
}

impl SqlQueue {
    /// A queue on an already migrated database (see [`SCHEMA`]); leases and delays are
    /// measured on `clock`.
    pub fn new(db: Db, clock: SharedClock) -> Self {
        Self {
            db,
            clock,
            notify: Arc::new(Notify::new()),
        }
    }

    /// The database the queue lives in (for health checks).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Number of messages not yet acked (claimed or not); for tests and metrics.
    pub async fn len(&self) -> Result<u64, QueueError> {
        let n: i64 = query("SELECT COUNT(*) FROM queue_messages")
            .scalar(&self.db)
            .await?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// Whether no message is waiting or in flight.
    pub async fn is_empty(&self) -> Result<bool, QueueError> {
        Ok(self.len().await? == 0)
    }

    /// The clock in unix milliseconds, the queue's column encoding.
    fn now_ms(&self) -> i64 {
        self.clock.now().unix_millis()
    }
}

/// Converts a duration to milliseconds, saturating.
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl JobQueue for SqlQueue {
    async fn enqueue(&self, topic: &str, payload: Value) -> Result<String, QueueError> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let body = serde_json::to_string(&payload)?;
        query(
            "INSERT INTO queue_messages (id, topic, payload, enqueued_at, visible_at, deliveries) \
             VALUES ($1, $2, $3, $4, $4, 0)",
        )
        .bind(&id)
        .bind(topic)
        .bind(body)
        .bind(self.now_ms())
        .execute(&self.db)
        .await?;
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
        let now = self.now_ms();
        let mut q = QueryBuilder::new(
            self.db.dialect(),
            "UPDATE queue_messages SET lease_owner = ",
        );
        q.push_bind(worker_id)
            .push(", visible_at = ")
            .push_bind(now.saturating_add(ms(lease)))
            .push(
                ", deliveries = deliveries + 1 WHERE seq = (SELECT seq FROM queue_messages \
                 WHERE topic IN (",
            )
            .push_json_list(serde_json::to_string(topics)?, JsonList::Text)
            .push(") AND visible_at <= ")
            .push_bind(now)
            .push(" ORDER BY seq LIMIT 1")
            .push(self.db.dialect().skip_locked())
            .push(") RETURNING id, topic, payload, deliveries");
        let Some(row) = q.build().fetch_optional::<ClaimedRow>(&self.db).await? else {
            return Ok(None);
        };
        Ok(Some(Claimed {
            id: row.id,
            topic: row.topic,
            payload: serde_json::from_str(&row.payload)?,
            deliveries: u32::try_from(row.deliveries).unwrap_or(u32::MAX),
        }))
    }

    async fn heartbeat(
        &self,
        id: &str,
        worker_id: &str,
        lease: Duration,
    ) -> Result<bool, QueueError> {
        let n =
            query("UPDATE queue_messages SET visible_at = $1 WHERE id = $2 AND lease_owner = $3")
                .bind(self.now_ms().saturating_add(ms(lease)))
                .bind(id)
                .bind(worker_id)
                .execute(&self.db)
                .await?;
        Ok(n == 1)
    }

    async fn ack(&self, id: &str) -> Result<(), QueueError> {
        query("DELETE FROM queue_messages WHERE id = $1")
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    async fn release(&self, id: &str, delay: Duration) -> Result<(), QueueError> {
        query("UPDATE queue_messages SET lease_owner = NULL, visible_at = $1 WHERE id = $2")
            .bind(self.now_ms().saturating_add(ms(delay)))
            .bind(id)
            .execute(&self.db)
            .await?;
        if delay.is_zero() {
            self.notify.notify_one();
        }
        Ok(())
    }

    async fn wait_for_work(&self, max_wait: Duration) {
        let _ = tokio::time::timeout(max_wait, self.notify.notified()).await;
    }
}
