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
use mender_db::{Db, JsonList, Query, QueryBuilder, Schema, query};
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

/// How long [`JobQueue::enqueue_once`] remembers a key by default. A producer repeats an
/// enqueue after a crash, so the window only has to outlast a restart; a week leaves room for
/// a server that stays down over a holiday.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// A [`JobQueue`] in a SQL table. Clones share the in-process wake-up signal.
#[derive(Debug, Clone)]
pub struct SqlQueue {
    db: Db,
    clock: SharedClock,
    notify: Arc<Notify>,
    dedup_window: Duration,
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
            dedup_window: DEFAULT_DEDUP_WINDOW,
        }
    }

    /// The same queue remembering [`JobQueue::enqueue_once`] keys for `window`.
    pub fn with_dedup_window(mut self, window: Duration) -> Self {
        self.dedup_window = window;
        self
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

/// A new message id: time-ordered, so ids sort roughly by enqueue time in logs.
fn new_message_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// The statement that appends message `id`, visible at once.
fn insert_message<'q>(id: &'q str, topic: &'q str, payload: String, now_ms: i64) -> Query<'q> {
    query(
        "INSERT INTO queue_messages (id, topic, payload, enqueued_at, visible_at, deliveries) \
         VALUES ($1, $2, $3, $4, $4, 0)",
    )
    .bind(id)
    .bind(topic)
    .bind(payload)
    .bind(now_ms)
}

/// Converts a duration to milliseconds, saturating.
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl JobQueue for SqlQueue {
    async fn enqueue(&self, topic: &str, payload: Value) -> Result<String, QueueError> {
        let id = new_message_id();
        let body = serde_json::to_string(&payload)?;
        insert_message(&id, topic, body, self.now_ms())
            .execute(&self.db)
            .await?;
        // One permit per message: wakes one idle worker, or lets the next one that goes
        // idle return at once instead of sleeping a whole poll interval.
        self.notify.notify_one();
        Ok(id)
    }

    async fn enqueue_once(
        &self,
        topic: &str,
        payload: Value,
        key: &str,
    ) -> Result<String, QueueError> {
        let id = new_message_id();
        let body = serde_json::to_string(&payload)?;
        let now = self.now_ms();
        let mut tx = self.db.begin_write().await?;
        query("DELETE FROM queue_dedup WHERE created_at < $1")
            .bind(now.saturating_sub(ms(self.dedup_window)))
            .execute(&mut tx)
            .await?;
        // The key row first: on PostgreSQL a concurrent enqueue of the same key waits here on
        // the primary key until this transaction ends, then inserts nothing.
        let fresh = query(
            "INSERT INTO queue_dedup (dedup_key, message_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (dedup_key) DO NOTHING",
        )
        .bind(key)
        .bind(&id)
        .bind(now)
        .execute(&mut tx)
        .await?;
        if fresh == 0 {
            let existing: String = query("SELECT message_id FROM queue_dedup WHERE dedup_key = $1")
                .bind(key)
                .scalar(&mut tx)
                .await?;
            tx.commit().await?;
            return Ok(existing);
        }
        insert_message(&id, topic, body, now)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
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
