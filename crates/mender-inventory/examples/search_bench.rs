//! Seeds N devices × 30 attributes and measures `filters/search` latency (median, p99).
//!
//! ```sh
//! cargo run -p mender-inventory --example search_bench -- sqlite /tmp/invbench 100000 30
//! cargo run -p mender-inventory --example search_bench -- postgres postgres://postgres@127.0.0.1:5432/test 100000 30
//! ```
//! Arguments: backend (`sqlite` with a directory, `postgres` with a URL), devices,
//! iterations per query. An already seeded database is reused.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mender_core::clock::{self, SharedClock};
use mender_core::{DeviceId, TenantId};
use mender_db::{DatabaseUrl, Db, Schema};
use mender_inventory::model::{DeviceRecord, StoredAttr};
use mender_inventory::search::SearchParams;
use mender_inventory::{InventoryConfig, Service};
use serde_json::{Value, json};
use sqlx::migrate::Migrator;

static MIG_SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static MIG_POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");
/// The inventory's tables under a name of their own (`inventory_bench.db`, schema
/// `mender_inventory_bench`), so that a benchmark never seeds a server's inventory.
static BENCH_SCHEMA: Schema = Schema::new("inventory_bench", &MIG_SQLITE, &MIG_POSTGRES);

/// Attribute `k` of device `i`: a mix of low-cardinality strings, numbers, unique strings
/// and arrays, like real inventories.
fn value(i: usize, k: usize) -> Value {
    match k % 5 {
        0 => json!(format!("type-{}", (i * 7 + k) % 10)),
        1 => json!(((i * 31 + k * 17) % 1000) as f64),
        2 => json!(format!("serial-{i:08}-{k}")),
        3 => json!([format!("mod-{}", i % 13), format!("mod-{}", (i + k) % 17)]),
        _ => json!(format!("v{}.{}.{}", i % 4, k % 7, i % 50)),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).map_or("sqlite", String::as_str);
    let location = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "/tmp/inventory-bench".into());
    let devices: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let iterations: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(30);
    let url = match backend {
        "sqlite" => DatabaseUrl::Sqlite(location.into()),
        _ => DatabaseUrl::Postgres(location),
    };
    let db = Db::connect(&url, &BENCH_SCHEMA).await?;
    let clock: SharedClock = clock::system();
    let svc = Service::new(db, clock.clone(), InventoryConfig::default());
    let app = svc.app().clone();
    let tenant = TenantId::default();

    let have = app
        .search(&tenant, SearchParams::default().compile(app.config())?)
        .await?
        .1 as usize;
    if have < devices {
        println!("seeding {} devices × 30 attributes ...", devices - have);
        let t = Instant::now();
        let store: Arc<dyn mender_inventory::InventoryStore> = store_of(&svc);
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in (have..devices).collect::<Vec<_>>().chunks(
            devices
                .div_ceil(if backend == "sqlite" { 1 } else { 4 })
                .max(1),
        ) {
            let (store, chunk, clock, tenant) =
                (store.clone(), chunk.to_vec(), clock.clone(), tenant.clone());
            tasks.spawn(async move {
                for batch in chunk.chunks(500) {
                    let mut recs = Vec::with_capacity(batch.len());
                    for &i in batch {
                        let now = mender_inventory::model::to_millis(clock.now());
                        let mut r =
                            DeviceRecord::new(DeviceId::from(format!("device-{i:08}")), now);
                        for k in 0..30 {
                            let stored = StoredAttr {
                                value: value(i, k),
                                description: None,
                                timestamp: None,
                            };
                            r.attrs
                                .insert(("inventory".into(), format!("attr_{k}")), stored);
                        }
                        r.updated_ts = Some(now);
                        recs.push(r);
                    }
                    store.insert_devices(&tenant, &recs).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        println!("seeded in {:.1?}", t.elapsed());
    }

    let f = |op: &str, attr: &str, v: Value| json!({"scope":"inventory","attribute":attr,"type":op,"value":v});
    let sort =
        |attr: &str, order: &str| json!([{"scope":"inventory","attribute":attr,"order":order}]);
    let queries: Vec<(&str, Value)> = vec![
        ("no filter, page 1", json!({})),
        (
            "$eq unique serial",
            json!({"filters":[f("$eq","attr_2",json!("serial-00051234-2"))]}),
        ),
        (
            "$eq 10% + $gt number",
            json!({"filters":[f("$eq","attr_0",json!("type-3")), f("$gt","attr_1",json!(500))]}),
        ),
        (
            "$in array elements",
            json!({"filters":[f("$in","attr_3",json!(["mod-1","mod-2"]))]}),
        ),
        (
            "$ne (90% match)",
            json!({"filters":[f("$ne","attr_0",json!("type-3"))]}),
        ),
        (
            "$exists + sort number desc",
            json!({"filters":[f("$exists","attr_6",json!(true))],"sort":sort("attr_6","desc")}),
        ),
        (
            "$lt number + sort string asc",
            json!({"filters":[f("$lt","attr_1",json!(100))],"sort":sort("attr_4","asc")}),
        ),
        (
            "$regex over 100k distinct",
            json!({"filters":[f("$regex","attr_2",json!("^serial-0005.*-2$"))]}),
        ),
        (
            "$regex 'contains', 4 distinct",
            json!({"filters":[f("$regex","attr_4",json!("1\\.2"))]}),
        ),
        (
            "sort all by string, page 50",
            json!({"sort":sort("attr_7","asc"),"page":50,"per_page":20}),
        ),
    ];
    println!("{backend}: {devices} devices, {iterations} iterations per query");
    println!(
        "{:<34} {:>8} {:>10} {:>10}",
        "query", "total", "median", "p99"
    );
    for (name, body) in queries {
        let mut times: Vec<Duration> = Vec::with_capacity(iterations);
        let mut total = 0;
        for _ in 0..iterations {
            let params: SearchParams = serde_json::from_value(body.clone())?;
            let t = Instant::now();
            let (_, n) = app.search(&tenant, params.compile(app.config())?).await?;
            times.push(t.elapsed());
            total = n;
        }
        times.sort();
        let p = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
        println!("{name:<34} {total:>8} {:>10.1?} {:>10.1?}", p(0.5), p(0.99));
    }
    Ok(())
}

fn store_of(svc: &Service) -> Arc<dyn mender_inventory::InventoryStore> {
    svc.app().store()
}
