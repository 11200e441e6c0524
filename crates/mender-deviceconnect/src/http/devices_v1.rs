//! `devices_v1.yaml`: the device's websocket. While it is open the device is connected;
//! frames from the device go to the session they name, frames of sessions go to the device.

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use axum::routing::get;
use mender_core::{ApiError, DeviceId, Identity};

use super::{CLOSE_INVALID, Side, State, close, limited, pump, tenant};
use crate::App;
use crate::app::DeviceConn;

pub(crate) fn routes() -> Router<std::sync::Arc<App>> {
    Router::new().route("/api/devices/v1/deviceconnect/connect", get(connect))
}

async fn connect(s: State, id: Identity, ws: WebSocketUpgrade) -> Result<Response, ApiError> {
    if !id.is_device {
        return Err(ApiError::bad_request(
            "missing or non-device identity in the authorization headers",
        ));
    }
    let (tenant, device) = (tenant(&id), DeviceId::from(id.subject.as_str()));
    let app = s.0;
    Ok(limited(ws).on_upgrade(move |mut socket| async move {
        match app.device_connected(&tenant, &device).await {
            Ok(conn) => {
                let mut side = DeviceSide { app: &app, conn };
                pump(&mut socket, &mut side, app.keepalive()).await;
                if let Err(e) = app.device_disconnected(side.conn).await {
                    tracing::error!(error = %e, "cannot record the device as disconnected");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot record the device as connected");
                close(&mut socket, 1011, "internal error").await;
            }
        }
    }))
}

/// The device's socket: frames from the device go to their sessions, frames of sessions go
/// to the device.
struct DeviceSide<'a> {
    app: &'a App,
    conn: DeviceConn,
}

impl Side for DeviceSide<'_> {
    const ENDED: &'static str = "replaced by a newer connection";

    async fn inbound(&mut self, frame: Vec<u8>) -> Result<(), (u16, &'static str)> {
        self.app.from_device(&self.conn, frame).await.map_err(|e| {
            tracing::debug!(error = %e, "closing a device socket");
            (CLOSE_INVALID, "invalid ProtoMsg")
        })
    }

    async fn outbound(&mut self) -> Option<Vec<u8>> {
        self.conn.recv().await
    }
}
