//! deviceauth integration tests: store conformance and HTTP behaviour, on SQLite and PostgreSQL.

mod common;
mod http_auth;
mod http_mgmt;
mod store;
