//! The transactional outbox: how a service changes its own state and asks for a workflow in
//! one transaction, so that a crash can never leave one without the other.
//!
//! A service that starts workflows keeps an `outbox` table in its own database (a migration
//! of its own; the SQL, the same on SQLite and PostgreSQL, is below). Its store writes the state change and the
//! [`OutboxMessage`]s describing the workflows to start with [`push`], inside the same
//! [`Tx`]. A [`Relay`] per service then moves the rows to the workflow engine: it calls
//! [`WorkflowStarter::start_workflow_once`] with a key derived from the row id, and deletes the
//! row once the engine has the job. Delivery is at least once (the relay may crash after the
//! engine queued the job and before the row is deleted, and two relays on one PostgreSQL
//! database may pick the same row); the key makes the engine queue each row's job once, so a
//! repeat starts nothing.
//!
//! The relay wakes at once when the service signals a commit ([`OutboxSignal`]) and otherwise
//! polls, which also picks up rows committed by other processes and rows left over from before
//! a restart. A row whose start fails is retried with a growing delay; a row the engine can
//! never start (no such workflow, missing inputs) is dropped with an error in the log.
//!
//! ```sql
//! CREATE TABLE outbox (
//!     id              TEXT    PRIMARY KEY,  -- time-ordered UUID; the engine's dedup key
//!     workflow        TEXT    NOT NULL,
//!     subject         TEXT    NOT NULL,     -- what the workflow is about (a device id)
//!     inputs          TEXT    NOT NULL,     -- a JSON object
//!     created_at      BIGINT  NOT NULL,     -- unix milliseconds
//!     attempts        BIGINT  NOT NULL DEFAULT 0,
//!     next_attempt_at BIGINT  NOT NULL      -- unix milliseconds
//! );
//! CREATE INDEX outbox_due ON outbox (next_attempt_at, id);
//! CREATE INDEX outbox_subject ON outbox (workflow, subject);
//! ```

use std::sync::Arc;
use std::time::Duration;

use mender_api::workflows::{StartError, WorkflowStarter};
use mender_core::{SharedClock, Timestamp};
use mender_db::{Db, Tx, query};
use serde_json::Value;
use tokio::sync::{Notify, watch};

/// A workflow to start once the transaction that wrote it commits.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// The workflow name.
    pub workflow: &'static str,
    /// What the workflow is about (a device id), so that a reconciler can ask whether work
    /// for it is still waiting ([`has_pending`]).
    pub subject: String,
    /// Its input parameters (a JSON object).
    pub inputs: Value,
}

impl OutboxMessage {
    /// A message starting `workflow` about `subject` with `inputs`.
    pub fn new(workflow: &'static str, subject: impl Into<String>, inputs: Value) -> Self {
        Self {
            workflow,
            subject: subject.into(),
            inputs,
        }
    }
}

/// Writes `messages` into the outbox inside `tx`: they become visible to the relay exactly
/// when the transaction's other changes do.
pub async fn push(
    tx: &mut Tx,
    messages: &[OutboxMessage],
    now: Timestamp,
) -> Result<(), mender_db::Error> {
    let now = now.unix_millis();
    for m in messages {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let inputs = serde_json::to_string(&m.inputs)
            .map_err(|e| mender_db::Error::decode(e.to_string()))?;
        query(
            "INSERT INTO outbox \
             (id, workflow, subject, inputs, created_at, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $5)",
        )
        .bind(id)
        .bind(m.workflow)
        .bind(m.subject.as_str())
        .bind(inputs)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Number of rows waiting in the outbox of `db` (due or backing off).
pub async fn pending(db: &Db) -> Result<u64, mender_db::Error> {
    let n: i64 = query("SELECT COUNT(*) FROM outbox").scalar(db).await?;
    Ok(u64::try_from(n).unwrap_or_default())
}

/// Whether a row of workflow `workflow` about `subject` is waiting: lets a reconciler skip
/// work the relay is about to do.
pub async fn has_pending(db: &Db, workflow: &str, subject: &str) -> Result<bool, mender_db::Error> {
    let n: i64 = query("SELECT COUNT(*) FROM outbox WHERE workflow = $1 AND subject = $2")
        .bind(workflow)
        .bind(subject)
        .scalar(db)
        .await?;
    Ok(n > 0)
}

/// The signal a service gives its relay after committing outbox rows. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    /// Wakes the relay (or lets its next wait return at once).
    pub fn notify(&self) {
        self.0.notify_one();
    }

    /// Waits for [`notify`](Self::notify), at most `max_wait`.
    async fn wait(&self, max_wait: Duration) {
        let _ = tokio::time::timeout(max_wait, self.0.notified()).await;
    }
}

/// How a relay runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelaySettings {
    /// How often the relay looks for rows without being signalled.
    pub poll_interval: Duration,
    /// Rows taken per pass.
    pub batch: u32,
    /// The longest delay between two attempts of one failing row.
    pub max_backoff: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            batch: 100,
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// What one relay pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayPass {
    /// Rows handed to the engine and deleted.
    pub delivered: u64,
    /// Rows that failed and wait for another attempt.
    pub deferred: u64,
    /// Rows the engine can never start, deleted.
    pub dropped: u64,
}

/// The failpoint between the engine accepting a row's job and the row's deletion: the crash
/// window the dedup key covers. `after-outbox-start:<workflow>` crashes at that workflow only.
pub const FAILPOINT_AFTER_START: &str = "after-outbox-start";

/// One service's outbox: the database holding its table, the signal its commits give, and the
/// clock its retries are timed on.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// The owning service (prefixes the engine's dedup keys).
    pub service: &'static str,
    /// The service's database.
    pub db: Db,
    /// Given after each commit that wrote rows.
    pub signal: OutboxSignal,
    /// The service's clock.
    pub clock: SharedClock,
}

/// Moves one service's outbox rows to the workflow engine.
pub struct Relay {
    outbox: Outbox,
    starter: Arc<dyn WorkflowStarter>,
    settings: RelaySettings,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    workflow: String,
    inputs: String,
    attempts: i64,
}

impl Relay {
    /// A relay moving the rows of `outbox` to `starter`.
    pub fn new(outbox: Outbox, starter: Arc<dyn WorkflowStarter>, settings: RelaySettings) -> Self {
        Self {
            outbox,
            starter,
            settings,
        }
    }

    /// The engine's dedup key of row `id`: unique across services.
    pub fn key(&self, id: &str) -> String {
        format!("{}/outbox/{id}", self.outbox.service)
    }

    /// Delivers the rows that are due, oldest first, up to one batch; returns what it did.
    pub async fn run_once(&self) -> Result<RelayPass, mender_db::Error> {
        let now = self.outbox.clock.now().unix_millis();
        let rows: Vec<Row> = query(
            "SELECT id, workflow, inputs, attempts FROM outbox WHERE next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(self.settings.batch))
        .fetch_all(&self.outbox.db)
        .await?;
        let mut pass = RelayPass::default();
        for row in rows {
            let inputs: Value = match serde_json::from_str(&row.inputs) {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(service = self.outbox.service, row = %row.id, error = %e, "dropping an undecodable outbox row");
                    self.delete(&row.id).await?;
                    pass.dropped += 1;
                    continue;
                }
            };
            match self
                .starter
                .start_workflow_once(&row.workflow, inputs, &self.key(&row.id))
                .await
            {
                Ok(started) => {
                    mender_core::failpoint::hit_at(FAILPOINT_AFTER_START, &row.workflow);
                    self.delete(&row.id).await?;
                    tracing::debug!(service = self.outbox.service, workflow = %row.workflow, job = %started.id, "outbox row delivered");
                    pass.delivered += 1;
                }
                Err(e @ (StartError::NotFound(_) | StartError::MissingInputs(_))) => {
                    tracing::error!(service = self.outbox.service, workflow = %row.workflow, row = %row.id, error = %e, "the workflow engine can never start this outbox row; dropping it");
                    self.delete(&row.id).await?;
                    pass.dropped += 1;
                }
                Err(e) => {
                    let attempts = row.attempts.saturating_add(1);
                    let delay = self.backoff(attempts);
                    tracing::warn!(service = self.outbox.service, workflow = %row.workflow, attempts, retry_in_ms = delay.as_millis() as u64, error = %e, "cannot start a workflow from the outbox; will retry");
                    let next =
                        now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
                    query("UPDATE outbox SET attempts = $1, next_attempt_at = $2 WHERE id = $3")
                        .bind(attempts)
                        .bind(next)
                        .bind(&row.id)
                        .execute(&self.outbox.db)
                        .await?;
                    pass.deferred += 1;
                }
            }
        }
        Ok(pass)
    }

    /// Runs passes until no due row is left (one pass may not take them all); for start-up
    /// and tests.
    pub async fn drain(&self) -> Result<RelayPass, mender_db::Error> {
        let mut total = RelayPass::default();
        loop {
            let pass = self.run_once().await?;
            total.delivered += pass.delivered;
            total.deferred += pass.deferred;
            total.dropped += pass.dropped;
            if pass.delivered + pass.dropped < u64::from(self.settings.batch) || pass.deferred > 0 {
                return Ok(total);
            }
        }
    }

    /// The delay before attempt `attempts + 1`: one second doubled per failure, capped.
    fn backoff(&self, attempts: i64) -> Duration {
        let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
        Duration::from_secs(1u64 << exp).min(self.settings.max_backoff)
    }

    async fn delete(&self, id: &str) -> Result<(), mender_db::Error> {
        query("DELETE FROM outbox WHERE id = $1")
            .bind(id)
            .execute(&self.outbox.db)
            .await?;
        Ok(())
    }

    /// Runs the relay until `shutdown` turns true: a pass at once (rows left from before a
    /// restart), then one after every signal and every poll interval.
    pub fn spawn(self, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            tracing::debug!(service = self.outbox.service, "outbox relay started");
            while !*shutdown.borrow() {
                match self.drain().await {
                    Ok(pass) if pass != RelayPass::default() => {
                        tracing::info!(
                            service = self.outbox.service,
                            delivered = pass.delivered,
                            deferred = pass.deferred,
                            dropped = pass.dropped,
                            "outbox relayed"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(service = self.outbox.service, error = %e, "outbox relay cannot read its table");
                    }
                }
                tokio::select! {
                    () = self.outbox.signal.wait(self.settings.poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
            }
            tracing::debug!(service = self.outbox.service, "outbox relay stopped");
        })
    }
}
