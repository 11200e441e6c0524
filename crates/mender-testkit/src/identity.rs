//! Callers as the gateway attaches them to requests ([`Identity`]), for tests that call a
//! service's routers directly with [`TestClient::as_identity`](crate::TestClient::as_identity).

use mender_core::Identity;

/// User `subject` of the default tenant.
pub fn user(subject: &str) -> Identity {
    Identity {
        subject: subject.into(),
        is_user: true,
        ..Identity::default()
    }
}

/// Device `id` of the default tenant.
pub fn device(id: &str) -> Identity {
    Identity {
        subject: id.into(),
        is_device: true,
        ..Identity::default()
    }
}
