//! In-process abuse limits keyed by client address, account or anything hashable: a
//! [`RateLimiter`] (token bucket) and a failure [`Backoff`], both on the injected clock and
//! both in bounded memory. They answer "retry after N seconds" ([`RetryAfter`]), which
//! [`RetryAfter::too_many_requests`] renders as upstream's 429.
//!
//! Limits are per process: with several replicas each keeps its own counts.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use tokio::sync::Semaphore;

use crate::clock::{SharedClock, Timestamp};
use crate::error::ApiError;

/// How long a refused caller should wait before trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds to wait, rounded up and at least 1 (what `Retry-After` carries; 0 would
    /// invite an immediate retry that is refused again).
    pub fn secs(self) -> u64 {
        (self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0)).max(1)
    }

    /// Upstream's answer to a rate limit: 429 `{"error": "too many requests"}` with `Retry-After`.
    pub fn too_many_requests(self) -> ApiError {
        self.with_status(StatusCode::TOO_MANY_REQUESTS, "too many requests")
    }

    /// An error with `status` and `message` that carries `Retry-After`.
    pub fn with_status(self, status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError::new(status, message)
            .with_header(header::RETRY_AFTER, HeaderValue::from(self.secs()))
    }
}

/// The key a client address is limited under: an IPv4 address as it is (IPv4-mapped IPv6
/// addresses count as IPv4), an IPv6 address by its /64 prefix, because one host commonly
/// holds a whole /64 and could otherwise take a fresh key for every request.
pub fn addr_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6([s[0], s[1], s[2], s[3], 0, 0, 0, 0].into())
            }
        },
    }
}

/// A map that never holds more than `max` keys: two generations of at most `max / 2` keys
/// each. When the current one is full it becomes the previous one and the old previous one
/// is dropped, so keys not touched for a generation are forgotten (roughly least recently
/// used) in O(1), and a flood of distinct keys cannot grow memory.
#[derive(Debug)]
struct Generations<K, V> {
    current: HashMap<K, V>,
    previous: HashMap<K, V>,
    per_generation: usize,
}

impl<K: Hash + Eq, V> Generations<K, V> {
    fn new(max: usize) -> Self {
        Self {
            current: HashMap::new(),
            previous: HashMap::new(),
            per_generation: (max / 2).max(1),
        }
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.current.get(key).or_else(|| self.previous.get(key))
    }

    /// The entry of `key`, created with `new` when absent; a key from the previous
    /// generation moves to the current one.
    fn entry(&mut self, key: K, new: impl FnOnce() -> V) -> &mut V {
        let moved = if self.current.contains_key(&key) {
            None
        } else {
            let value = self.previous.remove(&key);
            if self.current.len() >= self.per_generation {
                self.previous = std::mem::take(&mut self.current);
            }
            value
        };
        self.current
            .entry(key)
            .or_insert_with(|| moved.unwrap_or_else(new))
    }

    fn remove(&mut self, key: &K) {
        self.current.remove(key);
        self.previous.remove(key);
    }

    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

/// Settings of a [`RateLimiter`]: `burst` requests at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed in a burst (the bucket's size); at least 1.
    pub burst: u32,
    /// Requests allowed per minute once the burst is spent; at least 1.
    pub per_minute: u32,
}

/// A keyed token bucket, kept as one time per key (the generic cell rate algorithm): the
/// time at which the key's bucket would be full again.
#[derive(Debug)]
pub struct RateLimiter<K> {
    clock: SharedClock,
    /// Time one token takes to come back.
    interval: Duration,
    /// How far ahead of now a key's "full again" time may be: `(burst - 1) * interval`.
    tolerance: Duration,
    keys: Mutex<Generations<K, Timestamp>>,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// A limiter allowing `rate` per key, tracking at most `max_keys` keys.
    pub fn new(clock: SharedClock, rate: Rate, max_keys: usize) -> Self {
        let interval = Duration::from_secs(60) / rate.per_minute.max(1);
        Self {
            clock,
            interval,
            tolerance: interval * (rate.burst.max(1) - 1),
            keys: Mutex::new(Generations::new(max_keys)),
        }
    }

    /// Takes one token for `key`, or says how long until one is there.
    pub fn check(&self, key: K) -> Result<(), RetryAfter> {
        let now = self.clock.now();
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let full_at = keys.entry(key, || now);
        let start = (*full_at).max(now);
        let allowed_from = start - self.tolerance;
        if allowed_from > now {
            return Err(RetryAfter(allowed_from.since(now)));
        }
        *full_at = start + self.interval;
        Ok(())
    }

    /// How many keys are tracked (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.keys.lock().map(|k| k.len()).unwrap_or(0)
    }
}

/// Settings of a [`Backoff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Failures allowed before the first wait.
    pub free_failures: u32,
    /// The first wait; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest wait. A key whose last failure is this long ago is forgotten.
    pub max_delay: Duration,
}

/// A key's failures since it last succeeded or was forgotten.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Timestamp,
    blocked_until: Timestamp,
}

/// Keyed exponential back-off after failures: once a key has failed more than
/// `free_failures` times, each further failure makes it wait twice as long (up to
/// `max_delay`) before it may try again. A success forgets the key.
#[derive(Debug)]
pub struct Backoff<K> {
    clock: SharedClock,
    policy: BackoffPolicy,
    keys: Mutex<Generations<K, Failures>>,
}

impl<K: Hash + Eq> Backoff<K> {
    /// A back-off following `policy`, tracking at most `max_keys` keys.
    pub fn new(clock: SharedClock, policy: BackoffPolicy, max_keys: usize) -> Self {
        Self {
            clock,
            policy,
            keys: Mutex::new(Generations::new(max_keys)),
        }
    }

    /// The key's failures, unless they are old enough to be forgotten.
    fn live(&self, key: &K, now: Timestamp) -> Option<Failures> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(key)
            .copied()
            .filter(|f| now.since(f.last) < self.policy.max_delay)
    }

    /// `Err` while `key` must wait.
    pub fn check(&self, key: &K) -> Result<(), RetryAfter> {
        let now = self.clock.now();
        match self.live(key, now) {
            Some(f) if f.blocked_until > now => Err(RetryAfter(f.blocked_until.since(now))),
            _ => Ok(()),
        }
    }

    /// Whether `key` has no recent failures at all.
    pub fn is_clean(&self, key: &K) -> bool {
        self.live(key, self.clock.now()).is_none()
    }

    /// Records a failure of `key`; the wait it now has, if any.
    pub fn failure(&self, key: K) -> Option<RetryAfter> {
        let now = self.clock.now();
        let p = self.policy;
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let f = keys.entry(key, || Failures {
            count: 0,
            last: now,
            blocked_until: now,
        });
        if now.since(f.last) >= p.max_delay {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
        let over = f.count.checked_sub(p.free_failures).filter(|n| *n > 0)?;
        let delay = p
            .first_delay
            .checked_mul(1 << (over - 1).min(30))
            .map_or(p.max_delay, |d| d.min(p.max_delay));
        f.blocked_until = now + delay;
        Some(RetryAfter(delay))
    }

    /// Forgets `key`'s failures.
    pub fn success(&self, key: &K) {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// How many keys are tracked (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.keys.lock().map(|k| k.len()).unwrap_or(0)
    }
}

/// CPU-heavy work refused because the queue in front of it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is busy")]
pub struct Busy;

/// A bound on CPU-heavy blocking work (bcrypt, ...): at most `workers` jobs run at once on
/// the blocking pool and at most `queue` more wait; beyond that a job is refused at once
/// ([`Busy`]) instead of queueing without bound, so a flood of such work cannot take over the
/// blocking pool that file I/O shares.
#[derive(Debug)]
pub struct WorkGate {
    admitted: Arc<Semaphore>,
    running: Arc<Semaphore>,
}

impl WorkGate {
    /// A gate running `workers` jobs at once (0: one per core, from
    /// `std::thread::available_parallelism`) with `queue` more waiting.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            workers
        };
        Self {
            admitted: Arc::new(Semaphore::new(workers + queue)),
            running: Arc::new(Semaphore::new(workers)),
        }
    }

    /// Runs `job` on the blocking pool once a worker is free; [`Busy`] when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Busy)?;
        let out = tokio::task::spawn_blocking(move || {
            // Held until the job ends, even if the caller stops waiting.
            let _permits = (admitted, running);
            job()
        })
        .await;
        // A job that panicked is refused work, not a reason to fail the caller's thread.
        out.map_err(|_| Busy)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::clock::ManualClock;

    fn clock() -> Arc<ManualClock> {
        ManualClock::new(Timestamp::from_unix_secs(1_000_000))
    }

    /// A limiter on `c` of `burst` at once then `per_minute`, keeping at most `keys` keys.
    fn limiter<K: Hash + Eq>(
        c: &Arc<ManualClock>,
        burst: u32,
        per_minute: u32,
        keys: usize,
    ) -> RateLimiter<K> {
        RateLimiter::new(c.clone(), Rate { burst, per_minute }, keys)
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(RetryAfter(Duration::ZERO).secs(), 1);
        assert_eq!(RetryAfter(Duration::from_millis(1)).secs(), 1);
        assert_eq!(RetryAfter(Duration::from_secs(2)).secs(), 2);
        assert_eq!(RetryAfter(Duration::from_millis(2001)).secs(), 3);
        let e = RetryAfter(Duration::from_millis(1500)).too_many_requests();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(e.message, "too many requests");
        assert_eq!(
            e.headers,
            vec![(header::RETRY_AFTER, HeaderValue::from(2u64))]
        );
    }

    #[test]
    fn bucket_allows_the_burst_then_the_rate() {
        let c = clock();
        let l = limiter(&c, 3, 60, 100);
        for _ in 0..3 {
            assert_eq!(l.check("a"), Ok(()));
        }
        assert_eq!(l.check("a"), Err(RetryAfter(Duration::from_secs(1))));
        // Another key has its own bucket.
        assert_eq!(l.check("b"), Ok(()));
        c.advance(Duration::from_millis(400));
        assert_eq!(l.check("a"), Err(RetryAfter(Duration::from_millis(600))));
        c.advance(Duration::from_millis(600));
        assert_eq!(l.check("a"), Ok(()));
        assert!(l.check("a").is_err());
        // A long pause refills the bucket, but never beyond the burst.
        c.advance(Duration::from_secs(3600));
        for _ in 0..3 {
            assert_eq!(l.check("a"), Ok(()));
        }
        assert!(l.check("a").is_err());
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_keys() {
        let c = clock();
        let l = limiter(&c, 1, 1, 1000);
        let b = Backoff::new(
            c,
            BackoffPolicy {
                free_failures: 0,
                first_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(60),
            },
            1000,
        );
        l.check(u32::MAX).unwrap();
        b.failure(u32::MAX);
        for k in 0..100_000u32 {
            let _ = l.check(k);
            b.failure(k);
            // The hot key stays tracked while the flood goes on.
            if k % 100 == 0 {
                assert!(l.check(u32::MAX).is_err());
                assert!(b.check(&u32::MAX).is_err());
                b.failure(u32::MAX);
            }
        }
        assert!(l.tracked() <= 1000, "{}", l.tracked());
        assert!(b.tracked() <= 1000, "{}", b.tracked());
    }

    #[test]
    fn backoff_doubles_after_the_free_failures_and_success_forgets() {
        let c = clock();
        let policy = BackoffPolicy {
            free_failures: 2,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
        };
        let b = Backoff::new(c.clone(), policy, 100);
        assert!(b.is_clean(&"a"));
        assert_eq!(b.failure("a"), None);
        assert_eq!(b.failure("a"), None);
        assert!(!b.is_clean(&"a"));
        assert_eq!(b.check(&"a"), Ok(()));
        let delays: Vec<u64> = (0..6)
            .map(|_| b.failure("a").unwrap().0.as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.check(&"a"), Err(RetryAfter(Duration::from_secs(10))));
        assert_eq!(b.check(&"b"), Ok(()));
        c.advance(Duration::from_secs(4));
        assert_eq!(b.check(&"a"), Err(RetryAfter(Duration::from_secs(6))));
        b.success(&"a");
        assert_eq!(b.check(&"a"), Ok(()));
        assert!(b.is_clean(&"a"));
        // Failures long ago are forgotten: the free failures count again.
        b.failure("a");
        b.failure("a");
        assert!(b.failure("a").is_some());
        c.advance(Duration::from_secs(10));
        assert!(b.is_clean(&"a"));
        assert_eq!(b.check(&"a"), Ok(()));
        assert_eq!(b.failure("a"), None);
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_64_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(addr_key(a), addr_key(b));
        assert_ne!(addr_key(a), addr_key(other));
        let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        assert_eq!(addr_key(v4), v4);
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
        assert_eq!(addr_key(mapped), v4);
        assert_eq!(
            addr_key(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        );
    }
}

#[cfg(test)]
mod gate_tests {
    use std::sync::Arc;
    use std::sync::mpsc;

    use super::*;

    #[tokio::test]
    async fn gate_runs_workers_queues_some_and_refuses_the_rest() {
        let gate = Arc::new(WorkGate::new(1, 1));
        let (release, wait) = mpsc::channel::<()>();
        let wait = Arc::new(Mutex::new(wait));
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let w = wait.clone();
        let g = gate.clone();
        let first = tokio::spawn(async move {
            g.run(move || {
                let _ = started_tx.send(());
                w.lock().unwrap().recv().unwrap();
                1
            })
            .await
        });
        started.await.unwrap();
        // One waits for the worker...
        let g = gate.clone();
        let queued = tokio::spawn(async move { g.run(|| 2).await });
        while gate.admitted.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        // ...and the next is refused at once.
        assert_eq!(gate.run(|| 3).await, Err(Busy));
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(1));
        assert_eq!(queued.await.unwrap(), Ok(2));
        assert_eq!(gate.run(|| 4).await, Ok(4));
        assert!(WorkGate::new(0, 0).running.available_permits() >= 1);
    }
}
