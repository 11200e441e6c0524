//! mender-testkit
