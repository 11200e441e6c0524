//! The inventory's integration tests, one binary: the store conformance suite and the HTTP
//! APIs, every test once per backend (`<module>::sqlite::<name>`, `<module>::postgres::<name>`).

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
mod gateway;
mod http_attributes;
mod http_devices;
mod http_groups;
mod http_identities;
mod http_internal;
mod http_management;
mod http_search;
mod http_statistics;
mod store;
