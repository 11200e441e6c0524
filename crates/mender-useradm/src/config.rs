//! `UseradmConfig`: the `[useradm]` section of the server configuration, with upstream's defaults.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// useradm settings; every field has upstream's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UseradmConfig {
    /// `iss` claim of issued user tokens.
    pub jwt_issuer: String,
    /// Lifetime of login tokens in seconds.
    pub jwt_exp_timeout: u64,
    /// How many login tokens a user keeps; older ones are revoked at login (0 = no limit).
    pub limit_sessions_per_user: u32,
    /// How many personal access tokens a user may hold (0 = no limit).
    pub limit_tokens_per_user: u32,
    /// Largest `expires_in` a personal access token may ask for, in seconds.
    pub token_max_expiration_seconds: u64,
    /// A personal access token's `last_used` is refreshed at most this often (0 = never).
    pub token_last_used_update_freq_minutes: u64,
    /// bcrypt cost of new password hashes (4..=31).
    pub bcrypt_cost: u32,
    /// The private key that signs new tokens; by default `private.pem` in the key directory,
    /// else the key with the highest id there.
    pub private_key: Option<PathBuf>,
    /// Failed logins allowed per client address and per account before logins back off.
    pub login_free_failures: u32,
    /// Longest login back-off in seconds; each failure beyond the free ones doubles the wait
    /// (1 s, 2 s, 4 s, ...) up to this, and failures this old are forgotten (0 = no throttle).
    pub login_max_backoff_seconds: u64,
    /// Client addresses and accounts the login throttle remembers at most (memory bound).
    pub login_tracked_keys: usize,
    /// bcrypt computations running at once (0 = one per CPU core).
    pub bcrypt_workers: usize,
    /// bcrypt computations waiting for a worker at most; beyond that a login (or password
    /// change) is answered 503 with `Retry-After` instead of queueing.
    pub bcrypt_queue: usize,
}

impl UseradmConfig {
    /// Checks the settings; the error says what to fix.
    pub fn validate(&self) -> Result<(), String> {
        if !(4..=31).contains(&self.bcrypt_cost) {
            return Err("useradm.bcrypt_cost must be between 4 and 31".into());
        }
        if self.login_max_backoff_seconds > 0 && self.login_tracked_keys < 2 {
            return Err(
                "useradm.login_tracked_keys must be at least 2 while the login throttle is on \
                 (login_max_backoff_seconds > 0)"
                    .into(),
            );
        }
        Ok(())
    }
}

impl Default for UseradmConfig {
    fn default() -> Self {
        Self {
            jwt_issuer: "mender.useradm".into(),
            jwt_exp_timeout: 604_800,
            limit_sessions_per_user: 10,
            limit_tokens_per_user: 10,
            token_max_expiration_seconds: 31_536_000,
            token_last_used_update_freq_minutes: 5,
            bcrypt_cost: 10,
            private_key: None,
            login_free_failures: 5,
            login_max_backoff_seconds: 900,
            login_tracked_keys: 100_000,
            bcrypt_workers: 0,
            bcrypt_queue: 64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_explains_what_to_fix() {
        assert_eq!(UseradmConfig::default().validate(), Ok(()));
        let c = UseradmConfig {
            bcrypt_cost: 3,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().contains("bcrypt_cost"));
        let c = UseradmConfig {
            login_tracked_keys: 0,
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().contains("login_tracked_keys"));
        let c = UseradmConfig {
            login_tracked_keys: 0,
            login_max_backoff_seconds: 0,
            ..Default::default()
        };
        assert_eq!(c.validate(), Ok(()));
    }
}
