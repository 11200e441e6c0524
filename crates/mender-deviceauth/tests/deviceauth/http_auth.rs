//! The device auth request and device tokens, over HTTP, on both backends.

use axum::http::{Method, StatusCode};
use mender_testkit::{AuthRequest, DeviceKey};
use serde_json::{Value, json};

use crate::common::envs;

#[tokio::test]
async fn every_key_type_authenticates_once_accepted() {
    for env in envs().await {
        let keys = [
            ("rsa2048", DeviceKey::rsa(2048)),
            ("rsa3072", DeviceKey::rsa(3072)),
            ("rsa4096", DeviceKey::rsa(4096)),
            ("p256", DeviceKey::ecdsa_p256()),
            ("p384", DeviceKey::ecdsa_p384()),
            ("p521", DeviceKey::ecdsa_p521()),
            ("ed25519", DeviceKey::ed25519()),
        ];
        for (name, key) in keys {
            env.wf.clear();
            let identity = json!({"mac": format!("00:00:{name}"), "sku": "<b>&"});
            let r = env.auth(&key, &identity).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{name} {}: {}",
                env.db.backend(),
                r.text()
            );
            assert_eq!(r.json()["error"], "dev auth: unauthorized");

            // The device and its pending auth set are recorded, and inventory hears of them.
            let device = env
                .devices()
                .await
                .into_iter()
                .find(|d| d["identity_data"]["mac"] == identity["mac"])
                .unwrap();
            assert_eq!(device["status"], "pending");
            assert_eq!(device["auth_sets"][0]["pubkey"], key.public_pem());
            assert_eq!(device["identity_data"], identity);
            let inv = env.wf.named("update_device_inventory");
            assert_eq!(inv.len(), 1);
            assert_eq!(inv[0]["scope"], "identity");
            assert_eq!(inv[0]["device_id"], device["id"]);
            let attrs: Value =
                serde_json::from_str(inv[0]["attributes"].as_str().unwrap()).unwrap();
            assert!(
                attrs
                    .as_array()
                    .unwrap()
                    .contains(&json!({"name": "sku", "value": "<b>&", "scope": "identity"}))
            );
            let st = env.wf.named("update_device_status");
            assert_eq!(st[0]["device_status"], "pending");
            assert_eq!(
                st[0]["devices"],
                json!([{"id": device["id"], "revision": 2}])
            );

            // Still pending: 401 again, nothing new.
            assert_eq!(
                env.auth(&key, &identity).await.status,
                StatusCode::UNAUTHORIZED
            );

            env.wf.clear();
            assert_eq!(env.accept(&device).await.status, StatusCode::NO_CONTENT);
            let prov = env.wf.named("provision_device");
            assert_eq!(prov.len(), 1, "{name}");
            assert_eq!(prov[0]["device_id"], device["id"]);
            assert_eq!(prov[0]["status"], "accepted");
            assert_eq!(prov[0]["tenant_id"], "");
            assert_eq!(prov[0]["device"]["id"], device["id"]);
            assert_eq!(
                env.wf.named("update_device_status")[0]["device_status"],
                "accepted"
            );

            let r = env.auth(&key, &identity).await;
            assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.text());
            assert_eq!(r.headers["content-type"], "application/jwt");
            let token = r.text();
            assert!(!token.ends_with('\n') && token.split('.').count() == 3);
            let claims = mender_core::jwt::decode_unverified(&token).unwrap().claims;
            assert_eq!(claims["sub"], device["id"]);
            assert_eq!(claims["jti"], device["auth_sets"][0]["id"]);
            assert_eq!(claims["iss"], "Mender");
            assert_eq!(
                claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
                604_800
            );
            let who = env.verify(&token).await.unwrap();
            assert!(who.is_device);
            assert_eq!(who.subject, device["id"].as_str().unwrap());
        }
    }
}

/// A refused request: name, body, signature header, content type, expected status.
type Case = (
    &'static str,
    Vec<u8>,
    Option<String>,
    &'static str,
    StatusCode,
);

#[tokio::test]
async fn refused_requests_change_nothing() {
    for env in envs().await {
        let key = DeviceKey::ecdsa_p256();
        let other = DeviceKey::ed25519();
        let id = json!({"mac": "aa"});
        let good = AuthRequest::new(&id).sign(&key);
        let cases: Vec<Case> = vec![
            (
                "no signature",
                good.body.clone(),
                None,
                "application/json",
                StatusCode::BAD_REQUEST,
            ),
            (
                "other key's signature",
                good.body.clone(),
                Some(other.sign(&good.body)),
                "application/json",
                StatusCode::UNAUTHORIZED,
            ),
            (
                "garbage signature",
                good.body.clone(),
                Some("!!!".into()),
                "application/json",
                StatusCode::UNAUTHORIZED,
            ),
            (
                "tampered body",
                {
                    let mut b = good.body.clone();
                    let n = b.len();
                    b.insert(n - 1, b' ');
                    b
                },
                Some(good.signature.clone()),
                "application/json",
                StatusCode::UNAUTHORIZED,
            ),
            (
                "key not matching",
                AuthRequest::new(&id).pubkey(other.public_pem()).body(&key),
                Some(key.sign(&AuthRequest::new(&id).pubkey(other.public_pem()).body(&key))),
                "application/json",
                StatusCode::UNAUTHORIZED,
            ),
            (
                "id_data not JSON",
                AuthRequest::with_raw_id_data("{mac").body(&key),
                Some(key.sign(&AuthRequest::with_raw_id_data("{mac").body(&key))),
                "application/json",
                StatusCode::BAD_REQUEST,
            ),
            (
                "id_data an array",
                AuthRequest::with_raw_id_data("[1]").body(&key),
                Some(key.sign(&AuthRequest::with_raw_id_data("[1]").body(&key))),
                "application/json",
                StatusCode::BAD_REQUEST,
            ),
            (
                "bad pubkey",
                AuthRequest::new(&id)
                    .pubkey("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                    .body(&key),
                Some("AAAA".into()),
                "application/json",
                StatusCode::BAD_REQUEST,
            ),
            (
                "malformed JSON",
                b"{\"id_data\":".to_vec(),
                Some("AAAA".into()),
                "application/json",
                StatusCode::BAD_REQUEST,
            ),
            (
                "id_data as object",
                br#"{"id_data":{"mac":"a"},"pubkey":"x"}"#.to_vec(),
                Some("AAAA".into()),
                "application/json",
                StatusCode::BAD_REQUEST,
            ),
            (
                "wrong content type",
                good.body.clone(),
                Some(good.signature.clone()),
                "text/plain",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
        ];
        let before = env.snapshot().await;
        for (name, body, sig, ctype, want) in cases {
            let r = env.auth_raw(body, sig.as_deref(), ctype).await;
            assert_eq!(
                r.status,
                want,
                "{name} on {}: {}",
                env.db.backend(),
                r.text()
            );
            assert!(r.json()["error"].is_string(), "{name}");
            assert_eq!(env.snapshot().await, before, "{name} wrote something");
        }
        assert_eq!(
            env.auth_raw(b"".to_vec(), Some("AAAA"), "application/json")
                .await
                .status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(env.wf.count(), 0);
        assert_eq!(
            env.auth_raw(
                vec![b' '; 2 * 1024 * 1024],
                Some("AAAA"),
                "application/json"
            )
            .await
            .status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        // The correct request still works afterwards.
        assert_eq!(
            env.auth_raw(good.body, Some(&good.signature), "application/json")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(env.snapshot().await[..2], [1, 1]);
    }
}

#[tokio::test]
async fn reauthentication_is_idempotent_and_bounded() {
    for env in envs().await {
        let key = DeviceKey::ed25519();
        let id = json!({"sn": 12345678901234567890u64});
        env.auth(&key, &id).await;
        let dev = env.devices().await.remove(0);
        env.accept(&dev).await;
        let mut tokens = Vec::new();
        for _ in 0..3 {
            let r = env.auth(&key, &id).await;
            assert_eq!(r.status, StatusCode::OK);
            tokens.push(r.text());
        }
        assert_eq!(env.token_rows().await, 1, "one live token row per auth set");
        assert_eq!(env.devices().await.len(), 1);
        assert!(env.verify(tokens.last().unwrap()).await.is_ok());
        // A rotated key makes a second auth set on the same device.
        let key2 = DeviceKey::rsa(2048);
        assert_eq!(env.auth(&key2, &id).await.status, StatusCode::UNAUTHORIZED);
        let dev = env.devices().await.remove(0);
        assert_eq!(dev["auth_sets"].as_array().unwrap().len(), 2);
        assert_eq!(dev["status"], "accepted");
        assert!(dev["check_in_time"].is_string());
    }
}

#[tokio::test]
async fn preauthorized_device_is_accepted_on_first_request() {
    for env in envs().await {
        let key = DeviceKey::ecdsa_p384();
        let body = json!({"identity_data": {"mac": "pre", "n": 1.0}, "pubkey": key.public_pem()});
        let r = env
            .mgmt(
                Method::POST,
                "/api/management/v2/devauth/devices",
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let loc = r.headers["location"].to_str().unwrap().to_owned();
        assert!(loc.starts_with("devices/"));
        let st = env.wf.named("update_device_status");
        assert_eq!(st[0]["device_status"], "preauthorized");
        assert_eq!(env.wf.named("update_device_inventory").len(), 1);

        let dup = env
            .mgmt(
                Method::POST,
                "/api/management/v2/devauth/devices",
                Some(body),
            )
            .await;
        assert_eq!(dup.status, StatusCode::CONFLICT);
        assert_eq!(
            format!("devices/{}", dup.json()["id"].as_str().unwrap()),
            loc
        );
        assert_eq!(dup.json()["status"], "preauthorized");

        env.wf.clear();
        // The device sends the identity with different spacing and number formatting.
        let signed = AuthRequest::with_raw_id_data(r#"{ "n": 1, "mac": "pre" }"#).sign(&key);
        let r = env
            .auth_raw(signed.body, Some(&signed.signature), "application/json")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert!(env.verify(&r.text()).await.is_ok());
        assert_eq!(env.wf.named("provision_device").len(), 1);
        assert_eq!(
            env.wf.named("update_device_status")[0]["device_status"],
            "accepted"
        );
        assert_eq!(env.devices().await[0]["status"], "accepted");

        // Bad preauthorization input.
        for bad in [
            json!({"identity_data": {"a": 1}, "pubkey": "nope"}),
            json!({"identity_data": "str", "pubkey": key.public_pem()}),
            json!({"pubkey": key.public_pem()}),
        ] {
            let r = env
                .mgmt(
                    Method::POST,
                    "/api/management/v2/devauth/devices",
                    Some(bad),
                )
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST);
        }
    }
}

#[tokio::test]
async fn device_limit_applies_to_accept_and_preauthorized_auth() {
    for env in envs().await {
        let r = env
            .internal(
                Method::PUT,
                "/api/internal/v1/devauth/tenant//limits/max_devices",
                Some(json!({"limit": 1})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
        let r = env
            .mgmt(
                Method::GET,
                "/api/management/v2/devauth/limits/max_devices",
                None,
            )
            .await;
        assert_eq!(r.json(), json!({"limit": 1}));
        let (k1, k2, k3) = (
            DeviceKey::ed25519(),
            DeviceKey::ed25519(),
            DeviceKey::ed25519(),
        );
        env.auth(&k1, &json!({"d": 1})).await;
        env.auth(&k2, &json!({"d": 2})).await;
        let devs = env.devices().await;
        assert_eq!(env.accept(&devs[0]).await.status, StatusCode::NO_CONTENT);
        let r = env.accept(&devs[1]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            r.json()["error"],
            "maximum number of accepted devices reached"
        );
        // Re-accepting the accepted device is fine.
        assert_eq!(env.accept(&devs[0]).await.status, StatusCode::NO_CONTENT);

        let pre = json!({"identity_data": {"d": 3}, "pubkey": k3.public_pem()});
        assert_eq!(
            env.mgmt(
                Method::POST,
                "/api/management/v2/devauth/devices",
                Some(pre)
            )
            .await
            .status,
            StatusCode::CREATED
        );
        let r = env.auth(&k3, &json!({"d": 3})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.json()["error"], "unauthorized");

        // Lifting the limit lets both through.
        assert_eq!(
            env.internal(
                Method::DELETE,
                "/api/internal/v1/devauth/tenant//limits/max_devices",
                None
            )
            .await
            .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(env.auth(&k3, &json!({"d": 3})).await.status, StatusCode::OK);
        assert_eq!(env.accept(&devs[1]).await.status, StatusCode::NO_CONTENT);
        let r = env
            .internal(
                Method::GET,
                "/api/internal/v1/devauth/tenant/t1/limits/other",
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn rejected_decommissioned_or_revoked_tokens_stop_at_once() {
    for env in envs().await {
        let mut tokens = Vec::new();
        for i in 0..3 {
            let key = DeviceKey::ed25519();
            let id = json!({"i": i});
            env.auth(&key, &id).await;
            let dev = env
                .devices()
                .await
                .into_iter()
                .find(|d| d["identity_data"] == id)
                .unwrap();
            env.accept(&dev).await;
            let token = env.auth(&key, &id).await.text();
            assert!(env.verify(&token).await.is_ok());
            tokens.push((dev, token, key, id));
        }
        // Rejected.
        let (dev, token, ..) = &tokens[0];
        let (did, aid) = (
            dev["id"].as_str().unwrap(),
            dev["auth_sets"][0]["id"].as_str().unwrap(),
        );
        let r = env
            .mgmt(
                Method::PUT,
                &format!("/api/management/v2/devauth/devices/{did}/auth/{aid}/status"),
                Some(json!({"status": "rejected"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(
            env.verify(token).await.unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );

        // Decommissioned.
        let (dev, token, key, id) = &tokens[1];
        let did = dev["id"].as_str().unwrap();
        env.wf.clear();
        let r = env
            .mgmt(
                Method::DELETE,
                &format!("/api/management/v2/devauth/devices/{did}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(
            env.verify(token).await.unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            env.wf.named("decommission_device"),
            vec![
                json!({"request_id": env.wf.named("decommission_device")[0]["request_id"], "device_id": did, "tenant_id": ""})
            ]
        );
        assert_eq!(env.auth(key, id).await.status, StatusCode::UNAUTHORIZED);
        // The workflow's last step deletes the device (empty tenant segment in the OSS server).
        let r = env
            .internal(
                Method::DELETE,
                &format!("/api/internal/v1/devauth/tenants//devices/{did}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
        assert_eq!(
            env.mgmt(
                Method::GET,
                &format!("/api/management/v2/devauth/devices/{did}"),
                None
            )
            .await
            .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            env.internal(
                Method::DELETE,
                &format!("/api/internal/v1/devauth/tenants//devices/{did}"),
                None
            )
            .await
            .status,
            StatusCode::NOT_FOUND
        );
        // A device that keeps running comes back as a new pending device.
        assert_eq!(env.auth(key, id).await.status, StatusCode::UNAUTHORIZED);
        let again = env
            .devices()
            .await
            .into_iter()
            .find(|d| &d["identity_data"] == id)
            .unwrap();
        assert_eq!(again["status"], "pending");
        assert_ne!(again["id"], did);

        // Revoked.
        let (dev, token, ..) = &tokens[2];
        let jti = dev["auth_sets"][0]["id"].as_str().unwrap();
        assert_eq!(
            env.mgmt(
                Method::DELETE,
                &format!("/api/management/v2/devauth/tokens/{jti}"),
                None
            )
            .await
            .status,
            StatusCode::NO_CONTENT
        );
        assert!(env.verify(token).await.is_err());
        assert_eq!(
            env.mgmt(
                Method::DELETE,
                &format!("/api/management/v2/devauth/tokens/{jti}"),
                None
            )
            .await
            .status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn verifier_refuses_non_device_and_forged_tokens() {
    for env in envs().await {
        let key = DeviceKey::ed25519();
        env.auth(&key, &json!({"x": 1})).await;
        let dev = env.devices().await.remove(0);
        env.accept(&dev).await;
        let good = env.auth(&key, &json!({"x": 1})).await.text();
        let claims = mender_core::jwt::decode_unverified(&good).unwrap().claims;
        // Same key, same ids, but not a device token.
        let mut user = claims.clone();
        user.as_object_mut().unwrap().remove("mender.device");
        user["mender.user"] = json!(true);
        let user = env.signer.encode(None, &user).unwrap();
        assert!(env.verify(&user).await.is_err());
        // Signed by another key.
        let (other, _) = mender_core::jwt::SigningKey::generate_rsa().unwrap();
        assert!(
            env.verify(&other.encode(None, &claims).unwrap())
                .await
                .is_err()
        );
        // Subject swapped to another device.
        let mut swapped = claims.clone();
        swapped["sub"] = json!("someone-else");
        assert!(
            env.verify(&env.signer.encode(None, &swapped).unwrap())
                .await
                .is_err()
        );
        assert!(env.verify("garbage").await.is_err());
        // The internal verify endpoint answers like the verifier.
        for (tok, want) in [
            (good.as_str(), StatusCode::OK),
            (user.as_str(), StatusCode::UNAUTHORIZED),
        ] {
            let req = axum::http::Request::builder()
                .method(Method::POST)
                .uri("/api/internal/v1/devauth/tokens/verify")
                .header("authorization", format!("Bearer {tok}"))
                .body(axum::body::Body::empty())
                .unwrap();
            assert_eq!(
                crate::common::send(&env.routers.internal, req).await.status,
                want
            );
        }
        let req = axum::http::Request::get("/api/internal/v1/devauth/tokens/verify")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(
            crate::common::send(&env.routers.internal, req).await.status,
            StatusCode::UNAUTHORIZED
        );
        // Internal token deletion.
        let r = env
            .internal(Method::DELETE, "/api/internal/v1/devauth/tokens", None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let did = dev["id"].as_str().unwrap();
        let r = env
            .internal(
                Method::DELETE,
                &format!("/api/internal/v1/devauth/tokens?tenant_id=x&device_id={did}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert!(
            env.verify(&good).await.is_ok(),
            "another tenant's deletion does not touch ours"
        );
    }
}
