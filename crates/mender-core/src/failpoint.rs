//! Failpoints: named places where a test can make the real server process die, to prove that
//! what was committed before that place survives a crash and is finished after a restart.
//!
//! A failpoint is armed only by the environment variable `MENDER_FAILPOINT` naming it (read
//! once); unarmed, [`hit`] is one comparison. The process ends with `std::process::abort`:
//! like `kill -9` or a power cut it runs no destructors, flushes nothing and lets no other task
//! take another step, which is the crash the tests are about (a graceful `exit` would let
//! the runtime finish work and hide the window).

use std::sync::OnceLock;

/// The environment variable that arms a failpoint.
pub const ENV: &str = "MENDER_FAILPOINT";

/// The armed failpoint, if any.
fn armed() -> Option<&'static str> {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED
        .get_or_init(|| std::env::var(ENV).ok().filter(|v| !v.is_empty()))
        .as_deref()
}

/// Aborts the process when failpoint `name` is armed; otherwise does nothing.
pub fn hit(name: &str) {
    if armed() == Some(name) {
        eprintln!("failpoint {name}: aborting the process");
        std::process::abort();
    }
}

/// Aborts the process when failpoint `name` is armed, or `name:detail` is (to crash at one
/// occurrence of a place that runs for many things, such as one workflow of several).
pub fn hit_at(name: &str, detail: &str) {
    if let Some(armed) = armed()
        && (armed == name
            || armed
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(':'))
                == Some(detail))
    {
        eprintln!("failpoint {armed}: aborting the process");
        std::process::abort();
    }
}
