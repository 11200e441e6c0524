//! mender-deviceauth
