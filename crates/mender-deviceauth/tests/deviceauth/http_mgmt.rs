//! Management and internal device endpoints, over HTTP, on both backends.

use axum::http::{Method, StatusCode};
use mender_testkit::DeviceKey;
use serde_json::json;

use crate::common::envs;

const DEVS: &str = "/api/management/v2/devauth/devices";

#[tokio::test]
async fn list_search_count_get_and_dismiss() {
    for env in envs().await {
        for i in 0..5 {
            env.auth(&DeviceKey::ed25519(), &json!({"n": i})).await;
        }
        let all = env.devices().await;
        assert_eq!(all.len(), 5);
        // Oldest first.
        let ns: Vec<i64> = all
            .iter()
            .map(|d| d["identity_data"]["n"].as_i64().unwrap())
            .collect();
        assert_eq!(ns, vec![0, 1, 2, 3, 4]);
        env.accept(&all[0]).await;

        let r = env
            .mgmt(
                Method::GET,
                &format!("{DEVS}?page=2&per_page=2&status=pending"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json().as_array().unwrap().len(), 2);
        let link = r.headers["link"].to_str().unwrap();
        assert!(
            link.contains("rel=\"first\"")
                && link.contains("rel=\"prev\"")
                && !link.contains("rel=\"next\""),
            "{link}"
        );
        let r = env
            .mgmt(Method::GET, &format!("{DEVS}?per_page=2"), None)
            .await;
        assert!(
            r.headers["link"]
                .to_str()
                .unwrap()
                .contains("page=2&per_page=2>; rel=\"next\"")
        );
        for bad in ["?status=bogus", "?per_page=501", "?page=0", "?page=x"] {
            assert_eq!(
                env.mgmt(Method::GET, &format!("{DEVS}{bad}"), None)
                    .await
                    .status,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
        let id1 = all[1]["id"].as_str().unwrap();
        let r = env
            .mgmt(
                Method::GET,
                &format!("{DEVS}?id={id1}&id={}", all[2]["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(r.json().as_array().unwrap().len(), 2);

        let r = env
            .mgmt(
                Method::POST,
                &format!("{DEVS}/search"),
                Some(json!({"status": "accepted"})),
            )
            .await;
        assert_eq!(r.json().as_array().unwrap().len(), 1);
        let r = env
            .mgmt(
                Method::POST,
                &format!("{DEVS}/search"),
                Some(json!({"status": ["pending", "accepted"], "id": [id1]})),
            )
            .await;
        assert_eq!(r.json()[0]["id"], id1);
        assert_eq!(
            env.mgmt(
                Method::POST,
                &format!("{DEVS}/search"),
                Some(json!({"status": 1}))
            )
            .await
            .status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            env.mgmt(
                Method::POST,
                &format!("{DEVS}/search"),
                Some(json!({"status": ["nope"]}))
            )
            .await
            .status,
            StatusCode::BAD_REQUEST
        );

        let count = |q: &'static str| {
            let env = &env;
            async move {
                env.mgmt(Method::GET, &format!("{DEVS}/count{q}"), None)
                    .await
            }
        };
        assert_eq!(count("").await.json(), json!({"count": 5}));
        assert_eq!(count("?status=pending").await.json(), json!({"count": 4}));
        assert_eq!(count("?status=bad").await.status, StatusCode::BAD_REQUEST);
        let r = env
            .internal(
                Method::GET,
                "/api/internal/v1/devauth/tenants//devices/count?status=accepted",
                None,
            )
            .await;
        assert_eq!(r.json(), json!({"count": 1}));
        let r = env
            .internal(
                Method::GET,
                "/api/internal/v1/devauth/tenants/other/devices/count",
                None,
            )
            .await;
        assert_eq!(r.json(), json!({"count": 0}), "tenants are separate");
        let r = env
            .internal(
                Method::GET,
                "/api/internal/v1/devauth/tenants//devices?per_page=1",
                None,
            )
            .await;
        assert_eq!(r.json().as_array().unwrap().len(), 1);
        let r = env
            .internal(
                Method::GET,
                &format!("/api/internal/v1/devauth/tenants//devices/{id1}/status"),
                None,
            )
            .await;
        assert_eq!(r.json(), json!({"status": "pending"}));
        assert_eq!(
            env.internal(
                Method::GET,
                "/api/internal/v1/devauth/tenants//devices/nope/status",
                None
            )
            .await
            .status,
            StatusCode::NOT_FOUND
        );

        // Get, auth set status, dismiss.
        let r = env.mgmt(Method::GET, &format!("{DEVS}/{id1}"), None).await;
        assert_eq!(r.status, StatusCode::OK);
        let d = r.json();
        for k in [
            "id",
            "identity_data",
            "status",
            "decommissioning",
            "created_ts",
            "updated_ts",
            "auth_sets",
        ] {
            assert!(d.get(k).is_some(), "{k}");
        }
        let aid = d["auth_sets"][0]["id"].as_str().unwrap();
        let st = env
            .mgmt(
                Method::GET,
                &format!("{DEVS}/{id1}/auth/{aid}/status"),
                None,
            )
            .await;
        assert_eq!(st.json(), json!({"status": "pending"}));
        assert_eq!(
            env.mgmt(Method::GET, &format!("{DEVS}/{id1}/auth/nope/status"), None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let status_path = format!("{DEVS}/{id1}/auth/{aid}/status");
        let put = |body| env.mgmt(Method::PUT, &status_path, Some(body));
        assert_eq!(
            put(json!({"status": "preauthorized"})).await.status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            put(json!({"status": 3})).await.status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            put(json!({"status": "rejected"})).await.status,
            StatusCode::NO_CONTENT
        );
        let other_dev = all[2]["id"].as_str().unwrap();
        let r = env
            .mgmt(
                Method::PUT,
                &format!("{DEVS}/{other_dev}/auth/{aid}/status"),
                Some(json!({"status": "accepted"})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "auth set of another device"
        );

        env.wf.clear();
        assert_eq!(
            env.mgmt(Method::DELETE, &format!("{DEVS}/{id1}/auth/{aid}"), None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        let d = env
            .mgmt(Method::GET, &format!("{DEVS}/{id1}"), None)
            .await
            .json();
        assert_eq!(d["status"], "noauth");
        assert_eq!(d["auth_sets"], json!([]));
        assert_eq!(
            env.wf.named("update_device_status")[0]["device_status"],
            "noauth"
        );
        assert_eq!(
            env.mgmt(Method::DELETE, &format!("{DEVS}/{id1}/auth/{aid}"), None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            env.mgmt(Method::GET, &format!("{DEVS}/nope"), None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            env.mgmt(Method::DELETE, &format!("{DEVS}/nope"), None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        let long = "é".repeat(5000);
        assert_eq!(
            env.mgmt(
                Method::GET,
                &format!("{DEVS}/{}", long.replace('é', "%C3%A9")),
                None
            )
            .await
            .status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn dismissing_the_only_preauthorized_set_deletes_the_device() {
    for env in envs().await {
        let key = DeviceKey::ed25519();
        let r = env
            .mgmt(
                Method::POST,
                DEVS,
                Some(json!({"identity_data": {"p": 1}, "pubkey": key.public_pem()})),
            )
            .await;
        let id = r.headers["location"]
            .to_str()
            .unwrap()
            .trim_start_matches("devices/")
            .to_owned();
        let d = env
            .mgmt(Method::GET, &format!("{DEVS}/{id}"), None)
            .await
            .json();
        let aid = d["auth_sets"][0]["id"].as_str().unwrap();
        env.wf.clear();
        assert_eq!(
            env.mgmt(Method::DELETE, &format!("{DEVS}/{id}/auth/{aid}"), None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            env.mgmt(Method::GET, &format!("{DEVS}/{id}"), None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            env.wf.named("update_device_status")[0]["device_status"],
            "decommissioned"
        );
        // Forced preauthorization of an existing identity adds the key.
        env.auth(&key, &json!({"p": 2})).await;
        let key2 = DeviceKey::ed25519();
        let body = json!({"identity_data": {"p": 2}, "pubkey": key2.public_pem(), "force": true});
        assert_eq!(
            env.mgmt(Method::POST, DEVS, Some(body)).await.status,
            StatusCode::CREATED
        );
        let d = env.devices().await.remove(0);
        assert_eq!(d["status"], "preauthorized");
        assert_eq!(
            env.auth(&key2, &json!({"p": 2})).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn internal_health_and_tenants() {
    for env in envs().await {
        assert_eq!(
            env.internal(Method::GET, "/api/internal/v1/devauth/alive", None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            env.internal(Method::GET, "/api/internal/v1/devauth/health", None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        let r = env
            .internal(
                Method::POST,
                "/api/internal/v1/devauth/tenants",
                Some(json!({"tenant_id": "t1"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let r = env
            .internal(
                Method::POST,
                "/api/internal/v1/devauth/tenants",
                Some(json!({"x": 1})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = env
            .internal(
                Method::PUT,
                "/api/internal/v1/devauth/tenant/t1/limits/max_devices",
                Some(json!({"limit": -1})),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        env.internal(
            Method::PUT,
            "/api/internal/v1/devauth/tenant/t1/limits/max_devices",
            Some(json!({"limit": 7})),
        )
        .await;
        let r = env
            .internal(
                Method::GET,
                "/api/internal/v1/devauth/tenant/t1/limits/max_devices",
                None,
            )
            .await;
        assert_eq!(r.json(), json!({"limit": 7}));
        let r = env
            .mgmt(
                Method::GET,
                "/api/management/v2/devauth/limits/max_devices",
                None,
            )
            .await;
        assert_eq!(
            r.json(),
            json!({"limit": 0}),
            "the OSS tenant is unaffected"
        );
    }
}
