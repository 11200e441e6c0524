//! The two websockets: a device's socket marks it connected, a user's session reaches it,
//! and frames go both ways stamped with the session; broken input closes only the socket
//! that sent it.

use std::time::Duration;

use axum::http::StatusCode;
use futures::{SinkExt, StreamExt};
use mender_db::testing::Backend;
use mender_deviceconnect::protocol::{Keepalive, MESSAGE_SIZE_LIMIT, ProtoMsg};
use rmpv::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{
    DEVICE_CONNECT, INTERNAL, START_TEXT, Ws, closed, env, env_with, mgmt, recv, send,
};

fn shell(typ: &str, sid: &str, body: &[u8]) -> Vec<u8> {
    ProtoMsg::new(1, typ, sid, vec![], body).encode()
}

/// The close code the server ended `ws` with.
async fn close_code(ws: &mut Ws) -> u16 {
    closed(ws).await.map(|f| f.code.into()).unwrap_or_default()
}

async fn a_terminal_session_goes_both_ways(backend: Backend) {
    let e = env(backend).await;
    let mut dev = e.device("", "dev-1").await;
    e.wait_status("", "dev-1", "connected").await;
    let mut user = e.session("", "user-1", "dev-1").await;

    // The user's frames reach the device with the session and the user stamped on them,
    // whatever session id the user wrote.
    send(&mut user, shell("new", "forged", b"")).await;
    let got = recv(&mut dev).await;
    let sid = got.sid().to_owned();
    assert_ne!(sid, "forged");
    assert_eq!(uuid::Uuid::parse_str(&sid).unwrap().get_version_num(), 4);
    assert_eq!((got.proto(), got.typ()), (1, "new"));
    assert_eq!(got.prop("user_id").and_then(Value::as_str), Some("user-1"));

    // A frame for a session nobody has is dropped; the device's own frames reach the user.
    send(&mut dev, shell("shell", "no-such-session", b"lost")).await;
    send(&mut dev, shell("shell", &sid, b"hello\n")).await;
    let got = recv(&mut user).await;
    assert_eq!(
        (got.typ(), got.sid(), got.body()),
        ("shell", sid.as_str(), &b"hello\n"[..])
    );

    // Other protocols pass through as they are (mender-connect answers what it lacks).
    send(
        &mut user,
        ProtoMsg::new(42, "what", "", vec![], b"x").encode(),
    )
    .await;
    let got = recv(&mut dev).await;
    assert_eq!(
        (got.proto(), got.typ(), got.sid()),
        (42, "what", sid.as_str())
    );

    // The user leaves with the terminal open: the device is told to stop it.
    user.close(None).await.unwrap();
    let got = recv(&mut dev).await;
    assert_eq!(
        (got.typ(), got.sid(), got.body()),
        ("stop", sid.as_str(), &b"user disconnected"[..])
    );

    e.clock.advance(Duration::from_secs(1));
    dev.close(None).await.unwrap();
    e.wait_status("", "dev-1", "disconnected").await;
    let view = e.status("", "dev-1").await.json();
    assert_eq!(
        (&view["created_ts"], &view["updated_ts"]),
        (&START_TEXT.into(), &"2024-01-02T03:04:06.678Z".into())
    );
}

async fn a_device_that_leaves_ends_its_sessions(backend: Backend) {
    let e = env(backend).await;
    let mut dev = e.device("t1", "dev-1").await;
    e.wait_status("t1", "dev-1", "connected").await;
    let mut user = e.session("t1", "user-1", "dev-1").await;
    send(&mut user, shell("new", "", b"")).await;
    let sid = recv(&mut dev).await.sid().to_owned();
    dev.close(None).await.unwrap();
    let got = recv(&mut user).await;
    assert_eq!(
        (got.typ(), got.sid(), got.body()),
        ("stop", sid.as_str(), &b"device disconnected"[..])
    );
    assert_eq!(close_code(&mut user).await, 1000);
    e.wait_status("t1", "dev-1", "disconnected").await;
    // Now there is nothing to connect to.
    let (status, body) = e
        .socket(&format!("{}/connect", mgmt("dev-1")), "user:t1:user-1")
        .await
        .unwrap_err();
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("device not connected"), "{body}");
}

async fn a_newer_device_socket_replaces_the_older(backend: Backend) {
    let e = env(backend).await;
    let mut old = e.device("", "dev-1").await;
    e.wait_status("", "dev-1", "connected").await;
    let mut before = e.session("", "user-1", "dev-1").await;
    send(&mut before, shell("new", "", b"")).await;
    let sid = recv(&mut old).await.sid().to_owned();
    let mut new = e.device("", "dev-1").await;
    assert_eq!(close_code(&mut old).await, 1000);
    // A session to the old socket is told and ended.
    let got = recv(&mut before).await;
    assert_eq!((got.typ(), got.sid()), ("stop", sid.as_str()));
    assert_eq!(close_code(&mut before).await, 1000);
    // The old socket's end does not mark the device disconnected; the new one works.
    let mut user = e.session("", "user-1", "dev-1").await;
    send(&mut user, shell("new", "", b"")).await;
    assert_eq!(recv(&mut new).await.typ(), "new");
    assert_eq!(e.status("", "dev-1").await.json()["status"], "connected");
}

async fn broken_user_frames_close_only_that_session(backend: Backend) {
    let e = env(backend).await;
    let mut dev = e.device("", "dev-1").await;
    e.wait_status("", "dev-1", "connected").await;
    let mut good = e.session("", "user-1", "dev-1").await;
    for (frame, code) in [
        (Message::Binary(vec![0xc1].into()), 1007),
        (Message::Binary(vec![0x01].into()), 1007),
        (Message::Text("{}".into()), 1003),
    ] {
        let mut bad = e.session("", "user-2", "dev-1").await;
        bad.send(frame).await.unwrap();
        assert_eq!(close_code(&mut bad).await, code);
    }
    // A frame over the limit, on either socket.
    let connect = format!("{}/connect", mgmt("dev-1"));
    assert_eq!(e.oversize_close_code(&connect, "user::user-2").await, 1009);
    // The largest frame that fits is delivered.
    let mut big = ProtoMsg::new(1, "shell", "", vec![], b"").encode();
    // An empty body is 2 bytes of msgpack, a body this long 5 plus the bytes.
    let room = MESSAGE_SIZE_LIMIT - big.len() - 3;
    big = ProtoMsg::new(1, "shell", "", vec![], &vec![b'x'; room]).encode();
    assert_eq!(big.len(), MESSAGE_SIZE_LIMIT);
    send(&mut good, big).await;
    assert_eq!(recv(&mut dev).await.body().len(), room);
    // The device and the other session carry on; a device's oversize frame closes only the
    // device's socket.
    send(&mut good, shell("new", "", b"")).await;
    let got = recv(&mut dev).await;
    assert_eq!(got.prop("user_id").and_then(Value::as_str), Some("user-1"));
    assert_eq!(
        e.oversize_close_code(DEVICE_CONNECT, "device::dev-2").await,
        1009
    );
}

async fn broken_device_frames_close_the_device_socket(backend: Backend) {
    let e = env(backend).await;
    for frame in [
        vec![0x93, 0x01],                                     // truncated msgpack
        ProtoMsg::new(1, "shell", "", vec![], b"x").encode(), // a shell frame without a session
    ] {
        let mut dev = e.device("", "dev-1").await;
        e.wait_status("", "dev-1", "connected").await;
        send(&mut dev, frame).await;
        assert_eq!(close_code(&mut dev).await, 1007);
        e.wait_status("", "dev-1", "disconnected").await;
    }
    // Frames of other protocols without a session are ignored.
    let mut dev = e.device("", "dev-1").await;
    e.wait_status("", "dev-1", "connected").await;
    send(
        &mut dev,
        ProtoMsg::new(0xFFFF, "ping", "", vec![], b"").encode(),
    )
    .await;
    dev.send(Message::Ping(b"hi".to_vec().into()))
        .await
        .unwrap();
    loop {
        match dev.next().await {
            Some(Ok(Message::Pong(p))) => break assert_eq!(&p[..], b"hi"),
            other => assert!(matches!(other, Some(Ok(_))), "{other:?}"),
        }
    }
}

async fn sessions_need_a_connected_device_of_the_callers_tenant(backend: Backend) {
    let e = env(backend).await;
    let connect = format!("{}/connect", mgmt("dev-1"));
    let refused = |caller: &'static str| {
        let (e, connect) = (&e, connect.clone());
        async move { e.socket(&connect, caller).await.unwrap_err() }
    };
    assert_eq!(refused("user::user-1").await.0, 404);
    e.provision_in("", "dev-1").await;
    let (status, body) = refused("user::user-1").await;
    assert_eq!(status, 404);
    assert!(body.contains("device not connected"), "{body}");
    let _dev = e.device("", "dev-1").await;
    e.wait_status("", "dev-1", "connected").await;
    // Another tenant's user, and a device token, are refused.
    assert_eq!(refused("user:other:user-1").await.0, 404);
    let (status, body) = refused("device::dev-2").await;
    assert_eq!(status, 400);
    assert!(body.contains("non-user identity"), "{body}");
    // A user token cannot open the device socket.
    let (status, body) = e.socket(DEVICE_CONNECT, "user::user-1").await.unwrap_err();
    assert_eq!(status, 400);
    assert!(body.contains("non-device identity"), "{body}");
}

async fn peers_that_stop_answering_pings_are_dropped(backend: Backend) {
    let e = env_with(
        backend,
        Keepalive {
            interval: Duration::from_millis(20),
            wait: Duration::from_secs(2),
        },
    )
    .await;
    // A device that reads answers the server's pings and stays.
    let mut alive = e.device("", "dev-1").await;
    e.wait_status("", "dev-1", "connected").await;
    for _ in 0..5 {
        match alive.next().await {
            Some(Ok(Message::Ping(p))) => assert_eq!(&p[..], b"60"),
            other => panic!("expected a ping, got {other:?}"),
        }
    }
    assert_eq!(e.status("", "dev-1").await.json()["status"], "connected");
    // One that reads nothing (so answers nothing) is dropped and shows disconnected.
    let mut silent = e.device("", "dev-2").await;
    e.wait_status("", "dev-2", "connected").await;
    e.wait_status("", "dev-2", "disconnected").await;
    // Its socket has ended: reading now finds the pings and then the close (1001), or a reset
    // when the pongs this reading sends hit the closed socket first.
    let code = close_code(&mut silent).await;
    assert!(code == 1001 || code == 0, "{code}");
}

async fn mender_client_commands_reach_a_connected_device(backend: Backend) {
    let e = env(backend).await;
    let check = || {
        e.user("")
            .post(&format!("{}/check-update", mgmt("dev-1")))
            .send()
    };
    assert_eq!(
        check().await.assert_error(StatusCode::NOT_FOUND),
        "device not found"
    );
    e.provision_in("", "dev-1").await;
    assert_eq!(
        check().await.assert_error(StatusCode::CONFLICT),
        "device not connected"
    );
    let mut dev = e.device("", "dev-1").await;
    e.wait_status("", "dev-1", "connected").await;
    check().await.assert_status(StatusCode::ACCEPTED);
    let got = recv(&mut dev).await;
    assert_eq!((got.proto(), got.typ(), got.sid()), (4, "check-update", ""));
    assert_eq!(got.prop("user_id").and_then(Value::as_str), Some("user-1"));
    // The internal API sends on the tenant's behalf, without a user.
    let r = e
        .internal
        .post(&format!("{INTERNAL}/tenants//devices/dev-1/send-inventory"))
        .send()
        .await;
    r.assert_status(StatusCode::ACCEPTED);
    let got = recv(&mut dev).await;
    assert_eq!((got.proto(), got.typ()), (4, "send-inventory"));
    assert!(got.prop("user_id").is_none());
    // A device token cannot send commands.
    let r = e
        .management
        .as_identity(mender_testkit::identity::device("dev-1"))
        .post(&format!("{}/send-inventory", mgmt("dev-1")))
        .send()
        .await;
    r.assert_status(StatusCode::BAD_REQUEST);
}

mender_db::each_backend!(
    mender_client_commands_reach_a_connected_device,
    peers_that_stop_answering_pings_are_dropped,
    a_terminal_session_goes_both_ways,
    a_device_that_leaves_ends_its_sessions,
    a_newer_device_socket_replaces_the_older,
    broken_user_frames_close_only_that_session,
    broken_device_frames_close_the_device_socket,
    sessions_need_a_connected_device_of_the_callers_tenant
);
