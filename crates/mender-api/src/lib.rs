//! Wire types and client traits that cross service boundaries.
//!
//! Services never depend on each other: when one needs another (deviceauth starting a
//! workflow, a workflow calling inventory), it calls a trait from this crate, and the
//! `mender-server` composition root plugs in the implementation (in-process in one-process
//! mode, HTTP when services run apart).

pub mod deployments;
pub mod devices;
pub mod inventory;
#[cfg(feature = "testing")]
pub mod testing;
pub mod workflows;
