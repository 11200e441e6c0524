//! The store conformance suite: `SqlStore` behaves the same on SQLite and PostgreSQL
//! (`store::sqlite::<name>`, `store::postgres::<name>`).

use mender_core::{DeviceId, TenantId, Timestamp};
use mender_db::testing::{Backend, TestDb};
use mender_db::{Dialect, query};
use mender_inventory::SCHEMA;
use mender_inventory::model::{DeviceRecord, StoredAttr};
use mender_inventory::store::{
    CmpOp, Cond, InventoryStore, Key, Query, Scalar, SortKey, SqlStore, StoreError, TierCounts,
};
use serde_json::{Value, json};

mender_db::each_backend!(
    inserts_reads_and_separates_tenants,
    updates_are_guarded_by_version,
    predicates_follow_mongodb,
    search_ids_lists_every_match_in_creation_order,
    sorts_missing_first_ascending,
    groups_change_in_bulk,
    distinct_strings_and_filter_attributes,
    delete_removes_index_rows,
    times_keep_their_stored_text,
    corrupt_rows_are_reported,
    bulk_load_refreshes_statistics,
    prefixes_match_in_code_point_order,
    tier_counts_come_from_the_index,
    all_device_ids_spans_tenants_in_order,
    updates_rewrite_only_changed_index_rows,
);

/// Creation time of the devices of [`rec`].
const CREATED: &str = "2024-01-01T00:00:00.000Z";

fn tenant(t: &str) -> TenantId {
    TenantId::from(t)
}

fn dev(id: &str) -> DeviceId {
    DeviceId::from(id)
}

fn devs(ids: &[&str]) -> Vec<DeviceId> {
    ids.iter().map(|i| dev(i)).collect()
}

fn stored(value: Value) -> StoredAttr {
    StoredAttr {
        value,
        description: None,
        timestamp: None,
    }
}

fn rec(id: &str, attrs: &[(&str, &str, Value)]) -> DeviceRecord {
    let created = Timestamp::parse_rfc3339(CREATED).unwrap();
    let mut r = DeviceRecord::new(dev(id), created);
    for (s, n, v) in attrs {
        r.attrs
            .insert((s.to_string(), n.to_string()), stored(v.clone()));
    }
    r
}

fn attr(scope: &str, name: &str) -> Key {
    Key::Attr {
        scope: scope.into(),
        name: name.into(),
    }
}

/// Attribute `name` of the inventory scope.
fn inv(name: &str) -> Key {
    attr("inventory", name)
}

/// A string operand.
fn text(s: &str) -> Scalar {
    Scalar::Str(s.into())
}

fn eq(k: Key, v: Scalar) -> Cond {
    Cond::In {
        key: k,
        values: vec![v],
        negate: false,
    }
}

fn exists(key: Key) -> Cond {
    Cond::Exists { key, exists: true }
}

/// The three devices of the default tenant most tests search.
fn abc() -> [DeviceRecord; 3] {
    [
        rec(
            "a",
            &[
                ("inventory", "n", json!(5)),
                ("inventory", "s", json!("x")),
                ("inventory", "arr", json!(["p", "q"])),
            ],
        ),
        rec(
            "b",
            &[
                ("inventory", "n", json!(10)),
                ("inventory", "s", json!("y")),
                ("inventory", "e", json!([])),
            ],
        ),
        rec("c", &[("inventory", "s", json!("é".repeat(300)))]),
    ]
}

/// A store on a fresh database of `backend`.
async fn open(backend: Backend) -> (SqlStore, TestDb) {
    let db = backend.open(&SCHEMA).await;
    (SqlStore(db.db()), db)
}

/// A store holding [`abc`] in the default tenant, `a` in tenant `t2`, and `x`, `y` in `t3`.
async fn seeded(backend: Backend) -> (SqlStore, TestDb) {
    let (store, db) = open(backend).await;
    for r in abc() {
        assert!(store.insert_device(&tenant(""), &r).await.unwrap());
    }
    assert!(
        store
            .insert_device(&tenant("t2"), &rec("a", &[]))
            .await
            .unwrap()
    );
    let bulk = [rec("x", &[]), rec("y", &[])];
    assert_eq!(store.insert_devices(&tenant("t3"), &bulk).await.unwrap(), 2);
    (store, db)
}

/// Ids (and total) of a search of the default tenant.
async fn ids(store: &SqlStore, conds: Vec<Cond>, sort: Vec<SortKey>) -> (Vec<String>, u64) {
    let q = Query {
        conds,
        sort,
        offset: 0,
        limit: 100,
    };
    let (found, total) = store.search(&tenant(""), &q).await.unwrap();
    (
        found.into_iter().map(|d| d.id.into_string()).collect(),
        total,
    )
}

/// Inserts `devices` into the default tenant and `elsewhere` into tenant `t2` (which no
/// answer for the default tenant may include).
async fn seed(store: &SqlStore, devices: &[DeviceRecord], elsewhere: &DeviceRecord) {
    for r in devices {
        assert!(store.insert_device(&tenant(""), r).await.unwrap());
    }
    assert!(store.insert_device(&tenant("t2"), elsewhere).await.unwrap());
}

/// Ids of the devices of the default tenant that `cond` matches.
async fn ids_where(store: &SqlStore, cond: Cond) -> Vec<String> {
    ids(store, vec![cond], vec![]).await.0
}

/// How many devices of the default tenant `cond` matches.
async fn count_where(store: &SqlStore, cond: Cond) -> u64 {
    ids(store, vec![cond], vec![]).await.1
}

/// Ids of all devices of the default tenant, sorted by `key`.
async fn sorted(store: &SqlStore, key: Key, desc: bool) -> Vec<String> {
    ids(store, vec![], vec![SortKey { key, desc }]).await.0
}

async fn inserts_reads_and_separates_tenants(backend: Backend) {
    let (store, _db) = open(backend).await;
    let t = tenant("");
    store.ping().await.unwrap();
    assert!(store.get_device(&t, &dev("a")).await.unwrap().is_none());

    let [a, b, c] = abc();
    assert!(store.insert_device(&t, &a).await.unwrap());
    assert!(
        !store.insert_device(&t, &a).await.unwrap(),
        "duplicate insert"
    );
    assert!(store.insert_device(&t, &b).await.unwrap());
    assert!(store.insert_device(&t, &c).await.unwrap());
    // Other tenants are invisible.
    assert!(
        store
            .insert_device(&tenant("t2"), &rec("a", &[]))
            .await
            .unwrap()
    );
    let bulk = [rec("x", &[]), rec("y", &[]), rec("x", &[])];
    assert_eq!(
        store.insert_devices(&tenant("t3"), &bulk).await.unwrap(),
        2,
        "bulk skips existing"
    );
    assert!(
        store
            .get_device(&tenant("t3"), &dev("y"))
            .await
            .unwrap()
            .is_some()
    );

    let got = store.get_device(&t, &dev("a")).await.unwrap().unwrap();
    assert_eq!(got.attrs, a.attrs);
    assert_eq!(got.version, 0);
    assert_eq!(got, a, "the whole record reads back");
}

async fn updates_are_guarded_by_version(backend: Backend) {
    let (store, _db) = seeded(backend).await;
    let t = tenant("");
    let got = store.get_device(&t, &dev("a")).await.unwrap().unwrap();
    // Optimistic concurrency: a stale version does not write.
    let mut upd = got.clone();
    upd.attrs
        .insert(("tags".into(), "t".into()), stored(json!("v")));
    assert!(store.update_device(&t, &upd).await.unwrap());
    assert!(
        !store.update_device(&t, &upd).await.unwrap(),
        "stale version"
    );
    let got = store.get_device(&t, &dev("a")).await.unwrap().unwrap();
    assert_eq!(got.version, 1);
    assert!(got.attrs.contains_key(&("tags".into(), "t".into())));
    // The index follows the document.
    assert_eq!(
        ids_where(&store, eq(attr("tags", "t"), text("v"))).await,
        vec!["a"]
    );
}

async fn predicates_follow_mongodb(backend: Backend) {
    let (store, _db) = seeded(backend).await;
    assert_eq!(
        ids(&store, vec![eq(inv("n"), Scalar::Num(5.0))], vec![]).await,
        (vec!["a".into()], 1)
    );
    assert_eq!(
        count_where(&store, eq(inv("n"), text("5"))).await,
        0,
        "types don't mix"
    );
    let long = "é".repeat(300);
    let cases: Vec<(Cond, &[&str], &str)> = vec![
        (eq(inv("arr"), text("q")), &["a"], "array element"),
        (
            Cond::In {
                key: inv("n"),
                values: vec![Scalar::Num(5.0)],
                negate: true,
            },
            &["b", "c"],
            "$ne includes missing",
        ),
        (
            Cond::Cmp {
                key: inv("n"),
                op: CmpOp::Gt,
                value: Scalar::Num(5.0),
            },
            &["b"],
            "",
        ),
        (eq(inv("s"), text(&long)), &["c"], "long strings"),
        (
            Cond::Cmp {
                key: inv("s"),
                op: CmpOp::Lt,
                value: text(&long),
            },
            &["a", "b"],
            "string order",
        ),
        (exists(inv("e")), &["b"], "empty array exists"),
        (
            Cond::In {
                key: Key::DeviceId,
                values: vec![text("b"), text("c")],
                negate: false,
            },
            &["b", "c"],
            "",
        ),
        (Cond::Text(vec!["y".into()]), &["b"], "text"),
    ];
    for (cond, want, why) in cases {
        assert_eq!(ids_where(&store, cond).await, want, "{why}");
    }
}

async fn search_ids_lists_every_match_in_creation_order(backend: Backend) {
    let (store, _db) = seeded(backend).await;
    let t = tenant("");
    // The whole matching set, ids only, in creation order, per tenant.
    assert_eq!(
        store.search_ids(&t, &[exists(inv("s"))]).await.unwrap(),
        devs(&["a", "b", "c"]),
        "search_ids"
    );
    assert_eq!(
        store
            .search_ids(&t, &[eq(attr("inventory", "n"), Scalar::Num(10.0))])
            .await
            .unwrap(),
        devs(&["b"])
    );
    assert_eq!(
        store.search_ids(&tenant("t3"), &[]).await.unwrap(),
        devs(&["x", "y"])
    );
}

async fn sorts_missing_first_ascending(backend: Backend) {
    let (store, _db) = seeded(backend).await;
    // Sorting: missing first ascending, last descending; numbers by value.
    assert_eq!(sorted(&store, inv("n"), false).await, vec!["c", "a", "b"]);
    assert_eq!(sorted(&store, inv("n"), true).await, vec!["b", "a", "c"]);
    assert_eq!(
        sorted(&store, Key::DeviceId, true).await,
        vec!["c", "b", "a"]
    );
}

async fn groups_change_in_bulk(backend: Backend) {
    let (store, _db) = seeded(backend).await;
    let t = tenant("");
    let r = store
        .set_group(&t, &devs(&["a", "b", "zz"]), "g1")
        .await
        .unwrap();
    assert_eq!((r.matched_count, r.updated_count), (2, 2));
    let r = store.set_group(&t, &devs(&["a"]), "g1").await.unwrap();
    assert_eq!((r.matched_count, r.updated_count), (1, 0), "unchanged");
    assert_eq!(
        store
            .get_device(&t, &dev("a"))
            .await
            .unwrap()
            .unwrap()
            .group
            .as_deref(),
        Some("g1")
    );
    assert_eq!(
        ids_where(&store, eq(attr("system", "group"), text("g1"))).await,
        vec!["a", "b"]
    );
    assert_eq!(store.list_groups(&t, None).await.unwrap(), vec!["g1"]);
    assert_eq!(
        store.list_groups(&tenant("t2"), None).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        store
            .unset_group(&t, Some(&devs(&["a"])), "other")
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .unset_group(&t, Some(&devs(&["a"])), "g1")
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.unset_group(&t, None, "g1").await.unwrap(), 1);
    assert!(store.list_groups(&t, None).await.unwrap().is_empty());
    assert_eq!(
        count_where(&store, exists(attr("system", "group"))).await,
        0
    );
}

async fn distinct_strings_and_filter_attributes(backend: Backend) {
    let (store, _db) = seeded(backend).await;
    let t = tenant("");
    let mut vals = store
        .distinct_strings(&t, &attr("inventory", "s"))
        .await
        .unwrap();
    vals.sort();
    assert_eq!(vals.len(), 3);
    let fa = store.filter_attributes(&t, 5000, 500).await.unwrap();
    let get = |s: &str, n: &str| {
        fa.iter()
            .find(|f| f.scope == s && f.name == n)
            .map(|f| f.count)
    };
    assert_eq!(get("inventory", "s"), Some(3), "{fa:?}");
    assert_eq!(get("inventory", "arr"), Some(1), "arrays count once");
    assert_eq!(get("system", "created_ts"), Some(3));
    assert_eq!(fa[0].count, 3);
}

async fn delete_removes_index_rows(backend: Backend) {
    let (store, _db) = seeded(backend).await;
    let t = tenant("");
    assert_eq!(
        store
            .delete_devices(&t, &devs(&["a", "nope"]))
            .await
            .unwrap(),
        1
    );
    assert!(store.get_device(&t, &dev("a")).await.unwrap().is_none());
    assert!(
        store
            .get_device(&tenant("t2"), &dev("a"))
            .await
            .unwrap()
            .is_some(),
        "tenant kept"
    );
    assert_eq!(count_where(&store, eq(inv("arr"), text("q"))).await, 0);
}

/// Times are stored as fixed-width text (existing databases hold it), read back exactly,
/// and searched and sorted as that text.
async fn times_keep_their_stored_text(backend: Backend) {
    let (store, db) = open(backend).await;
    let t = tenant("");
    let mut r = rec("new", &[]);
    // Sub-millisecond parts are not kept; the app never hands the store any.
    r.created_ts = Timestamp::from_unix_millis(1_700_000_000_120);
    r.updated_ts = Some(Timestamp::from_unix_millis(1_700_000_001_005));
    assert!(store.insert_device(&t, &r).await.unwrap());
    let (created, updated): (String, Option<String>) =
        query("SELECT created_ts, updated_ts FROM devices WHERE id = $1")
            .bind("new")
            .fetch_one(&*db)
            .await
            .unwrap();
    assert_eq!(created, "2023-11-14T22:13:20.120Z");
    assert_eq!(updated.as_deref(), Some("2023-11-14T22:13:21.005Z"));
    assert_eq!(store.get_device(&t, &dev("new")).await.unwrap(), Some(r));

    // A row as an existing database holds it.
    query(
        "INSERT INTO devices (tenant_id, id, attrs, created_ts, updated_ts) \
         VALUES ('', 'old', '[]', '2020-02-03T04:05:06.789Z', '2021-01-01T00:00:00.000Z')",
    )
    .execute(&*db)
    .await
    .unwrap();
    let old = store.get_device(&t, &dev("old")).await.unwrap().unwrap();
    assert_eq!(
        old.created_ts,
        Timestamp::from_unix_millis(1_580_702_706_789)
    );
    assert_eq!(
        old.updated_ts,
        Some(Timestamp::from_unix_millis(1_609_459_200_000))
    );

    // The index holds the same text: string predicates and sorting are time order.
    let created_after = Cond::Cmp {
        key: attr("system", "created_ts"),
        op: CmpOp::Gt,
        value: text("2023-11-14T22:13:20.119Z"),
    };
    assert_eq!(ids_where(&store, created_after).await, vec!["new"]);
    let updated = eq(
        attr("system", "updated_ts"),
        text("2023-11-14T22:13:21.005Z"),
    );
    assert_eq!(ids_where(&store, updated).await, vec!["new"]);
}

/// A stored document or time the domain cannot read is a store error naming the device.
async fn corrupt_rows_are_reported(backend: Backend) {
    let (store, db) = open(backend).await;
    query(
        "INSERT INTO devices (tenant_id, id, attrs, created_ts) VALUES \
         ('', 'doc', 'not json', '2020-02-03T04:05:06.789Z'), ('', 'time', '[]', 'yesterday')",
    )
    .execute(&*db)
    .await
    .unwrap();
    for (id, what) in [("doc", "attribute document"), ("time", "created_ts")] {
        let err = store.get_device(&tenant(""), &dev(id)).await.unwrap_err();
        match &err {
            StoreError::Corrupt { device, what: w } => {
                assert_eq!(device, &dev(id));
                assert!(w.starts_with(what), "{w}");
            }
            other => panic!("{id}: {other:?}"),
        }
        // The app's error wraps the store's, and the API answers 500 without details.
        let api: mender_core::ApiError = mender_inventory::Error::from(err).into();
        assert_eq!(api.status.as_u16(), 500);
        assert_eq!(api.message, "internal error");
    }
}

/// A bulk load of 100 devices or more refreshes the planner statistics.
async fn bulk_load_refreshes_statistics(backend: Backend) {
    let (store, db) = open(backend).await;
    let recs: Vec<DeviceRecord> = (0..120)
        .map(|i| rec(&format!("d{i:03}"), &[("inventory", "n", json!(i))]))
        .collect();
    assert_eq!(store.insert_devices(&tenant(""), &recs).await.unwrap(), 120);
    let analyzed: i64 = match db.dialect() {
        Dialect::Sqlite => query("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'attr_index'")
            .scalar(&*db)
            .await
            .unwrap(),
        Dialect::Postgres => {
            query("SELECT CAST(reltuples AS BIGINT) FROM pg_class WHERE oid = 'devices'::regclass")
                .scalar(&*db)
                .await
                .unwrap()
        }
    };
    match db.dialect() {
        Dialect::Sqlite => assert!(analyzed > 0, "no statistics for attr_index"),
        Dialect::Postgres => assert_eq!(analyzed, 120, "devices not analyzed"),
    }
}

/// `Cond::Prefix` (the identity search): string values, code-point order at any length,
/// array elements, the device id.
async fn prefixes_match_in_code_point_order(backend: Backend) {
    let (store, _db) = open(backend).await;
    let long = format!("{}tail", "é".repeat(200));
    let max = char::MAX.to_string();
    let devices = [
        rec("dev-1", &[("identity", "mac", json!("00:01:02"))]),
        rec("dev-2", &[("identity", "mac", json!(["aa", "00:01:ff"]))]),
        rec("dev-3", &[("identity", "mac", json!("00:02"))]),
        rec("other", &[("identity", "mac", json!(1))]),
        rec("x-1", &[("identity", "mac", json!(long.clone()))]),
        rec("x-2", &[("identity", "mac", json!(format!("{max}{max}a")))]),
        rec("x-3", &[("identity", "mac", json!("00:01"))]),
    ];
    let elsewhere = rec("dev-9", &[("identity", "mac", json!("00:01"))]);
    seed(&store, &devices, &elsewhere).await;
    let prefix = |key: Key, p: &str| Cond::Prefix {
        key,
        prefix: p.into(),
    };
    let mac = || attr("identity", "mac");
    for (cond, want) in [
        (prefix(mac(), "00:01"), vec!["dev-1", "dev-2", "x-3"]),
        (prefix(mac(), "00:01:f"), vec!["dev-2"]),
        (prefix(mac(), "00"), vec!["dev-1", "dev-2", "dev-3", "x-3"]),
        (prefix(mac(), "01"), vec![]),
        // Past the 128 characters the index keeps.
        (prefix(mac(), &long[..long.len() - 2]), vec!["x-1"]),
        (prefix(mac(), &format!("{}x", "é".repeat(200))), vec![]),
        // No character follows U+10FFFF: the range is open.
        (prefix(mac(), &max), vec!["x-2"]),
        (
            prefix(Key::DeviceId, "dev-"),
            vec!["dev-1", "dev-2", "dev-3"],
        ),
        (prefix(Key::DeviceId, "x"), vec!["x-1", "x-2", "x-3"]),
        (prefix(attr("tags", "name"), "d"), vec![]),
    ] {
        assert_eq!(ids_where(&store, cond.clone()).await, want, "{cond:?}");
    }
}

/// The statistics' counts: accepted and pending devices, and per tier value for those with a
/// system tier; one tenant only.
async fn tier_counts_come_from_the_index(backend: Backend) {
    let (store, _db) = open(backend).await;
    let status = |s: &str| ("identity", "status", json!(s));
    let tier = |v: Value| ("system", "tier", v);
    let devices = [
        rec("a1", &[status("accepted")]),
        rec("a2", &[status("accepted"), tier(json!("micro"))]),
        rec("a3", &[status("accepted"), tier(json!(5))]),
        rec("p1", &[status("pending"), tier(json!("system"))]),
        rec("r1", &[status("rejected"), tier(json!("micro"))]),
        rec("n1", &[tier(json!("micro"))]),
    ];
    let elsewhere = rec("a1", &[status("accepted"), tier(json!("micro"))]);
    seed(&store, &devices, &elsewhere).await;
    let mut counts = store.tier_counts(&tenant("")).await.unwrap();
    counts.totals.sort();
    counts.tiered.sort();
    assert_eq!(
        counts,
        TierCounts {
            totals: vec![("accepted".into(), 3), ("pending".into(), 1)],
            tiered: vec![
                ("accepted".into(), None, 1),
                ("accepted".into(), Some("micro".into()), 1),
                ("pending".into(), Some("system".into()), 1),
            ],
        }
    );
    let empty = store.tier_counts(&tenant("nobody")).await.unwrap();
    assert_eq!(empty, TierCounts::default());
}

/// What start-up reconciliation compares with device authentication: every device of every
/// tenant, ordered by tenant and id, deleted ones gone.
async fn all_device_ids_spans_tenants_in_order(backend: Backend) {
    let (s, _db) = open(backend).await;
    assert!(s.all_device_ids().await.unwrap().is_empty());
    for (t, id) in [("t2", "b"), ("", "z"), ("t2", "a"), ("", "c")] {
        assert!(s.insert_device(&tenant(t), &rec(id, &[])).await.unwrap());
    }
    s.delete_devices(&tenant(""), &devs(&["z"])).await.unwrap();
    let got: Vec<(String, String)> = s
        .all_device_ids()
        .await
        .unwrap()
        .into_iter()
        .map(|(t, d)| (t.as_str().to_owned(), d.into_string()))
        .collect();
    let want = [("", "c"), ("t2", "a"), ("t2", "b")].map(|(t, d)| (t.to_owned(), d.to_owned()));
    assert_eq!(got, want, "{}", s.0.backend());
}

/// The physical row ids of a device's index rows per attribute name: SQLite's `rowid`,
/// PostgreSQL's `ctid` (both change when a row is deleted and inserted again).
async fn index_row_ids(db: &TestDb, id: &str) -> Vec<(String, String)> {
    let q = match db.dialect() {
        Dialect::Sqlite => query(
            "SELECT a.name, CAST(a.rowid AS TEXT) FROM attr_index a JOIN devices d \
             ON d.seq = a.dev_seq WHERE d.id = $1 AND a.scope = 'inventory' ORDER BY a.name, a.i",
        ),
        Dialect::Postgres => query(
            "SELECT a.name, CAST(a.ctid AS TEXT) FROM attr_index a JOIN devices d \
             ON d.seq = a.dev_seq WHERE d.id = $1 AND a.scope = 'inventory' ORDER BY a.name, a.i",
        ),
    };
    q.bind(id).fetch_all(&**db).await.unwrap()
}

/// An update rewrites the index rows of the attributes that changed and leaves the others'
/// rows alone (a big array re-reported unchanged costs no index writes), and the index still
/// answers for old and new values.
async fn updates_rewrite_only_changed_index_rows(backend: Backend) {
    let (store, db) = open(backend).await;
    let t = tenant("");
    let big: Vec<String> = (0..200).map(|i| format!("e{i}")).collect();
    let first = rec(
        "a",
        &[
            ("inventory", "big", json!(big)),
            ("inventory", "n", json!(1)),
            ("inventory", "gone", json!("x")),
        ],
    );
    assert!(store.insert_device(&t, &first).await.unwrap());
    // Rows written after a's, so that rewritten rows of a cannot get their old ids back.
    let later = rec("b", &[("inventory", "other", json!(1))]);
    assert!(store.insert_device(&t, &later).await.unwrap());
    let before = index_row_ids(&db, "a").await;
    let mut upd = store.get_device(&t, &dev("a")).await.unwrap().unwrap();
    upd.attrs
        .insert(("inventory".into(), "n".into()), stored(json!(2)));
    upd.attrs.remove(&("inventory".into(), "gone".into()));
    upd.attrs.insert(
        ("inventory".into(), "new".into()),
        stored(json!(["p", "q"])),
    );
    assert!(store.update_device(&t, &upd).await.unwrap());
    let after = index_row_ids(&db, "a").await;
    let of = |rows: &[(String, String)], name: &str| -> Vec<String> {
        rows.iter()
            .filter(|(n, _)| n == name)
            .map(|(_, id)| id.clone())
            .collect()
    };
    assert_eq!(of(&after, "big").len(), 200);
    assert_eq!(of(&after, "big"), of(&before, "big"), "unchanged rows kept");
    assert_ne!(of(&after, "n"), of(&before, "n"), "changed row rewritten");
    assert!(of(&after, "gone").is_empty());
    assert_eq!(of(&after, "new").len(), 2);
    for (c, want) in [
        (eq(inv("big"), text("e199")), vec!["a"]),
        (eq(inv("n"), Scalar::Num(2.0)), vec!["a"]),
        (eq(inv("n"), Scalar::Num(1.0)), vec![]),
        (eq(inv("gone"), text("x")), vec![]),
        (eq(inv("new"), text("q")), vec!["a"]),
    ] {
        assert_eq!(ids_where(&store, c.clone()).await, want, "{c:?}");
    }
}
