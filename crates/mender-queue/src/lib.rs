//! mender-queue
