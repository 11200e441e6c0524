//! The inventory's integration tests, one binary: the store conformance suite and the HTTP
//! APIs, every test once per backend (`<module>::sqlite::<name>`, `<module>::postgres::<name>`).

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
mod http_devices;
mod http_groups;
mod http_internal;
mod http_management;
mod http_search;
mod store;
