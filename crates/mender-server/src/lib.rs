//! mender-server
