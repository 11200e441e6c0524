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
        }
    }
}
