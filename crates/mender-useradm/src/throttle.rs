//! [`LoginThrottle`]: who may try a password now. Failed logins back off per client address
//! and per account; the account's back-off applies only to addresses that have failed
//! recently themselves, so a flood against an account from some addresses cannot lock its
//! owner out from another.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::time::Duration;

use mender_core::SharedClock;
use mender_core::limit::{Backoff, BackoffPolicy, RetryAfter, addr_key};

use crate::config::UseradmConfig;

/// The first wait after the free failures; each further failure doubles it.
const FIRST_DELAY: Duration = Duration::from_secs(1);

/// Login back-off per client address and per account.
#[derive(Debug)]
pub struct LoginThrottle {
    by_addr: Backoff<IpAddr>,
    /// Keyed by a hash of the normalised email, so that hostile emails of any length cost
    /// the same memory; the hasher is seeded per process, so collisions cannot be aimed.
    by_account: Backoff<u64>,
    hasher: std::collections::hash_map::RandomState,
    enabled: bool,
}

impl LoginThrottle {
    /// The throttle the configuration asks for (off when `login_max_backoff_seconds` is 0).
    pub fn new(clock: SharedClock, config: &UseradmConfig) -> Self {
        let policy = BackoffPolicy {
            free_failures: config.login_free_failures,
            first_delay: FIRST_DELAY,
            max_delay: Duration::from_secs(config.login_max_backoff_seconds),
        };
        let keys = config.login_tracked_keys;
        Self {
            by_addr: Backoff::new(clock.clone(), policy, keys),
            by_account: Backoff::new(clock, policy, keys),
            hasher: Default::default(),
            enabled: config.login_max_backoff_seconds > 0,
        }
    }

    fn account(&self, email: &str) -> u64 {
        self.hasher.hash_one(email)
    }

    /// `Err` with the wait when a login for `email` from `from` must not be tried now.
    pub fn check(&self, from: IpAddr, email: &str) -> Result<(), RetryAfter> {
        if !self.enabled {
            return Ok(());
        }
        let addr = addr_key(from);
        self.by_addr.check(&addr)?;
        match self.by_account.check(&self.account(email)) {
            Err(wait) if !self.by_addr.is_clean(&addr) => Err(wait),
            _ => Ok(()),
        }
    }

    /// Records a failed login.
    pub fn failed(&self, from: IpAddr, email: &str) {
        if self.enabled {
            self.by_addr.failure(addr_key(from));
            self.by_account.failure(self.account(email));
        }
    }

    /// Records a successful login: the address and the account start afresh.
    pub fn succeeded(&self, from: IpAddr, email: &str) {
        if self.enabled {
            self.by_addr.success(&addr_key(from));
            self.by_account.success(&self.account(email));
        }
    }
}
