//! deviceconnect's one integration test binary: store conformance, HTTP behaviour and the
//! websockets, each test on SQLite and on PostgreSQL.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
mod http;
mod store;
mod websocket;
