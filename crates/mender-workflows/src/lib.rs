//! mender-workflows
