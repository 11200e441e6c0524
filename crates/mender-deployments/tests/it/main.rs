//! The deployments integration tests, one binary: the store conformance suite and the HTTP
//! behaviour, each test once per backend (`<module>::sqlite::<name>`,
//! `<module>::postgres::<name>`).

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
mod http_api;
mod http_artifact_safety;
mod http_compat;
mod http_configuration;
mod http_variants;
mod store;
