//! Integration tests: the store conformance suite and HTTP behaviour, each on SQLite and
//! PostgreSQL.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use mender_core::Identity;
use mender_db::Db;
use mender_inventory::model::{DeviceRecord, StoredAttr};
use mender_inventory::store::postgres::PgStore;
use mender_inventory::store::sqlite::SqliteStore;
use mender_inventory::store::{Cond, InventoryStore, Key, Query, Scalar, SortKey};
use mender_inventory::{InventoryConfig, Service};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn backends() -> Vec<(Db, Option<tempfile::TempDir>)> {
    mender_db::testing::all("inventory", Service::migrations()).await
}

fn store_of(db: &Db) -> Arc<dyn InventoryStore> {
    match db {
        Db::Sqlite(p) => Arc::new(SqliteStore::new(p.clone())),
        Db::Postgres(p) => Arc::new(PgStore::new(p.clone())),
    }
}

fn rec(id: &str, attrs: &[(&str, &str, Value)]) -> DeviceRecord {
    let mut r = DeviceRecord::new(id, "2024-01-01T00:00:00.000Z");
    for (s, n, v) in attrs {
        r.attrs.insert(
            (s.to_string(), n.to_string()),
            StoredAttr {
                value: v.clone(),
                description: None,
                timestamp: None,
            },
        );
    }
    r
}

fn attr(scope: &str, name: &str) -> Key {
    Key::Attr {
        scope: scope.into(),
        name: name.into(),
    }
}

async fn ids(
    store: &Arc<dyn InventoryStore>,
    conds: Vec<Cond>,
    sort: Vec<SortKey>,
) -> (Vec<String>, u64) {
    let (devs, total) = store
        .search(
            "",
            &Query {
                conds,
                sort,
                offset: 0,
                limit: 100,
            },
        )
        .await
        .unwrap();
    (devs.into_iter().map(|d| d.id).collect(), total)
}

#[tokio::test]
async fn store_conformance() {
    for (db, _guard) in backends().await {
        let be = db.backend();
        let store = store_of(&db);
        store.ping().await.unwrap();
        assert!(store.get_device("", "a").await.unwrap().is_none());

        let a = rec(
            "a",
            &[
                ("inventory", "n", json!(5)),
                ("inventory", "s", json!("x")),
                ("inventory", "arr", json!(["p", "q"])),
            ],
        );
        let b = rec(
            "b",
            &[
                ("inventory", "n", json!(10)),
                ("inventory", "s", json!("y")),
                ("inventory", "e", json!([])),
            ],
        );
        let c = rec("c", &[("inventory", "s", json!("é".repeat(300)))]);
        assert!(store.insert_device("", &a).await.unwrap(), "{be}");
        assert!(
            !store.insert_device("", &a).await.unwrap(),
            "{be}: duplicate insert"
        );
        assert!(store.insert_device("", &b).await.unwrap());
        assert!(store.insert_device("", &c).await.unwrap());
        // Other tenants are invisible.
        assert!(store.insert_device("t2", &rec("a", &[])).await.unwrap());
        let bulk = [rec("x", &[]), rec("y", &[]), rec("x", &[])];
        assert_eq!(
            store.insert_devices("t3", &bulk).await.unwrap(),
            2,
            "{be}: bulk skips existing"
        );
        assert!(store.get_device("t3", "y").await.unwrap().is_some());

        let got = store.get_device("", "a").await.unwrap().unwrap();
        assert_eq!(got.attrs, a.attrs, "{be}");
        assert_eq!(got.version, 0);

        // Optimistic concurrency: a stale version does not write.
        let mut upd = got.clone();
        upd.attrs.insert(
            ("tags".into(), "t".into()),
            StoredAttr {
                value: json!("v"),
                description: None,
                timestamp: None,
            },
        );
        assert!(store.update_device("", &upd).await.unwrap(), "{be}");
        assert!(
            !store.update_device("", &upd).await.unwrap(),
            "{be}: stale version"
        );
        let got = store.get_device("", "a").await.unwrap().unwrap();
        assert_eq!(got.version, 1);
        assert!(got.attrs.contains_key(&("tags".into(), "t".into())));

        // Predicates with MongoDB semantics.
        let eq = |k: Key, v: Scalar| Cond::In {
            key: k,
            values: vec![v],
            negate: false,
        };
        assert_eq!(
            ids(
                &store,
                vec![eq(attr("inventory", "n"), Scalar::Num(5.0))],
                vec![]
            )
            .await,
            (vec!["a".into()], 1),
            "{be}"
        );
        assert_eq!(
            ids(
                &store,
                vec![eq(attr("inventory", "n"), Scalar::Str("5".into()))],
                vec![]
            )
            .await
            .1,
            0,
            "{be}: types don't mix"
        );
        assert_eq!(
            ids(
                &store,
                vec![eq(attr("inventory", "arr"), Scalar::Str("q".into()))],
                vec![]
            )
            .await
            .0,
            vec!["a"],
            "{be}: array element"
        );
        let ne = Cond::In {
            key: attr("inventory", "n"),
            values: vec![Scalar::Num(5.0)],
            negate: true,
        };
        assert_eq!(
            ids(&store, vec![ne], vec![]).await.0,
            vec!["b", "c"],
            "{be}: $ne includes missing"
        );
        // The whole matching set, ids only, in creation order, per tenant.
        assert_eq!(
            store
                .search_ids(
                    "",
                    &[Cond::Exists {
                        key: attr("inventory", "s"),
                        exists: true
                    }]
                )
                .await
                .unwrap(),
            vec!["a", "b", "c"],
            "{be}: search_ids"
        );
        assert_eq!(
            store
                .search_ids("", &[eq(attr("inventory", "n"), Scalar::Num(10.0))])
                .await
                .unwrap(),
            vec!["b"],
            "{be}"
        );
        assert_eq!(
            store.search_ids("t3", &[]).await.unwrap(),
            vec!["x", "y"],
            "{be}"
        );
        let gt = Cond::Cmp {
            key: attr("inventory", "n"),
            op: mender_inventory::store::CmpOp::Gt,
            value: Scalar::Num(5.0),
        };
        assert_eq!(ids(&store, vec![gt], vec![]).await.0, vec!["b"], "{be}");
        let long = "é".repeat(300);
        assert_eq!(
            ids(
                &store,
                vec![eq(attr("inventory", "s"), Scalar::Str(long.clone()))],
                vec![]
            )
            .await
            .0,
            vec!["c"],
            "{be}: long strings"
        );
        let lt = Cond::Cmp {
            key: attr("inventory", "s"),
            op: mender_inventory::store::CmpOp::Lt,
            value: Scalar::Str(long),
        };
        assert_eq!(
            ids(&store, vec![lt], vec![]).await.0,
            vec!["a", "b"],
            "{be}: string order"
        );
        let ex = Cond::Exists {
            key: attr("inventory", "e"),
            exists: true,
        };
        assert_eq!(
            ids(&store, vec![ex], vec![]).await.0,
            vec!["b"],
            "{be}: empty array exists"
        );
        let id_in = Cond::In {
            key: Key::DeviceId,
            values: vec![Scalar::Str("b".into()), Scalar::Str("c".into())],
            negate: false,
        };
        assert_eq!(
            ids(&store, vec![id_in], vec![]).await.0,
            vec!["b", "c"],
            "{be}"
        );
        assert_eq!(
            ids(&store, vec![Cond::Text(vec!["y".into()])], vec![])
                .await
                .0,
            vec!["b"],
            "{be}: text"
        );

        // Sorting: missing first ascending, last descending; numbers by value.
        let by_n = |desc| {
            vec![SortKey {
                key: attr("inventory", "n"),
                desc,
            }]
        };
        assert_eq!(
            ids(&store, vec![], by_n(false)).await.0,
            vec!["c", "a", "b"],
            "{be}"
        );
        assert_eq!(
            ids(&store, vec![], by_n(true)).await.0,
            vec!["b", "a", "c"],
            "{be}"
        );
        assert_eq!(
            ids(
                &store,
                vec![],
                vec![SortKey {
                    key: Key::DeviceId,
                    desc: true
                }]
            )
            .await
            .0,
            vec!["c", "b", "a"]
        );

        // Groups.
        let r = store
            .set_group("", &["a".into(), "b".into(), "zz".into()], "g1")
            .await
            .unwrap();
        assert_eq!((r.matched_count, r.updated_count), (2, 2), "{be}");
        let r = store.set_group("", &["a".into()], "g1").await.unwrap();
        assert_eq!(
            (r.matched_count, r.updated_count),
            (1, 0),
            "{be}: unchanged"
        );
        assert_eq!(
            store
                .get_device("", "a")
                .await
                .unwrap()
                .unwrap()
                .group
                .as_deref(),
            Some("g1")
        );
        assert_eq!(
            ids(
                &store,
                vec![eq(attr("system", "group"), Scalar::Str("g1".into()))],
                vec![]
            )
            .await
            .0,
            vec!["a", "b"]
        );
        assert_eq!(store.list_groups("", None).await.unwrap(), vec!["g1"]);
        assert_eq!(
            store.list_groups("t2", None).await.unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            store
                .unset_group("", Some(&["a".into()]), "other")
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .unset_group("", Some(&["a".into()]), "g1")
                .await
                .unwrap(),
            1
        );
        assert_eq!(store.unset_group("", None, "g1").await.unwrap(), 1);
        assert!(
            store.list_groups("", None).await.unwrap().is_empty(),
            "{be}"
        );
        assert_eq!(
            ids(
                &store,
                vec![Cond::Exists {
                    key: attr("system", "group"),
                    exists: true
                }],
                vec![]
            )
            .await
            .1,
            0
        );

        // Distinct strings and filter attributes.
        let mut vals = store
            .distinct_strings("", &attr("inventory", "s"))
            .await
            .unwrap();
        vals.sort();
        assert_eq!(vals.len(), 3);
        let fa = store.filter_attributes("", 5000, 500).await.unwrap();
        let get = |s: &str, n: &str| {
            fa.iter()
                .find(|f| f.scope == s && f.name == n)
                .map(|f| f.count)
        };
        assert_eq!(get("inventory", "s"), Some(3), "{be}: {fa:?}");
        assert_eq!(get("inventory", "arr"), Some(1), "{be}: arrays count once");
        assert_eq!(get("system", "created_ts"), Some(3));
        assert_eq!(fa[0].count, 3);

        // Deletion removes the index rows too.
        assert_eq!(
            store
                .delete_devices("", &["a".into(), "nope".into()])
                .await
                .unwrap(),
            1
        );
        assert!(store.get_device("", "a").await.unwrap().is_none());
        assert!(
            store.get_device("t2", "a").await.unwrap().is_some(),
            "{be}: tenant kept"
        );
        assert_eq!(
            ids(
                &store,
                vec![eq(attr("inventory", "arr"), Scalar::Str("q".into()))],
                vec![]
            )
            .await
            .1,
            0
        );
    }
}

// ---------------------------------------------------------------- HTTP helpers

struct Api {
    svc: Arc<Service>,
    be: &'static str,
}

fn user() -> Identity {
    Identity {
        subject: "user-1".into(),
        is_user: true,
        ..Default::default()
    }
}

fn device(id: &str) -> Identity {
    Identity {
        subject: id.into(),
        is_device: true,
        ..Default::default()
    }
}

/// Request headers of a test case.
type Headers = &'static [(&'static str, &'static str)];

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Api {
    async fn all(config: InventoryConfig) -> Vec<(Api, Option<tempfile::TempDir>)> {
        backends()
            .await
            .into_iter()
            .map(|(db, g)| {
                let be = db.backend();
                (
                    Api {
                        svc: Service::new(db, config.clone()),
                        be,
                    },
                    g,
                )
            })
            .collect()
    }

    fn router(&self, uri: &str) -> Router {
        let r = self.svc.routers();
        if uri.starts_with("/api/devices") {
            r.devices
        } else if uri.starts_with("/api/management") {
            r.management
        } else {
            r.internal
        }
    }

    async fn raw(
        &self,
        method: Method,
        uri: &str,
        id: Option<Identity>,
        body: Body,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut req = req.body(body).unwrap();
        if let Some(id) = id {
            req.extensions_mut().insert(id);
        }
        let resp = self.router(uri).oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        assert!(
            status.as_u16() < 500,
            "{}: {uri} answered {status}: {body}",
            self.be
        );
        if status.is_client_error() {
            assert!(
                body.get("error").and_then(Value::as_str).is_some(),
                "{}: {uri} {status} without error body",
                self.be
            );
        }
        Resp {
            status,
            headers,
            body,
        }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        id: Option<Identity>,
        body: Option<Value>,
    ) -> Resp {
        let (b, h): (Body, &[(&str, &str)]) = match body {
            Some(v) => (
                Body::from(v.to_string()),
                &[("content-type", "application/json")],
            ),
            None => (Body::empty(), &[]),
        };
        self.raw(method, uri, id, b, h).await
    }

    async fn mgmt(&self, method: Method, uri: &str, body: Option<Value>) -> Resp {
        self.call(method, uri, Some(user()), body).await
    }

    async fn put_inventory(&self, dev: &str, attrs: Value) -> StatusCode {
        self.call(
            Method::PUT,
            "/api/devices/v1/inventory/device/attributes",
            Some(device(dev)),
            Some(attrs),
        )
        .await
        .status
    }

    async fn device_json(&self, dev: &str) -> Value {
        let r = self
            .mgmt(
                Method::GET,
                &format!("/api/management/v1/inventory/devices/{dev}"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", self.be);
        r.body
    }

    async fn search(&self, body: Value) -> Resp {
        self.mgmt(
            Method::POST,
            "/api/management/v2/inventory/filters/search",
            Some(body),
        )
        .await
    }

    async fn search_ids(&self, filters: Value) -> Vec<String> {
        let r = self.search(json!({"filters": filters, "sort": [{"scope":"identity","attribute":"id","order":"asc"}]})).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}: {filters} -> {}",
            self.be,
            r.body
        );
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn value_of(dev: &Value, scope: &str, name: &str) -> Option<Value> {
    dev["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["scope"] == scope && a["name"] == name)
        .map(|a| a["value"].clone())
}

// ---------------------------------------------------------------- HTTP tests

#[tokio::test]
async fn device_inventory_put_patch_and_limits() {
    let cfg = InventoryConfig {
        limit_attributes: 5,
        limit_tags: 2,
        max_document_bytes: 4096,
    };
    for (api, _g) in Api::all(cfg).await {
        let be = api.be;
        let uri = "/api/devices/v1/inventory/device/attributes";
        assert_eq!(api.put_inventory("d1", json!([{"name":"a","value":"1"},{"name":"b","value":2,"description":"B"},{"name":"c","value":["x","y"]}])).await, StatusCode::OK);
        let d = api.device_json("d1").await;
        assert_eq!(value_of(&d, "inventory", "b"), Some(json!(2)), "{be}");
        assert_eq!(value_of(&d, "inventory", "c"), Some(json!(["x", "y"])));
        assert!(d["updated_ts"].as_str().is_some());
        assert!(value_of(&d, "system", "created_ts").is_some());

        // PATCH merges; a scope in the body is ignored for devices.
        let r = api
            .call(
                Method::PATCH,
                uri,
                Some(device("d1")),
                Some(json!([{"name":"a","value":"9","scope":"system"},{"name":"d","value":1}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let d = api.device_json("d1").await;
        assert_eq!(value_of(&d, "inventory", "a"), Some(json!("9")), "{be}");
        assert_eq!(value_of(&d, "inventory", "c"), Some(json!(["x", "y"])));
        assert_eq!(value_of(&d, "system", "a"), None);
        let desc = d["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "b")
            .unwrap()["description"]
            .clone();
        assert_eq!(desc, json!("B"));

        // PUT replaces the scope.
        assert_eq!(
            api.put_inventory("d1", json!([{"name":"a","value":"1"}]))
                .await,
            StatusCode::OK
        );
        let before = api.device_json("d1").await;
        assert_eq!(value_of(&before, "inventory", "c"), None, "{be}");

        // Rejections leave the document unchanged.
        let bad: Vec<(Body, Headers, StatusCode)> = vec![
            (
                Body::from("[{\"name\":\"a\",\"value\":"),
                &[("content-type", "application/json")],
                StatusCode::BAD_REQUEST,
            ),
            (
                Body::from("[]"),
                &[("content-type", "text/plain")],
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                Body::from(json!([{"name":"a","value":null}]).to_string()),
                &[("content-type", "application/json")],
                StatusCode::BAD_REQUEST,
            ),
            (
                Body::from(json!([{"name":"a","value":[1,"x"]}]).to_string()),
                &[("content-type", "application/json")],
                StatusCode::BAD_REQUEST,
            ),
            (
                Body::from(json!([{"name":"a","value":{"o":1}}]).to_string()),
                &[("content-type", "application/json")],
                StatusCode::BAD_REQUEST,
            ),
            (
                Body::from(json!([{"name":"","value":"x"}]).to_string()),
                &[("content-type", "application/json")],
                StatusCode::BAD_REQUEST,
            ),
            (
                Body::from(json!([{"name":"n".repeat(1025),"value":"x"}]).to_string()),
                &[("content-type", "application/json")],
                StatusCode::BAD_REQUEST,
            ),
            (
                Body::from(json!({"name":"a"}).to_string()),
                &[("content-type", "application/json")],
                StatusCode::BAD_REQUEST,
            ),
            // Over the body limit (4096 here), also when chunked without a length.
            (
                Body::from(json!([{"name":"big","value":"x".repeat(5000)}]).to_string()),
                &[("content-type", "application/json")],
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                Body::from_stream(futures_stream(
                    json!([{"name":"big","value":"x".repeat(5000)}]).to_string(),
                )),
                &[("content-type", "application/json")],
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
        ];
        for (body, headers, want) in bad {
            let r = api
                .raw(Method::PATCH, uri, Some(device("d1")), body, headers)
                .await;
            assert_eq!(r.status, want, "{be}: {}", r.body);
        }
        // Too many attributes: PUT counts the set, PATCH existing + new.
        let six: Vec<Value> = (0..6)
            .map(|i| json!({"name": format!("k{i}"), "value": i}))
            .collect();
        assert_eq!(
            api.put_inventory("d1", json!(six)).await,
            StatusCode::BAD_REQUEST
        );
        let five: Vec<Value> = (0..5)
            .map(|i| json!({"name": format!("k{i}"), "value": i}))
            .collect();
        let r = api
            .call(Method::PATCH, uri, Some(device("d1")), Some(json!(five)))
            .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{be}: 1 existing + 5 new > 5"
        );
        assert_eq!(
            r.body["error"],
            "the number of attributes in the scope is above the limit"
        );
        // Merged document over the size limit, each request under it.
        let r = api
            .call(
                Method::PATCH,
                uri,
                Some(device("d1")),
                Some(json!([{"name":"p1","value":"x".repeat(2500)}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let mid = api.device_json("d1").await;
        let r = api
            .call(
                Method::PATCH,
                uri,
                Some(device("d1")),
                Some(json!([{"name":"p2","value":"x".repeat(2500)}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{be}");
        assert_eq!(api.device_json("d1").await, mid, "{be}: nothing written");
        assert_eq!(
            value_of(&before, "inventory", "a"),
            value_of(&mid, "inventory", "a")
        );

        // Only devices may call; users get 401.
        let r = api
            .call(Method::PUT, uri, Some(user()), Some(json!([])))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = api.call(Method::PUT, uri, None, Some(json!([]))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        // The legacy path on the internal router.
        let r = api
            .call(
                Method::PATCH,
                "/api/0.1.0/attributes",
                Some(device("d2")),
                Some(json!([{"name":"x","value":"1"}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{be}");
        assert_eq!(
            value_of(&api.device_json("d2").await, "inventory", "x"),
            Some(json!("1"))
        );
    }
}

fn futures_stream(
    s: String,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    futures_core_stream::chunks(s)
}

mod futures_core_stream {
    //! A chunked body without `Content-Length`.
    pub use futures::Stream;

    pub fn chunks(s: String) -> impl Stream<Item = Result<bytes::Bytes, std::io::Error>> {
        let parts: Vec<Result<bytes::Bytes, std::io::Error>> = s
            .into_bytes()
            .chunks(1000)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        futures::stream::iter(parts)
    }
}

#[tokio::test]
async fn tags_etag_and_device_management() {
    let cfg = InventoryConfig {
        limit_tags: 2,
        ..Default::default()
    };
    for (api, _g) in Api::all(cfg).await {
        let be = api.be;
        assert_eq!(
            api.put_inventory("d1", json!([{"name":"a","value":"1"}]))
                .await,
            StatusCode::OK
        );
        let tags = "/api/management/v1/inventory/devices/d1/tags";
        let r = api
            .mgmt(
                Method::PUT,
                tags,
                Some(json!([{"name":"env","value":"test","description":"Env"}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{be}: {}", r.body);
        let r = api
            .mgmt(Method::GET, "/api/management/v1/inventory/devices/d1", None)
            .await;
        let etag = r.headers["etag"].to_str().unwrap().to_owned();
        let tag = r.body["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["scope"] == "tags")
            .unwrap()
            .clone();
        assert_eq!(tag["value"], "test");
        assert!(
            tag["timestamp"].as_str().is_some(),
            "{be}: tags get a timestamp"
        );
        let updated = r.body["updated_ts"].clone();

        // Wrong ETag: 412, unchanged. Right one: 200 and a new ETag.
        let r = api.call(Method::PATCH, tags, Some(user()), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{be}: empty body");
        let r = api
            .raw(
                Method::PATCH,
                tags,
                Some(user()),
                Body::from(json!([{"name":"x","value":"1"}]).to_string()),
                &[("content-type", "application/json"), ("if-match", "nope")],
            )
            .await;
        assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{be}");
        let r = api
            .raw(
                Method::PATCH,
                tags,
                Some(user()),
                Body::from(json!([{"name":"x","value":"1"}]).to_string()),
                &[("content-type", "application/json"), ("if-match", &etag)],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{be}: {}", r.body);
        let r = api
            .mgmt(Method::GET, "/api/management/v1/inventory/devices/d1", None)
            .await;
        assert_ne!(r.headers["etag"].to_str().unwrap(), etag);
        assert_eq!(
            r.body["updated_ts"], updated,
            "{be}: tags don't bump updated_ts"
        );
        assert_eq!(value_of(&r.body, "tags", "x"), Some(json!("1")));
        // Limit of 2 tags.
        let r = api
            .mgmt(Method::PATCH, tags, Some(json!([{"name":"y","value":"1"}])))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{be}");
        let r = api.mgmt(Method::PUT, tags, Some(json!([{"name":"a","value":"1"},{"name":"b","value":"1"},{"name":"c","value":"1"}]))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        // Unknown device.
        let r = api
            .mgmt(
                Method::PUT,
                "/api/management/v1/inventory/devices/nope/tags",
                Some(json!([])),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = api
            .mgmt(
                Method::GET,
                "/api/management/v1/inventory/devices/nope",
                None,
            )
            .await;
        assert_eq!(
            (r.status, r.body["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("Device not found"))
        );

        // DELETE clears the inventory scope only.
        let r = api
            .mgmt(
                Method::DELETE,
                "/api/management/v1/inventory/devices/d1",
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let d = api.device_json("d1").await;
        assert_eq!(value_of(&d, "inventory", "a"), None, "{be}");
        assert_eq!(value_of(&d, "tags", "x"), Some(json!("1")));
        let r = api
            .mgmt(
                Method::DELETE,
                "/api/management/v1/inventory/devices/nope",
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn groups() {
    for (api, _g) in Api::all(InventoryConfig::default()).await {
        let be = api.be;
        for d in ["d1", "d2", "d3"] {
            assert_eq!(
                api.put_inventory(d, json!([{"name":"n","value":1}])).await,
                StatusCode::OK
            );
        }
        let base = "/api/management/v1/inventory";
        let r = api
            .mgmt(Method::GET, &format!("{base}/devices/d1/group"), None)
            .await;
        assert_eq!(r.body, json!({"group": null}), "{be}");
        let r = api
            .mgmt(
                Method::PUT,
                &format!("{base}/devices/d1/group"),
                Some(json!({"group":"prod"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{be}: {}", r.body);
        for bad in [json!({"group":"bad name"}), json!({"group":""}), json!({})] {
            let r = api
                .mgmt(Method::PUT, &format!("{base}/devices/d1/group"), Some(bad))
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST);
        }
        let r = api
            .mgmt(
                Method::PUT,
                &format!("{base}/devices/nope/group"),
                Some(json!({"group":"prod"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = api
            .mgmt(Method::GET, &format!("{base}/devices/d1/group"), None)
            .await;
        assert_eq!(r.body, json!({"group": "prod"}));
        assert_eq!(
            value_of(&api.device_json("d1").await, "system", "group"),
            Some(json!("prod"))
        );

        let r = api
            .mgmt(
                Method::PATCH,
                &format!("{base}/groups/prod/devices"),
                Some(json!(["d1", "d2", "nope"])),
            )
            .await;
        assert_eq!(
            r.body,
            json!({"matched_count": 2, "updated_count": 1}),
            "{be}"
        );
        let r = api
            .mgmt(
                Method::PATCH,
                &format!("{base}/groups/prod/devices"),
                Some(json!([])),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = api
            .mgmt(
                Method::PUT,
                &format!("{base}/devices/d3/group"),
                Some(json!({"group":"test"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = api.mgmt(Method::GET, &format!("{base}/groups"), None).await;
        assert_eq!(r.body, json!(["prod", "test"]));

        let r = api
            .mgmt(
                Method::GET,
                &format!("{base}/groups/prod/devices?per_page=1"),
                None,
            )
            .await;
        assert_eq!(r.body, json!(["d1"]), "{be}");
        assert_eq!(r.headers["x-total-count"], "2");
        assert!(r.headers["link"].to_str().unwrap().contains("rel=\"next\""));
        let r = api
            .mgmt(Method::GET, &format!("{base}/groups/none/devices"), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);

        // v1 list by group / has_group.
        let r = api
            .mgmt(Method::GET, &format!("{base}/devices?group=prod"), None)
            .await;
        assert_eq!(r.headers["x-total-count"], "2");
        let r = api
            .mgmt(
                Method::GET,
                &format!("{base}/devices?has_group=false"),
                None,
            )
            .await;
        assert_eq!(r.headers["x-total-count"], "0");

        let r = api
            .mgmt(
                Method::DELETE,
                &format!("{base}/devices/d1/group/test"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{be}: not in that group");
        let r = api
            .mgmt(
                Method::DELETE,
                &format!("{base}/devices/d1/group/prod"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = api
            .mgmt(
                Method::DELETE,
                &format!("{base}/groups/prod/devices"),
                Some(json!(["d2", "d3"])),
            )
            .await;
        assert_eq!(r.body, json!({"updated_count": 1}));
        let r = api
            .mgmt(Method::DELETE, &format!("{base}/groups/test"), None)
            .await;
        assert_eq!(r.body, json!({"updated_count": 1}));
        let r = api
            .mgmt(Method::DELETE, &format!("{base}/groups/bad%20name"), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = api.mgmt(Method::GET, &format!("{base}/groups"), None).await;
        assert_eq!(r.body, json!([]), "{be}");
        // Internal device groups and the legacy alias.
        let r = api
            .mgmt(
                Method::PUT,
                "/api/0.1.0/devices/d1/group",
                Some(json!({"group":"g"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = api
            .call(
                Method::GET,
                "/api/internal/v1/inventory/tenants//devices/d1/groups",
                None,
                None,
            )
            .await;
        assert_eq!(r.body, json!({"groups": ["g"]}), "{be}");
        let r = api
            .call(
                Method::GET,
                "/api/internal/v1/inventory/tenants//devices/d2/groups",
                None,
                None,
            )
            .await;
        assert_eq!(r.body, json!({"groups": []}));
    }
}

#[tokio::test]
async fn v1_list_sort_filter_paging() {
    for (api, _g) in Api::all(InventoryConfig::default()).await {
        let be = api.be;
        for (d, n, mac) in [("d1", 3, "00:11"), ("d2", 1, "00:22"), ("d3", 2, "00:33")] {
            assert_eq!(
                api.put_inventory(
                    d,
                    json!([{"name":"n","value":n},{"name":"mac","value":mac}])
                )
                .await,
                StatusCode::OK
            );
        }
        let api = &api;
        let list = |q: &'static str| async move {
            let r = api
                .mgmt(
                    Method::GET,
                    &format!("/api/management/v1/inventory/devices{q}"),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
            let ids: Vec<String> = r
                .body
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["id"].as_str().unwrap().to_owned())
                .collect();
            (ids, r.headers)
        };
        assert_eq!(list("?sort=n:asc").await.0, vec!["d2", "d3", "d1"], "{be}");
        assert_eq!(
            list("?sort=inventory/n:desc").await.0,
            vec!["d1", "d3", "d2"]
        );
        assert_eq!(
            list("?sort=n").await.0,
            vec!["d1", "d3", "d2"],
            "default order is desc"
        );
        assert_eq!(
            list("?mac=00:22").await.0,
            vec!["d2"],
            "{be}: colon in value"
        );
        assert_eq!(list("?mac=eq:00:33").await.0, vec!["d3"]);
        assert_eq!(list("?n=2").await.0, vec!["d3"], "{be}: numeric match");
        assert_eq!(list("?inventory/n=5").await.0, Vec::<String>::new());
        let (ids, h) = list("?sort=n:asc&page=2&per_page=2").await;
        assert_eq!(ids, vec!["d1"]);
        assert_eq!(h["x-total-count"], "3");
        let link = h["link"].to_str().unwrap();
        assert!(
            link.contains("page=1&per_page=2>; rel=\"prev\"") && !link.contains("next"),
            "{link}"
        );
        for bad in [
            "?sort=n:up",
            "?has_group=perhaps",
            "?per_page=501",
            "?page=0",
        ] {
            let r = api
                .mgmt(
                    Method::GET,
                    &format!("/api/management/v1/inventory/devices{bad}"),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{be}: {bad}");
        }
    }
}

#[tokio::test]
async fn v2_search_operators_sort_select() {
    for (api, _g) in Api::all(InventoryConfig::default()).await {
        let be = api.be;
        api.put_inventory("a", json!([{"name":"n","value":1},{"name":"s","value":"alpha"},{"name":"arr","value":["x","y"]}])).await;
        api.put_inventory(
            "b",
            json!([{"name":"n","value":2},{"name":"s","value":"beta"}]),
        )
        .await;
        api.put_inventory("c", json!([{"name":"n","value":3},{"name":"s","value":"Gamma"},{"name":"t","value":"only-c"}])).await;
        let f = |op: &str, attr: &str, v: Value| json!([{"scope":"inventory","attribute":attr,"type":op,"value":v}]);
        assert_eq!(
            api.search_ids(f("$eq", "n", json!(2))).await,
            vec!["b"],
            "{be}"
        );
        assert_eq!(api.search_ids(f("$eq", "arr", json!("y"))).await, vec!["a"]);
        assert_eq!(
            api.search_ids(f("$ne", "n", json!(2))).await,
            vec!["a", "c"]
        );
        assert_eq!(
            api.search_ids(f("$ne", "t", json!("x"))).await,
            vec!["a", "b", "c"],
            "{be}: $ne matches missing"
        );
        assert_eq!(
            api.search_ids(f("$in", "s", json!(["beta", "alpha", "zzz"])))
                .await,
            vec!["a", "b"]
        );
        assert_eq!(
            api.search_ids(f("$in", "n", json!([1, 3]))).await,
            vec!["a", "c"]
        );
        assert_eq!(
            api.search_ids(f("$nin", "s", json!(["beta"]))).await,
            vec!["a", "c"]
        );
        assert_eq!(
            api.search_ids(f("$exists", "t", json!(true))).await,
            vec!["c"]
        );
        assert_eq!(
            api.search_ids(f("$exists", "t", json!(false))).await,
            vec!["a", "b"]
        );
        assert_eq!(
            api.search_ids(f("$gt", "n", json!(1))).await,
            vec!["b", "c"]
        );
        assert_eq!(
            api.search_ids(f("$gte", "n", json!(2))).await,
            vec!["b", "c"]
        );
        assert_eq!(api.search_ids(f("$lt", "n", json!(2))).await, vec!["a"]);
        assert_eq!(
            api.search_ids(f("$lte", "n", json!(2))).await,
            vec!["a", "b"]
        );
        assert_eq!(
            api.search_ids(f("$lt", "s", json!("b"))).await,
            vec!["a", "c"],
            "{be}: byte order, \"Gamma\" < \"b\""
        );
        assert_eq!(
            api.search_ids(f("$regex", "s", json!("a$"))).await,
            vec!["a", "b", "c"]
        );
        assert_eq!(
            api.search_ids(f("$regex", "s", json!("^g"))).await,
            Vec::<String>::new()
        );
        assert_eq!(
            api.search_ids(f("$regex", "s", json!("/^g/i"))).await,
            vec!["c"]
        );
        assert_eq!(
            api.search_ids(f("$regex", "s", json!("et"))).await,
            vec!["b"],
            "unanchored"
        );
        assert_eq!(
            api.search_ids(
                json!([{"scope":"identity","attribute":"id","type":"$in","value":["a","c"]}])
            )
            .await,
            vec!["a", "c"]
        );
        // Predicates combine with AND.
        let both = json!([{"scope":"inventory","attribute":"n","type":"$gt","value":1},{"scope":"inventory","attribute":"s","type":"$regex","value":"^b"}]);
        assert_eq!(api.search_ids(both).await, vec!["b"]);

        // Hostile regex: linear time, correct answer.
        let long = format!("{}!", "a".repeat(5000));
        api.put_inventory("d", json!([{"name":"s","value":long}]))
            .await;
        let t = std::time::Instant::now();
        assert_eq!(
            api.search_ids(f("$regex", "s", json!("(a+)+$"))).await,
            vec!["a", "b", "c"]
        );
        assert_eq!(
            api.search_ids(f("$regex", "s", json!("^(a+)+$"))).await,
            Vec::<String>::new()
        );
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "sanity bound only"
        );

        // Invalid filters: 400.
        let bad = [
            f("$regex", "s", json!("(")),
            f("$regex", "s", json!("(?=x)")),
            f("$regex", "s", json!("a".repeat(100_000))),
            f("$regex", "s", json!("(\\w{200}){200}")),
            f("$regex", "s", json!(5)),
            f("$in", "s", json!("notarray")),
            f("$exists", "s", json!("yes")),
            f("$gt", "s", json!({"a":1})),
            f("$where", "s", json!("1")),
            f("$eq", "s", json!(null)),
            json!([{"scope":"bogus","attribute":"s","type":"$eq","value":"x"}]),
            json!([{"scope":"inventory","attribute":"","type":"$eq","value":"x"}]),
        ];
        for b in bad {
            let r = api.search(json!({"filters": b})).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{be}: {b}");
        }
        for b in [
            json!({"sort":[{"scope":"inventory","attribute":"n","order":"up"}]}),
            json!({"page":"x"}),
            json!({"attributes":[{"scope":"inventory"}]}),
        ] {
            assert_eq!(
                api.search(b.clone()).await.status,
                StatusCode::BAD_REQUEST,
                "{be}: {b}"
            );
        }
        let r = api
            .raw(
                Method::POST,
                "/api/management/v2/inventory/filters/search",
                Some(user()),
                Body::from("{"),
                &[("content-type", "application/json")],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);

        // Sort, paging, selection.
        let r = api.search(json!({"sort":[{"scope":"inventory","attribute":"n","order":"desc"}],"page":1,"per_page":2,"attributes":[{"scope":"inventory","attribute":"s"}]})).await;
        assert_eq!(r.headers["x-total-count"], "4", "{be}");
        let devs = r.body.as_array().unwrap();
        assert_eq!(
            devs.iter()
                .map(|d| d["id"].as_str().unwrap())
                .collect::<Vec<_>>(),
            vec!["c", "b"]
        );
        let names: Vec<&str> = devs[0]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            vec!["s", "updated_ts"],
            "{be}: only selected (and updated_ts)"
        );
        assert!(r.headers["link"].to_str().unwrap().contains("rel=\"next\""));
        let r = api
            .search(json!({"sort":[{"scope":"inventory","attribute":"n","order":"asc"}]}))
            .await;
        let order: Vec<&str> = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            order,
            vec!["d", "a", "b", "c"],
            "{be}: missing first ascending"
        );
        // Empty body = everything.
        let r = api
            .call(
                Method::POST,
                "/api/management/v2/inventory/filters/search",
                Some(user()),
                None,
            )
            .await;
        assert_eq!(r.headers["x-total-count"], "4");
        // Text search.
        let r = api.search(json!({"text": "GAMMA"})).await;
        assert_eq!(r.body.as_array().unwrap().len(), 1, "{be}");

        // filters/attributes.
        let r = api
            .mgmt(
                Method::GET,
                "/api/management/v2/inventory/filters/attributes",
                None,
            )
            .await;
        let fa = r.body.as_array().unwrap();
        assert_eq!(fa[0]["count"], 4, "{be}: {}", r.body);
        assert!(
            fa.iter()
                .any(|a| a == &json!({"name":"t","scope":"inventory","count":1}))
        );
        let counts: Vec<i64> = fa.iter().map(|a| a["count"].as_i64().unwrap()).collect();
        assert!(counts.windows(2).all(|w| w[0] >= w[1]));

        // Internal v2 search with device_ids, also with an empty tenant segment.
        let r = api
            .call(
                Method::POST,
                "/api/internal/v2/inventory/tenants//filters/search",
                None,
                Some(json!({"device_ids":["a","b"]})),
            )
            .await;
        assert_eq!(r.headers["x-total-count"], "2", "{be}");
        let r = api
            .call(
                Method::POST,
                "/api/internal/v2/inventory/tenants/other/filters/search",
                None,
                Some(json!({})),
            )
            .await;
        assert_eq!(r.headers["x-total-count"], "0");
    }
}

#[tokio::test]
async fn internal_api() {
    for (api, _g) in Api::all(InventoryConfig::default()).await {
        let be = api.be;
        let base = "/api/internal/v1/inventory";
        assert_eq!(
            api.call(Method::GET, &format!("{base}/alive"), None, None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            api.call(Method::GET, &format!("{base}/health"), None, None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            api.call(
                Method::POST,
                &format!("{base}/tenants"),
                None,
                Some(json!({"tenant_id":"t1"}))
            )
            .await
            .status,
            StatusCode::CREATED
        );
        assert_eq!(
            api.call(
                Method::POST,
                &format!("{base}/tenants"),
                None,
                Some(json!({}))
            )
            .await
            .status,
            StatusCode::BAD_REQUEST
        );

        // provision_device.
        let body = json!({"id":"dev1","attributes":[{"name":"status","scope":"identity","value":"accepted"}]});
        let r = api
            .call(
                Method::POST,
                &format!("{base}/tenants//devices"),
                None,
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{be}: {}", r.body);
        assert_eq!(r.headers["location"], "devices/dev1");
        assert_eq!(
            api.call(
                Method::POST,
                &format!("{base}/tenants//devices"),
                None,
                Some(body)
            )
            .await
            .status,
            StatusCode::CREATED
        );
        assert_eq!(
            api.call(
                Method::POST,
                &format!("{base}/tenants//devices"),
                None,
                Some(json!({"attributes":[]}))
            )
            .await
            .status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            value_of(&api.device_json("dev1").await, "identity", "status"),
            Some(json!("accepted"))
        );

        // update_device_inventory (identity scope), with If-Unmodified-Since.
        let uri = format!("{base}/tenants//device/dev1/attribute/scope/identity");
        let r = api
            .call(
                Method::PATCH,
                &uri,
                None,
                Some(json!([{"name":"mac","value":"00:01"}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{be}: {}", r.body);
        assert_eq!(
            value_of(&api.device_json("dev1").await, "identity", "mac"),
            Some(json!("00:01"))
        );
        let r = api
            .call(
                Method::PATCH,
                &format!("{base}/tenants//device/dev1/attribute/scope/bogus"),
                None,
                Some(json!([{"name":"a","value":"1"}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        api.put_inventory("dev1", json!([{"name":"a","value":"1"}]))
            .await;
        let old = "Mon, 01 Jan 2001 00:00:00 GMT";
        let r = api
            .raw(
                Method::PATCH,
                &uri,
                None,
                Body::from(json!([{"name":"mac","value":"x"}]).to_string()),
                &[
                    ("content-type", "application/json"),
                    ("if-unmodified-since", old),
                ],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::PRECONDITION_FAILED,
            "{be}: {}",
            r.body
        );
        let r = api
            .raw(
                Method::PATCH,
                &uri,
                None,
                Body::from(json!([{"name":"mac","value":"x"}]).to_string()),
                &[
                    ("content-type", "application/json"),
                    ("if-unmodified-since", "garbage"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let r = api
            .call(
                Method::PATCH,
                &format!("{base}/tenants//device/dev1/attribute/scope/system"),
                None,
                Some(json!([{"name":"check_in_time","value":"nope"}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);

        // update_device_status: revisions must grow.
        let st = format!("{base}/tenants//devices/status/rejected");
        let r = api
            .call(
                Method::POST,
                &st,
                None,
                Some(json!([{"id":"dev1","revision":2}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{be}: {}", r.body);
        assert_eq!(
            value_of(&api.device_json("dev1").await, "identity", "status"),
            Some(json!("rejected"))
        );
        let r = api
            .call(
                Method::POST,
                &st,
                None,
                Some(json!([{"id":"dev1","revision":1}])),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        let r = api
            .call(
                Method::POST,
                &st,
                None,
                Some(json!([{"id":"dev1","revision":1},{"id":"dev2","revision":1}])),
            )
            .await;
        assert_eq!(r.body, json!({"created_count": 1}), "{be}");
        let r = api
            .call(
                Method::POST,
                &format!("{base}/tenants//devices/status/bogus"),
                None,
                Some(json!([])),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = api
            .call(
                Method::POST,
                &format!("{base}/tenants//devices/status/decommissioned"),
                None,
                Some(json!([{"id":"dev2","revision":0}])),
            )
            .await;
        assert_eq!(r.body, json!({"deleted_count": 1}));

        // Reindex (devicemonitor only).
        let r = api
            .call(
                Method::POST,
                &format!("{base}/tenants//devices/dev1/reindex?service=devicemonitor"),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            value_of(&api.device_json("dev1").await, "monitor", "alerts"),
            Some(json!(false))
        );
        let r = api
            .call(
                Method::POST,
                &format!("{base}/tenants//devices/dev1/reindex?service=x"),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);

        // decommission_device, tenant separation.
        let r = api
            .call(
                Method::POST,
                &format!("{base}/tenants/t1/devices"),
                None,
                Some(json!({"id":"dev1"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(
            api.call(
                Method::DELETE,
                &format!("{base}/tenants//devices/dev1"),
                None,
                None
            )
            .await
            .status,
            StatusCode::NO_CONTENT
        );
        let r = api
            .mgmt(
                Method::GET,
                "/api/management/v1/inventory/devices/dev1",
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{be}");
        let r = api
            .call(
                Method::GET,
                &format!("{base}/tenants/t1/devices/dev1/groups"),
                None,
                None,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{be}: other tenant keeps its device"
        );
        assert_eq!(
            api.call(
                Method::DELETE,
                &format!("{base}/tenants//devices/dev1"),
                None,
                None
            )
            .await
            .status,
            StatusCode::NO_CONTENT
        );
    }
}

#[tokio::test]
async fn concurrent_patches_all_land() {
    for (api, _g) in Api::all(InventoryConfig::default()).await {
        let api = Arc::new(api);
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..12 {
            let api = api.clone();
            tasks.spawn(async move {
                let body = json!([{"name": format!("k{i}"), "value": i}]);
                api.call(
                    Method::PATCH,
                    "/api/devices/v1/inventory/device/attributes",
                    Some(device("race")),
                    Some(body),
                )
                .await
                .status
            });
        }
        while let Some(s) = tasks.join_next().await {
            assert_eq!(s.unwrap(), StatusCode::OK, "{}", api.be);
        }
        let d = api.device_json("race").await;
        for i in 0..12 {
            assert_eq!(
                value_of(&d, "inventory", &format!("k{i}")),
                Some(json!(i)),
                "{}: lost update",
                api.be
            );
        }
    }
}
