//! Integration tests of the workflows service: store conformance, engine runs and the REST
//! API on both backends, the network dispatcher, and parsing upstream's definition files.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod common;
mod definitions;
mod dispatch;
mod engine;
mod http_internal_v1;
mod store;
