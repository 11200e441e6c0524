//! Artifacts and releases (one row per artifact name, with notes and tags).

use mender_core::{ArtifactId, TenantId, Timestamp};
use mender_db::{Db, QueryBuilder, query};

use super::rows::{
    ARTIFACT_COLUMNS, ArtifactRow, contains_pattern, convert, count, int, meta_doc, ns,
    push_paging, to_json,
};
use crate::model::{Artifact, ArtifactFilter, Match, ReleaseMeta, Sort};
use crate::store::{ArtifactDeletion, StoreError};

pub(super) async fn insert(db: &Db, a: &Artifact) -> Result<(), StoreError> {
    let meta = meta_doc(&a.meta)?;
    let mut tx = db.begin_write().await?;
    // On PostgreSQL the release row's lock serialises uploads (and deletions) of one name,
    // so the depends check below sees every artifact of that name.
    query(
        "INSERT INTO releases (tenant_id, name, modified) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, name) DO UPDATE SET modified = excluded.modified",
    )
    .bind(&a.tenant)
    .bind(&a.meta.name)
    .bind(ns(a.modified))
    .execute(&mut tx)
    .await?;
    let mut same = QueryBuilder::new(tx.dialect(), ARTIFACT_COLUMNS);
    same.push(" WHERE tenant_id = ")
        .push_bind(&a.tenant)
        .push(" AND name = ")
        .push_bind(&a.meta.name);
    let same: Vec<Artifact> = convert(same.build().fetch_all::<ArtifactRow>(&mut tx).await?)?;
    if same.iter().any(|other| other.depends_overlap(a)) {
        return Err(StoreError::ArtifactConflict);
    }
    query(
        "INSERT INTO artifacts (id, tenant_id, name, description, meta, size, modified) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&a.id)
    .bind(&a.tenant)
    .bind(&a.meta.name)
    .bind(&a.description)
    .bind(meta)
    .bind(int(a.meta.size))
    .bind(ns(a.modified))
    .execute(&mut tx)
    .await?;
    let mut types = a.meta.device_types_compatible.clone();
    types.sort();
    types.dedup();
    for t in &types {
        query("INSERT INTO artifact_device_types (artifact_id, device_type) VALUES ($1, $2)")
            .bind(&a.id)
            .bind(t)
            .execute(&mut tx)
            .await?;
    }
    query(
        "INSERT INTO deployment_artifacts (deployment_id, artifact_id) \
         SELECT id, $1 FROM deployments WHERE tenant_id = $2 AND artifact_name = $3 \
         AND status <> 'finished' AND kind = 'software'",
    )
    .bind(&a.id)
    .bind(&a.tenant)
    .bind(&a.meta.name)
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn get(
    db: &Db,
    tenant: &TenantId,
    id: &ArtifactId,
) -> Result<Option<Artifact>, StoreError> {
    let mut q = QueryBuilder::new(db.dialect(), ARTIFACT_COLUMNS);
    q.push(" WHERE tenant_id = ")
        .push_bind(tenant)
        .push(" AND id = ")
        .push_bind(id);
    q.build()
        .fetch_optional::<ArtifactRow>(db)
        .await?
        .map(Artifact::try_from)
        .transpose()
}

/// Appends the condition of one string filter on `column`.
fn push_match<'q>(q: &mut QueryBuilder<'q>, column: &'static str, m: &'q Match) {
    match m {
        Match::Exact(v) => {
            q.push(column).push(" IN (").push_list(v).push(")");
        }
        Match::Prefix(p) => {
            let p = q.param(p);
            q.push("substr(")
                .push(column)
                .push(", 1, length(")
                .push_param(p)
                .push(")) = ")
                .push_param(p);
        }
        Match::Contains(text) => {
            q.push("lower(")
                .push(column)
                .push(") LIKE ")
                .push_bind(contains_pattern(text))
                .push(" ESCAPE '\\'");
        }
    }
}

/// `... FROM artifacts WHERE tenant_id = $1` and the filter's conditions.
fn push_filter<'q>(q: &mut QueryBuilder<'q>, tenant: &'q TenantId, f: &'q ArtifactFilter) {
    q.push(" WHERE tenant_id = ").push_bind(tenant);
    if let Some(m) = &f.name {
        q.push(" AND ");
        push_match(q, "name", m);
    }
    if let Some(m) = &f.description {
        q.push(" AND ");
        push_match(q, "description", m);
    }
    if let Some(m) = &f.device_type {
        q.push(
            " AND EXISTS (SELECT 1 FROM artifact_device_types t \
             WHERE t.artifact_id = artifacts.id AND ",
        );
        push_match(q, "t.device_type", m);
        q.push(")");
    }
}

pub(super) async fn list(
    db: &Db,
    tenant: &TenantId,
    f: &ArtifactFilter,
) -> Result<(Vec<Artifact>, u64), StoreError> {
    let mut c = QueryBuilder::new(db.dialect(), "SELECT COUNT(*) FROM artifacts");
    push_filter(&mut c, tenant, f);
    let total = count(c.build().scalar::<i64>(db).await?);
    let mut q = QueryBuilder::new(db.dialect(), ARTIFACT_COLUMNS);
    push_filter(&mut q, tenant, f);
    q.push(match (f.sort_modified, f.sort) {
        (false, Sort::Asc) => " ORDER BY name ASC, modified ASC, id",
        (false, Sort::Desc) => " ORDER BY name DESC, modified DESC, id",
        (true, Sort::Asc) => " ORDER BY modified ASC, name ASC, id",
        (true, Sort::Desc) => " ORDER BY modified DESC, name DESC, id",
    });
    push_paging(&mut q, f.offset, f.limit);
    let rows = q.build().fetch_all::<ArtifactRow>(db).await?;
    Ok((convert(rows)?, total))
}

pub(super) async fn by_name(
    db: &Db,
    tenant: &TenantId,
    name: &str,
) -> Result<Vec<Artifact>, StoreError> {
    let mut q = QueryBuilder::new(db.dialect(), ARTIFACT_COLUMNS);
    q.push(" WHERE tenant_id = ")
        .push_bind(tenant)
        .push(" AND name = ")
        .push_bind(name)
        .push(" ORDER BY modified, id");
    convert(q.build().fetch_all::<ArtifactRow>(db).await?)
}

pub(super) async fn set_description(
    db: &Db,
    tenant: &TenantId,
    id: &ArtifactId,
    description: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = query(
        "UPDATE artifacts SET description = $1, modified = $2 WHERE tenant_id = $3 AND id = $4",
    )
    .bind(description)
    .bind(ns(now))
    .bind(tenant)
    .bind(id)
    .execute(db)
    .await?;
    Ok(n > 0)
}

pub(super) async fn delete(
    db: &Db,
    tenant: &TenantId,
    id: &ArtifactId,
) -> Result<ArtifactDeletion, StoreError> {
    let mut tx = db.begin_write().await?;
    // Waits for an upload of the same name (see `insert`), so the release is dropped below
    // only when no artifact of that name is left.
    let mut lock = QueryBuilder::new(tx.dialect(), "SELECT name FROM releases WHERE tenant_id = ");
    let t = lock.param(tenant);
    lock.push_param(t)
        .push(" AND name = (SELECT name FROM artifacts WHERE tenant_id = ")
        .push_param(t)
        .push(" AND id = ")
        .push_bind(id)
        .push(")")
        .push(tx.dialect().for_update());
    lock.build().scalar_optional::<String>(&mut tx).await?;
    let Some(name) = query("SELECT name FROM artifacts WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .scalar_optional::<String>(&mut tx)
        .await?
    else {
        return Ok(ArtifactDeletion::NotFound);
    };
    let used: i64 = query(
        "SELECT COUNT(*) FROM deployment_artifacts da JOIN deployments d \
         ON d.id = da.deployment_id WHERE da.artifact_id = $1 AND d.status <> 'finished'",
    )
    .bind(id)
    .scalar(&mut tx)
    .await?;
    if used > 0 {
        return Ok(ArtifactDeletion::InUse);
    }
    query("DELETE FROM artifacts WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .execute(&mut tx)
        .await?;
    query(
        "DELETE FROM releases WHERE tenant_id = $1 AND name = $2 \
         AND NOT EXISTS (SELECT 1 FROM artifacts WHERE tenant_id = $1 AND name = $2)",
    )
    .bind(tenant)
    .bind(&name)
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(ArtifactDeletion::Deleted)
}

pub(super) async fn in_any_deployment(
    db: &Db,
    tenant: &TenantId,
    id: &ArtifactId,
) -> Result<bool, StoreError> {
    let n: i64 = query(
        "SELECT COUNT(*) FROM deployment_artifacts da JOIN deployments d \
         ON d.id = da.deployment_id WHERE d.tenant_id = $1 AND da.artifact_id = $2",
    )
    .bind(tenant)
    .bind(id)
    .scalar(db)
    .await?;
    Ok(n > 0)
}

pub(super) async fn storage_usage(db: &Db, tenant: &TenantId) -> Result<u64, StoreError> {
    let sum: Option<i64> =
        query("SELECT CAST(SUM(size) AS BIGINT) FROM artifacts WHERE tenant_id = $1")
            .bind(tenant)
            .scalar(db)
            .await?;
    Ok(sum.map_or(0, count))
}

pub(super) async fn release_metas(
    db: &Db,
    tenant: &TenantId,
) -> Result<Vec<ReleaseMeta>, StoreError> {
    let rows: Vec<(String, String, String)> = query(
        "SELECT name, notes, tags FROM releases r WHERE tenant_id = $1 AND EXISTS \
         (SELECT 1 FROM artifacts a WHERE a.tenant_id = r.tenant_id AND a.name = r.name) \
         ORDER BY name",
    )
    .bind(tenant)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(name, notes, tags)| {
            let tags = serde_json::from_str(&tags)
                .map_err(|e| StoreError::Corrupt(format!("release {name} tags: {e}")))?;
            Ok(ReleaseMeta { name, notes, tags })
        })
        .collect()
}

pub(super) async fn set_release_notes(
    db: &Db,
    tenant: &TenantId,
    name: &str,
    notes: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n =
        query("UPDATE releases SET notes = $1, modified = $2 WHERE tenant_id = $3 AND name = $4")
            .bind(notes)
            .bind(ns(now))
            .bind(tenant)
            .bind(name)
            .execute(db)
            .await?;
    Ok(n > 0)
}

pub(super) async fn set_release_tags(
    db: &Db,
    tenant: &TenantId,
    name: &str,
    tags: &[String],
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n =
        query("UPDATE releases SET tags = $1, modified = $2 WHERE tenant_id = $3 AND name = $4")
            .bind(to_json(tags)?)
            .bind(ns(now))
            .bind(tenant)
            .bind(name)
            .execute(db)
            .await?;
    Ok(n > 0)
}
