//! deviceauth integration tests, each on SQLite and on PostgreSQL (`<module>::sqlite::<name>`,
//! `<module>::postgres::<name>`): store conformance and HTTP behaviour.

mod common;
mod http_auth;
mod http_mgmt;
mod store;
