//! mender-gateway
