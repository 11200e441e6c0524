//! Time: [`Timestamp`], the one representation of a point in time inside the services, and
//! [`Clock`], where it comes from. Stores and renderings convert at their boundary (unix
//! seconds, milliseconds or nanoseconds in a column; RFC 3339 on the wire); business logic
//! asks an injected clock, so tests can move time instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time (UTC) with microsecond precision: what every backend stores exactly and
/// what upstream's APIs render.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

const MICROS_PER_SEC: i64 = 1_000_000;

impl Timestamp {
    /// The unix epoch.
    pub const EPOCH: Self = Self(0);

    /// From unix seconds.
    pub fn from_unix_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(MICROS_PER_SEC))
    }

    /// From unix milliseconds.
    pub fn from_unix_millis(ms: i64) -> Self {
        Self(ms.saturating_mul(1000))
    }

    /// From unix microseconds.
    pub fn from_unix_micros(us: i64) -> Self {
        Self(us)
    }

    /// From unix nanoseconds, truncated to microseconds.
    pub fn from_unix_nanos(ns: i64) -> Self {
        Self(ns.div_euclid(1000))
    }

    /// Whole unix seconds (rounded down).
    pub fn unix_secs(self) -> i64 {
        self.0.div_euclid(MICROS_PER_SEC)
    }

    /// Unix milliseconds (rounded down).
    pub fn unix_millis(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Unix microseconds.
    pub fn unix_micros(self) -> i64 {
        self.0
    }

    /// Unix nanoseconds (saturating far from the epoch).
    pub fn unix_nanos(self) -> i64 {
        self.0.saturating_mul(1000)
    }

    /// This time, truncated to whole seconds (for stores and tokens that keep seconds).
    pub fn trunc_secs(self) -> Self {
        Self::from_unix_secs(self.unix_secs())
    }

    /// How long after `earlier` this is; zero if it is not later.
    pub fn since(self, earlier: Self) -> Duration {
        Duration::from_micros(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// As a `time` date-time in UTC.
    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// From a `time` date-time, truncated to microseconds.
    pub fn from_datetime(t: OffsetDateTime) -> Self {
        let us = t.unix_timestamp_nanos().div_euclid(1000);
        Self(i64::try_from(us).unwrap_or(if us < 0 { i64::MIN } else { i64::MAX }))
    }

    /// RFC 3339 in UTC the way Go's `time.RFC3339Nano` prints it (upstream's JSON): the
    /// fraction without trailing zeros, none at all for whole seconds.
    pub fn to_rfc3339(self) -> String {
        // `time`'s well-known Rfc3339 formatter already trims trailing zeros and prints `Z`.
        self.to_datetime().format(&Rfc3339).unwrap_or_default()
    }

    /// Parses RFC 3339 (any offset); the fraction beyond microseconds is dropped.
    pub fn parse_rfc3339(s: &str) -> Result<Self, time::error::Parse> {
        OffsetDateTime::parse(s, &Rfc3339).map(Self::from_datetime)
    }
}

/// `d` in whole microseconds, `i64::MAX` when it is longer.
fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// `t + d`: later by `d`, saturating far from the epoch.
impl std::ops::Add<Duration> for Timestamp {
    type Output = Self;
    fn add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(micros(d)))
    }
}

/// `t - d`: earlier by `d`, saturating far from the epoch.
impl std::ops::Sub<Duration> for Timestamp {
    type Output = Self;
    fn sub(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(micros(d)))
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Self::from_datetime(t)
    }
}

impl From<Timestamp> for OffsetDateTime {
    fn from(t: Timestamp) -> Self {
        t.to_datetime()
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// Where the time comes from. Services hold a [`SharedClock`]; production passes
/// [`SystemClock`], tests a [`ManualClock`] they move by hand.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// A clock shared by everything in one service.
pub type SharedClock = Arc<dyn Clock>;

/// The system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(OffsetDateTime::now_utc())
    }
}

/// The system clock as a [`SharedClock`].
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that stands still until told to move: for tests of leases, expiry and retries.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(start.0)))
    }

    /// A clock standing at the current system time.
    pub fn starting_now() -> Arc<Self> {
        Self::new(SystemClock.now())
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let us = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        self.0.fetch_add(us, Ordering::SeqCst);
    }

    /// Sets the clock to `t`.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip() {
        let t = Timestamp::from_unix_nanos(1_700_000_000_123_456_789);
        assert_eq!(t.unix_micros(), 1_700_000_000_123_456);
        assert_eq!(t.unix_millis(), 1_700_000_000_123);
        assert_eq!(t.unix_secs(), 1_700_000_000);
        assert_eq!(t.unix_nanos(), 1_700_000_000_123_456_000);
        assert_eq!(t.to_rfc3339(), "2023-11-14T22:13:20.123456Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
        assert_eq!(t.trunc_secs().to_rfc3339(), "2023-11-14T22:13:20Z");
        assert_eq!(
            Timestamp::parse_rfc3339("2023-11-14T23:13:20.5+01:00").unwrap(),
            Timestamp::from_unix_millis(1_700_000_000_500)
        );
        assert_eq!(Timestamp::from_unix_secs(-1).unix_secs(), -1);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2023-11-14T22:13:20.123456Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Timestamp::from_unix_secs(100));
        assert_eq!(c.now().unix_secs(), 100);
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.now().unix_millis(), 101_500);
        assert_eq!(
            c.now().since(Timestamp::from_unix_secs(100)),
            Duration::from_millis(1500)
        );
        assert_eq!(
            c.now() - Duration::from_secs(1) + Duration::from_millis(500),
            Timestamp::from_unix_secs(101)
        );
        c.set(Timestamp::EPOCH);
        assert_eq!(c.now(), Timestamp::EPOCH);
    }
}
