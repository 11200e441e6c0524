//! Integration tests of the workflows service: store conformance and engine runs on both
//! backends, the REST API, and parsing upstream's definition files.

mod api;
mod common;
mod definitions;
mod dispatch;
mod engine;
mod store;
