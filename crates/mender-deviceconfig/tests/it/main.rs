//! deviceconfig's one integration test binary: store conformance and HTTP behaviour, each
//! test on SQLite and on PostgreSQL.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
mod http_devices;
mod http_internal;
mod http_management;
mod store;
