//! mender-inventory
