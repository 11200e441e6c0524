//! mender-useradm
