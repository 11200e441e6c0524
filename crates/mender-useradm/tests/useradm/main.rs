//! useradm integration tests: store conformance and HTTP behaviour, on SQLite and PostgreSQL.

mod common;
mod hostile;
mod http_internal;
mod http_management;
mod keys;
mod store;
