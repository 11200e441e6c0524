//! deviceauth integration tests, each on SQLite and on PostgreSQL (`<module>::sqlite::<name>`,
//! `<module>::postgres::<name>`): store conformance and HTTP behaviour.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod abuse;
mod common;
mod http_auth;
mod http_keys;
mod http_mgmt;
mod outbox;
mod store;
