//! Test harness: the service on a fresh database of one backend with a manual clock, its
//! routers called in-process, and the same routers served on a local port for websocket
//! clients, each request carrying the caller the gateway would have attached.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use futures::{SinkExt, StreamExt};
use mender_core::clock::ManualClock;
use mender_core::{Identity, Timestamp};
use mender_db::testing::{Backend, TestDb};
use mender_deviceconnect::protocol::{Keepalive, ProtoMsg};
use mender_deviceconnect::{SCHEMA, Service};
use mender_testkit::http::{TestClient, TestResponse};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The internal prefix.
pub const INTERNAL: &str = "/api/internal/v1/deviceconnect";
/// The device's websocket.
pub const DEVICE_CONNECT: &str = "/api/devices/v1/deviceconnect/connect";

/// The management route of device `id`.
pub fn mgmt(id: &str) -> String {
    format!("/api/management/v1/deviceconnect/devices/{id}")
}

/// Where every test clock starts: 2024-01-02T03:04:05.678Z.
pub const START_MS: i64 = 1_704_164_645_678;
/// [`START_MS`] as the API renders it.
pub const START_TEXT: &str = "2024-01-02T03:04:05.678Z";

/// A websocket client.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The header carrying the test caller: `user|device:<tenant>:<subject>`.
const CALLER: &str = "x-test-caller";

/// One service on one backend.
pub struct Env {
    pub clock: Arc<ManualClock>,
    /// The management routes without an identity.
    pub management: TestClient,
    pub internal: TestClient,
    /// Where the management and device routes listen.
    addr: SocketAddr,
    _db: TestDb,
}

pub async fn env(backend: Backend) -> Env {
    env_with(backend, Keepalive::default()).await
}

/// [`env`] with sockets kept alive by `keepalive`.
pub async fn env_with(backend: Backend, keepalive: Keepalive) -> Env {
    let db = backend.open(&SCHEMA).await;
    let clock = ManualClock::new(Timestamp::from_unix_millis(START_MS));
    let svc = Service::with_keepalive(db.db(), clock.clone(), keepalive);
    let r = svc.routers();
    let served = Router::new()
        .merge(r.management.clone())
        .merge(r.devices)
        .layer(middleware::from_fn(caller));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, served).await });
    Env {
        clock,
        management: TestClient::new(r.management),
        internal: TestClient::new(r.internal),
        addr,
        _db: db,
    }
}

/// Attaches the caller named by [`CALLER`], as the gateway attaches the token's.
async fn caller(mut req: Request, next: Next) -> axum::response::Response {
    let named = req
        .headers()
        .get(CALLER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(c) = named {
        let mut parts = c.splitn(3, ':');
        let (kind, tenant, subject) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        req.extensions_mut().insert(Identity {
            subject: subject.into(),
            tenant: tenant.into(),
            is_user: kind == "user",
            is_device: kind == "device",
            ..Identity::default()
        });
    }
    next.run(req).await
}

impl Env {
    /// User `user-1` of `tenant`'s client of the management routes.
    pub fn user(&self, tenant: &str) -> TestClient {
        self.management.as_identity(Identity {
            subject: "user-1".into(),
            tenant: tenant.into(),
            is_user: true,
            ..Identity::default()
        })
    }

    /// Opens a websocket to `path` as `caller` (`user|device:<tenant>:<subject>`); the HTTP
    /// status and body when the server refuses the upgrade.
    pub async fn socket(&self, path: &str, caller: &str) -> Result<Ws, (u16, String)> {
        let mut req = format!("ws://{}{path}", self.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut().insert(CALLER, caller.parse().unwrap());
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => Ok(ws),
            Err(WsError::Http(resp)) => {
                let body = resp.body().clone().unwrap_or_default();
                Err((
                    resp.status().as_u16(),
                    String::from_utf8_lossy(&body).into_owned(),
                ))
            }
            Err(e) => panic!("websocket to {path}: {e}"),
        }
    }

    /// Device `id` of `tenant` connected.
    pub async fn device(&self, tenant: &str, id: &str) -> Ws {
        self.socket(DEVICE_CONNECT, &format!("device:{tenant}:{id}"))
            .await
            .unwrap()
    }

    /// User `user` of `tenant` connected to device `id`.
    pub async fn session(&self, tenant: &str, user: &str, id: &str) -> Ws {
        self.socket(
            &format!("{}/connect", mgmt(id)),
            &format!("user:{tenant}:{user}"),
        )
        .await
        .unwrap()
    }

    /// The device's status as the management API shows it to a user of `tenant`.
    pub async fn status(&self, tenant: &str, id: &str) -> TestResponse {
        self.user(tenant).get(&mgmt(id)).send().await
    }

    /// Provisions device `id` in `tenant`, as the workflow does.
    pub async fn provision_in(&self, tenant: &str, id: &str) -> TestResponse {
        self.internal
            .post(&format!("{INTERNAL}/tenants/{tenant}/devices"))
            .json(&serde_json::json!({ "device_id": id }))
            .send()
            .await
    }
}

/// Sends one binary frame.
pub async fn send(ws: &mut Ws, frame: Vec<u8>) {
    ws.send(Message::Binary(frame.into())).await.unwrap();
}

/// The next data frame as a `ProtoMsg`; panics on anything else.
pub async fn recv(ws: &mut Ws) -> ProtoMsg {
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => return ProtoMsg::decode(&b).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

/// Reads until the server closes; its close frame.
pub async fn closed(ws: &mut Ws) -> Option<CloseFrame> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Close(f))) => return f,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

impl Env {
    /// Waits until the management API shows the device as `status` (the socket's task
    /// records it just after the handshake).
    pub async fn wait_status(&self, tenant: &str, id: &str, status: &str) {
        loop {
            let r = self.status(tenant, id).await;
            if r.status == 200 && r.json()["status"] == status {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

impl Env {
    /// Opens a websocket to `path` as `caller` by hand and sends only the header of a frame
    /// one byte over the limit; the close code the server answers with. (A client that sent
    /// the whole frame would race the server's close against its own writing.)
    pub async fn oversize_close_code(&self, path: &str, caller: &str) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = TcpStream::connect(self.addr).await.unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             {CALLER}: {caller}\r\n\r\n",
            self.addr
        );
        tcp.write_all(req.as_bytes()).await.unwrap();
        // The 101 answer, up to its blank line.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(tcp.read_u8().await.unwrap());
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        // A final binary frame, masked, with a 64-bit length, and its mask key.
        let len = u64::try_from(mender_deviceconnect::protocol::MESSAGE_SIZE_LIMIT + 1).unwrap();
        let mut frame = vec![0x82, 0x80 | 127];
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&[1, 2, 3, 4]);
        tcp.write_all(&frame).await.unwrap();
        // The server's close frame: opcode 8, a short unmasked payload starting with the code.
        let mut close = [0u8; 4];
        tcp.read_exact(&mut close).await.unwrap();
        assert_eq!(close[0], 0x88, "{close:?}");
        u16::from_be_bytes([close[2], close[3]])
    }
}
