//! The deviceconnect logic, named after upstream's operations: provisioning and
//! decommissioning devices, a device connecting and disconnecting, and users' sessions to a
//! connected device, whose frames it routes through the [`Hub`]. Knows no HTTP.

use std::sync::Arc;

use mender_core::{DeviceId, SharedClock, TenantId, UserId};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::hub::{DeviceLink, Frame, Hub, Sessions};
use crate::model::{Device, Status};
use crate::protocol::{
    Keepalive, PROTO_MENDER_CLIENT, PROTO_SHELL, ProtoError, ProtoMsg, TYPE_NEW, TYPE_STOP,
};
use crate::store::{DeviceConnectStore, StoreError};

/// The deviceconnect service's operations.
pub struct App {
    store: Arc<dyn DeviceConnectStore>,
    clock: SharedClock,
    hub: Arc<Hub>,
    keepalive: Keepalive,
    /// Serialises status changes, so that an old socket's `disconnected` never lands after
    /// a newer socket's `connected`.
    transitions: tokio::sync::Mutex<()>,
}

/// A command for the mender-client on a device (protocol 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenderCommand {
    /// Check for an update now.
    CheckUpdate,
    /// Send the inventory now.
    SendInventory,
}

impl MenderCommand {
    /// The message type.
    pub fn as_str(self) -> &'static str {
        match self {
            MenderCommand::CheckUpdate => "check-update",
            MenderCommand::SendInventory => "send-inventory",
        }
    }
}

/// A device's socket, registered by [`App::device_connected`].
#[derive(Debug)]
pub struct DeviceConn {
    tenant: TenantId,
    device: DeviceId,
    link: DeviceLink,
}

impl DeviceConn {
    /// The next frame for the device; `None` once a newer connection replaced this one.
    pub async fn recv(&mut self) -> Option<Frame> {
        self.link.rx.recv().await
    }
}

/// A user's session to a device, opened by [`App::open_session`]; dropping it closes the
/// session (and stops a terminal the user left open).
#[derive(Debug)]
pub struct Session {
    tenant: TenantId,
    device: DeviceId,
    user: UserId,
    id: String,
    to_device: mpsc::Sender<Frame>,
    rx: mpsc::Receiver<Frame>,
    shell_open: bool,
    hub: Arc<Hub>,
}

/// Why a user's frame was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The frame is not a `ProtoMsg`.
    #[error(transparent)]
    Proto(#[from] ProtoError),
    /// The device's socket is gone.
    #[error("device disconnected")]
    DeviceGone,
}

impl Session {
    /// The session id (a UUID), stamped on every frame to the device.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The next frame for the user; `None` once the device went away.
    pub async fn recv(&mut self) -> Option<Frame> {
        self.rx.recv().await
    }

    /// Sends one of the user's frames to the device, stamped with the session and the user.
    pub async fn send(&mut self, frame: &[u8]) -> Result<(), RouteError> {
        let mut msg = ProtoMsg::decode(frame)?;
        msg.stamp(&self.id, self.user.as_str());
        if msg.proto() == PROTO_SHELL {
            match msg.typ() {
                TYPE_NEW => self.shell_open = true,
                TYPE_STOP => self.shell_open = false,
                _ => {}
            }
        }
        self.to_device
            .send(msg.encode())
            .await
            .map_err(|_| RouteError::DeviceGone)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.hub.close(&self.tenant, &self.device, &self.id);
        if self.shell_open {
            let stop =
                ProtoMsg::shell_stop(&self.id, Some(self.user.as_str()), "user disconnected");
            // Best effort, as upstream: a full queue means the device is not reading anyway.
            let _ = self.to_device.try_send(stop.encode());
        }
    }
}

/// Tells each session that its device's socket ended (best effort: a full queue means the
/// user is not reading); dropping the senders then ends the users' sockets.
fn goodbye(sessions: Sessions) {
    for (sid, tx) in sessions {
        let _ = tx.try_send(ProtoMsg::shell_stop(&sid, None, "device disconnected").encode());
    }
}

impl App {
    /// The logic over `store`, reading the time from `clock`; sockets are kept alive with
    /// `keepalive`.
    pub fn new(
        store: Arc<dyn DeviceConnectStore>,
        clock: SharedClock,
        keepalive: Keepalive,
    ) -> Self {
        Self {
            store,
            clock,
            hub: Arc::new(Hub::default()),
            keepalive,
            transitions: tokio::sync::Mutex::new(()),
        }
    }

    /// How sockets are kept alive.
    pub fn keepalive(&self) -> Keepalive {
        self.keepalive
    }

    /// Whether the database answers (upstream `HealthCheck`).
    pub async fn health_check(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    /// Deletes every record of a tenant (upstream `DeleteTenant`).
    pub async fn delete_tenant(&self, tenant: &TenantId) -> Result<()> {
        let n = self.store.delete_tenant(tenant).await?;
        tracing::info!(tenant = %tenant, devices = n, "tenant's device connections deleted");
        Ok(())
    }

    /// Records a newly accepted device as disconnected (upstream `ProvisionDevice`).
    pub async fn provision_device(&self, tenant: &TenantId, device: &DeviceId) -> Result<()> {
        if device.is_empty() {
            return Err(Error::Invalid("device_id: cannot be blank.".into()));
        }
        let now = self.clock.now();
        Ok(self.store.provision_device(tenant, device, now).await?)
    }

    /// Forgets a decommissioned device (upstream `DeleteDevice`); [`Error::DeviceNotFound`]
    /// when it has no record.
    pub async fn decommission_device(&self, tenant: &TenantId, device: &DeviceId) -> Result<()> {
        match self.store.delete_device(tenant, device).await {
            Err(StoreError::NotFound) => Err(Error::DeviceNotFound),
            r => Ok(r?),
        }
    }

    /// The device's connection record (upstream `GetDevice`).
    pub async fn device(&self, tenant: &TenantId, device: &DeviceId) -> Result<Device> {
        self.store
            .device(tenant, device)
            .await?
            .ok_or(Error::DeviceNotFound)
    }

    /// Registers the device's new socket and records it as connected; a previous socket of
    /// the same device ends.
    pub async fn device_connected(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
    ) -> Result<DeviceConn> {
        let _t = self.transitions.lock().await;
        let (link, replaced) = self.hub.attach(tenant, device);
        goodbye(replaced);
        let now = self.clock.now();
        self.store
            .set_status(tenant, device, Status::Connected, now)
            .await?;
        tracing::info!(tenant = %tenant, device = %device, "device connected");
        Ok(DeviceConn {
            tenant: tenant.clone(),
            device: device.clone(),
            link,
        })
    }

    /// The device's socket `conn` ended: unless a newer one replaced it, the device is
    /// disconnected and each open session is told so and closed.
    pub async fn device_disconnected(&self, conn: DeviceConn) -> Result<()> {
        let _t = self.transitions.lock().await;
        let Some(sessions) = self.hub.detach(&conn.tenant, &conn.device, conn.link.conn) else {
            return Ok(());
        };
        goodbye(sessions);
        let now = self.clock.now();
        tracing::info!(tenant = %conn.tenant, device = %conn.device, "device disconnected");
        Ok(self
            .store
            .set_status(&conn.tenant, &conn.device, Status::Disconnected, now)
            .await?)
    }

    /// Routes one frame from the device to the session it names. A frame for a session
    /// that is gone is dropped; a shell frame without a session is a protocol error.
    pub async fn from_device(&self, conn: &DeviceConn, frame: Vec<u8>) -> Result<(), ProtoError> {
        let msg = ProtoMsg::decode(&frame)?;
        if msg.sid().is_empty() {
            return if msg.proto() == PROTO_SHELL {
                Err(ProtoError::NoSession)
            } else {
                Ok(())
            };
        }
        if let Some(tx) = self.hub.session(&conn.tenant, &conn.device, msg.sid()) {
            // A user that went away meanwhile is no error of the device's.
            let _ = tx.send(frame).await;
        }
        Ok(())
    }

    /// Sends a mender-client command (`check-update` or `send-inventory`, protocol 4) to the
    /// device on behalf of `user`, if any (upstream `sendMenderCommand`): the device must be
    /// known ([`Error::DeviceNotFound`]) and connected ([`Error::NotConnected`]).
    pub async fn send_mender_command(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        user: Option<&UserId>,
        command: MenderCommand,
    ) -> Result<()> {
        let d = self.device(tenant, device).await?;
        if d.status != Status::Connected {
            return Err(Error::NotConnected);
        }
        let tx = self.hub.device(tenant, device).ok_or(Error::NotConnected)?;
        let props = user
            .map(|u| vec![("user_id", rmpv::Value::from(u.as_str()))])
            .unwrap_or_default();
        let msg = ProtoMsg::new(PROTO_MENDER_CLIENT, command.as_str(), "", props, b"");
        tx.send(msg.encode()).await.map_err(|_| Error::NotConnected)
    }

    /// Opens a session of `user` to the device (upstream `PrepareUserSession`): the device
    /// must be known and connected.
    pub async fn open_session(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        user: &UserId,
    ) -> Result<Session> {
        let d = self.device(tenant, device).await?;
        if d.status != Status::Connected {
            return Err(Error::DeviceNotConnected);
        }
        let id = uuid::Uuid::new_v4().to_string();
        let link = self
            .hub
            .open(tenant, device, &id)
            .ok_or(Error::DeviceGone)?;
        tracing::info!(tenant = %tenant, device = %device, user = %user, session = %id, "session opened");
        Ok(Session {
            tenant: tenant.clone(),
            device: device.clone(),
            user: user.clone(),
            id,
            to_device: link.to_device,
            rx: link.rx,
            shell_open: false,
            hub: self.hub.clone(),
        })
    }
}
