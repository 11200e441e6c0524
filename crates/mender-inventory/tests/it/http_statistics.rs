//! `GET /api/management/v2/inventory/statistics` and
//! `GET /api/internal/v2/inventory/tenants/{tenant_id}/statistics`: accepted and pending
//! devices per tier (system attribute `tier`, `standard` when absent), always all six
//! counters.

use axum::http::StatusCode;
use mender_db::testing::Backend;
use mender_inventory::InventoryConfig;
use serde_json::{Value, json};

use crate::common::{Api, Call, INTERNAL};

mender_db::each_backend!(statistics_count_statuses_per_tier);

const MGMT_STATS: &str = "/api/management/v2/inventory/statistics";

/// The internal statistics of `tenant` ("" for the empty segment).
fn internal_stats(tenant: &str) -> String {
    format!("/api/internal/v2/inventory/tenants/{tenant}/statistics")
}

fn stats(accepted: [u64; 3], pending: [u64; 3]) -> Value {
    let tiers = |[standard, micro, system]: [u64; 3]| json!({"standard": standard, "micro": micro, "system": system});
    json!({"devices_by_status": {"accepted": tiers(accepted), "pending": tiers(pending)}})
}

/// Sets device `dev`'s status (through the bulk status route) and, if given, its tier.
async fn device(api: &Api, tenant: &str, dev: &str, status: &str, tier: Option<Value>) {
    let c = api.internal();
    let r = c
        .post(&format!(
            "{INTERNAL}/tenants/{tenant}/devices/status/{status}"
        ))
        .json(&json!([{"id": dev, "revision": 1}]))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    if let Some(t) = tier {
        let r = c
            .patch(&format!(
                "{INTERNAL}/tenants/{tenant}/device/{dev}/attributes"
            ))
            .json(&json!([{"name":"tier","scope":"system","value":t}]))
            .call()
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
}

async fn statistics_count_statuses_per_tier(backend: Backend) {
    let api = Api::new(backend, InventoryConfig::default()).await;
    // No devices: still every counter, in upstream's order.
    let r = api.user().get(MGMT_STATS).call().await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.text(),
        r#"{"devices_by_status":{"accepted":{"standard":0,"micro":0,"system":0},"pending":{"standard":0,"micro":0,"system":0}}}"#
    );
    for (dev, status, tier) in [
        ("a1", "accepted", None),
        ("a2", "accepted", Some(json!("micro"))),
        ("a3", "accepted", Some(json!("system"))),
        ("a4", "accepted", Some(json!("standard"))),
        // Tiers upstream does not know are not counted.
        ("a5", "accepted", Some(json!("gold"))),
        ("a6", "accepted", Some(json!(5))),
        ("p1", "pending", Some(json!("micro"))),
        ("p2", "pending", None),
        ("r1", "rejected", Some(json!("micro"))),
        ("n1", "noauth", None),
        ("pre", "preauthorized", None),
    ] {
        device(&api, "", dev, status, tier).await;
    }
    // Another tenant's devices count for that tenant only.
    device(&api, "t1", "a1", "accepted", None).await;
    device(&api, "t1", "x", "pending", Some(json!("system"))).await;

    let want = stats([2, 1, 1], [1, 1, 0]);
    let mgmt = api.user().get(MGMT_STATS).call().await;
    assert_eq!(mgmt.json(), want);
    let c = api.internal();
    let oss = c.get(&internal_stats("")).call().await;
    assert_eq!(oss.json(), want);
    let t1 = c.get(&internal_stats("t1")).call().await;
    assert_eq!(t1.json(), stats([1, 0, 0], [0, 0, 1]));
    let none = c.get(&internal_stats("t2")).call().await;
    assert_eq!(none.json(), stats([0; 3], [0; 3]));

    // A device that changes status moves between the counters.
    let r = c
        .post(&format!("{INTERNAL}/tenants//devices/status/accepted"))
        .json(&json!([{"id": "p1", "revision": 2}]))
        .call()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = api.user().get(MGMT_STATS).call().await;
    assert_eq!(r.json(), stats([2, 2, 1], [1, 0, 0]));
    // A tenant no database can name is refused, not a server error.
    let r = c.get(&internal_stats("%00")).call().await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let long = internal_stats(&"t".repeat(10_000));
    assert_eq!(c.get(&long).call().await.json(), stats([0; 3], [0; 3]));
    // Only GET.
    let r = api.user().post(MGMT_STATS).json(&json!({})).send().await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}
