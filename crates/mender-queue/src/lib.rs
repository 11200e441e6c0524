//! The durable, at-least-once work queue the workflow engine runs on.
//!
//! [`JobQueue`] is the contract: producers [`enqueue`](JobQueue::enqueue) JSON payloads on a
//! topic; workers [`claim`](JobQueue::claim) the oldest visible message of their topics under
//! a time-limited lease, keep the lease alive with [`heartbeat`](JobQueue::heartbeat) while they
//! work, and finish with [`ack`](JobQueue::ack) (done, removed) or
//! [`release`](JobQueue::release) (try again later). A worker that dies simply stops
//! heartbeating: when its lease runs out the message becomes visible again and another worker
//! claims it, with the delivery count incremented so consumers can give up on poison messages.
//!
//! [`SqlQueue`] implements it on a `mender_db::Db` (one table, SQLite or PostgreSQL).
//!
//! # A NATS JetStream implementation
//! The trait maps one-to-one onto a JetStream work-queue stream with a durable pull consumer
//! (upstream's `WORKFLOWS` stream, subjects `WORKFLOWS.<topic>`): `enqueue` = publish to
//! `WORKFLOWS.<topic>` (the message id is the stream sequence), `enqueue_once` = publish with
//! the `Nats-Msg-Id` header set to the key (JetStream drops duplicates within the stream's
//! duplicate window, the counterpart of [`SqlQueue`]'s dedup window), `claim` = `fetch(1)` on a
//! consumer filtered to the topics with `AckWait` = lease and `MaxDeliver` handled by the
//! caller through [`Claimed::deliveries`] (JetStream's `num_delivered`), `heartbeat` =
//! `AckProgress` (in-progress), `ack` = `Ack`, `release` = `Nak` with delay, and
//! `wait_for_work` = the fetch expiry. Such an implementation keeps the in-flight
//! `async_nats::jetstream::Message` handles in a map keyed by message id, which is why every
//! operation takes the id returned by `claim`.

use std::time::Duration;

use serde_json::Value;

pub mod outbox;
mod sql;

pub use sql::{DEFAULT_DEDUP_WINDOW, SCHEMA, SERVICE, SqlQueue};

/// A message handed to a worker by [`JobQueue::claim`].
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// Queue-assigned message id, passed back to `heartbeat`, `ack` and `release`.
    pub id: String,
    /// Topic the message was enqueued on.
    pub topic: String,
    /// The payload as enqueued.
    pub payload: Value,
    /// How many times this message has been claimed, this claim included (1 on first delivery).
    pub deliveries: u32,
}

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The database failed.
    #[error("queue {0}")]
    Db(#[from] mender_db::Error),
    /// A stored payload could not be encoded or decoded.
    #[error("queue payload is not valid JSON: {0}")]
    Payload(#[from] serde_json::Error),
}

/// A durable at-least-once work queue.
#[async_trait::async_trait]
pub trait JobQueue: Send + Sync {
    /// Appends a message to `topic`; returns its id. The message is visible immediately.
    async fn enqueue(&self, topic: &str, payload: Value) -> Result<String, QueueError>;

    /// Appends a message to `topic` unless one with the same `key` was enqueued within the
    /// queue's dedup window; returns the id of the message enqueued for that key, now or
    /// before. Lets a producer that cannot know whether its earlier enqueue went through (it
    /// crashed before recording it) simply enqueue again.
    async fn enqueue_once(
        &self,
        topic: &str,
        payload: Value,
        key: &str,
    ) -> Result<String, QueueError>;

    /// Claims the oldest visible message on any of `topics` for `worker_id` for `lease`.
    /// A message is visible when it was never claimed, its lease expired, or its release
    /// delay passed. Returns `None` when there is nothing to do.
    async fn claim(
        &self,
        topics: &[String],
        worker_id: &str,
        lease: Duration,
    ) -> Result<Option<Claimed>, QueueError>;

    /// Extends the lease of a message `worker_id` holds. Returns `false` when the worker no
    /// longer holds it (acked, or another worker claimed it after the lease ran out).
    async fn heartbeat(
        &self,
        id: &str,
        worker_id: &str,
        lease: Duration,
    ) -> Result<bool, QueueError>;

    /// Marks a message done and removes it. Acking an unknown id is not an error.
    async fn ack(&self, id: &str) -> Result<(), QueueError>;

    /// Gives a message back, visible again after `delay`.
    async fn release(&self, id: &str, delay: Duration) -> Result<(), QueueError>;

    /// Waits until new work may be available, at most `max_wait`: returns early when a message
    /// is enqueued through this instance, so workers in this process react at once while
    /// workers in other processes notice within `max_wait` (their poll interval).
    async fn wait_for_work(&self, max_wait: Duration);
}
