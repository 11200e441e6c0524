//! [`ArtifactStore`] on SQL: artifacts and releases (one row per artifact name, with notes and
//! tags).

use mender_core::{ArtifactId, TenantId, Timestamp};
use mender_db::{Db, QueryBuilder, query};

use super::SqlStore;
use super::rows::{
    ARTIFACT_COLUMNS, ArtifactRow, contains_pattern, convert, count, int, meta_doc, ns, of_tenant,
    page_and_total, prefix_pattern, to_json,
};
use crate::model::{Artifact, ArtifactFilter, ArtifactSortKey, Match, ReleaseMeta, Sort};
use crate::store::{
    ArtifactDeletion, ArtifactStore, ReleaseChange, Reservation, Result, StoreError,
};

/// Appends the condition of one string filter on `column`.
fn push_match<'q>(q: &mut QueryBuilder<'q>, column: &'static str, m: &'q Match) {
    match m {
        Match::Exact(v) => {
            q.push(column).push(" IN (").push_list(v).push(")");
        }
        Match::Prefix(p) => push_like(q, column, prefix_pattern(p)),
        Match::Contains(text) => push_like(q, column, contains_pattern(text)),
    }
}

/// Appends `lower(column) LIKE pattern` with `\` as the escape character.
fn push_like(q: &mut QueryBuilder<'_>, column: &'static str, pattern: String) {
    q.push("lower(")
        .push(column)
        .push(") LIKE ")
        .push_bind(pattern)
        .push(" ESCAPE '\\'");
}

/// Appends the filter's conditions to a query of the tenant's artifacts.
fn push_filter<'q>(q: &mut QueryBuilder<'q>, f: &'q ArtifactFilter) {
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

/// Runs `sql`, an `UPDATE ... SET <column> = $1, modified = $2 WHERE tenant_id = $3 AND
/// <key> = $4`; whether there was such a row.
async fn set_modified(
    db: &Db,
    sql: &'static str,
    value: String,
    now: Timestamp,
    tenant: &TenantId,
    key: &str,
) -> Result<bool> {
    let n = query(sql)
        .bind(value)
        .bind(ns(now))
        .bind(tenant)
        .bind(key)
        .execute(db)
        .await?;
    Ok(n > 0)
}

/// Writes the claim on an artifact id; whether it was free.
async fn claim_id(
    tx: &mut mender_db::Tx,
    tenant: &TenantId,
    id: &ArtifactId,
    now: Timestamp,
) -> Result<bool> {
    let n = query(
        "INSERT INTO artifact_reservations (id, tenant_id, created) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(tenant)
    .bind(ns(now))
    .execute(&mut *tx)
    .await?;
    Ok(n == 1)
}

#[async_trait::async_trait]
impl ArtifactStore for SqlStore {
    async fn reserve_artifact_id(
        &self,
        tenant: &TenantId,
        id: &ArtifactId,
        now: Timestamp,
    ) -> Result<Reservation> {
        let mut tx = self.0.begin_write().await?;
        // The claim first: on PostgreSQL it waits for a transaction committing this id, so
        // the look-up below then sees that artifact.
        if !claim_id(&mut tx, tenant, id, now).await? {
            return Ok(Reservation::Held);
        }
        let exists = query("SELECT COUNT(*) FROM artifacts WHERE id = $1")
            .bind(id)
            .scalar::<i64>(&mut tx)
            .await?;
        if exists > 0 {
            return Ok(Reservation::Exists);
        }
        tx.commit().await?;
        Ok(Reservation::Reserved)
    }

    async fn release_artifact_id(&self, id: &ArtifactId) -> Result<()> {
        query("DELETE FROM artifact_reservations WHERE id = $1")
            .bind(id)
            .execute(&self.0)
            .await?;
        Ok(())
    }

    async fn stale_reservations(&self, before: Timestamp) -> Result<Vec<(TenantId, ArtifactId)>> {
        let rows: Vec<(String, String)> = query(
            "SELECT tenant_id, id FROM artifact_reservations WHERE created < $1 ORDER BY created",
        )
        .bind(ns(before))
        .fetch_all(&self.0)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(t, id)| (TenantId::from(t), ArtifactId::new(id)))
            .collect())
    }

    async fn insert_artifact(&self, a: &Artifact) -> Result<()> {
        let meta = meta_doc(&a.meta)?;
        let mut tx = self.0.begin_write().await?;
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
        let mut same = of_tenant(tx.dialect(), ARTIFACT_COLUMNS, &a.tenant);
        same.push(" AND name = ").push_bind(&a.meta.name);
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
        query("DELETE FROM artifact_reservations WHERE id = $1")
            .bind(&a.id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_artifact(&self, tenant: &TenantId, id: &ArtifactId) -> Result<Option<Artifact>> {
        let mut q = of_tenant(self.0.dialect(), ARTIFACT_COLUMNS, tenant);
        q.push(" AND id = ").push_bind(id);
        q.build()
            .fetch_optional::<ArtifactRow>(&self.0)
            .await?
            .map(Artifact::try_from)
            .transpose()
    }

    async fn list_artifacts(
        &self,
        tenant: &TenantId,
        f: &ArtifactFilter,
    ) -> Result<(Vec<Artifact>, u64)> {
        let order = match (f.sort_key, f.sort) {
            (ArtifactSortKey::Name, Sort::Asc) => " ORDER BY name ASC, id ASC",
            (ArtifactSortKey::Name, Sort::Desc) => " ORDER BY name DESC, id DESC",
            (ArtifactSortKey::Modified, Sort::Asc) => " ORDER BY modified ASC, id ASC",
            (ArtifactSortKey::Modified, Sort::Desc) => " ORDER BY modified DESC, id DESC",
            (ArtifactSortKey::Id, Sort::Asc) => " ORDER BY id ASC",
            (ArtifactSortKey::Id, Sort::Desc) => " ORDER BY id DESC",
        };
        let mut q = of_tenant(self.0.dialect(), ARTIFACT_COLUMNS, tenant);
        push_filter(&mut q, f);
        let mut c = of_tenant(self.0.dialect(), "SELECT COUNT(*) FROM artifacts", tenant);
        push_filter(&mut c, f);
        page_and_total::<ArtifactRow, _>(&self.0, c, q, order, f.offset, f.limit).await
    }

    async fn artifacts_by_name(&self, tenant: &TenantId, name: &str) -> Result<Vec<Artifact>> {
        let mut q = of_tenant(self.0.dialect(), ARTIFACT_COLUMNS, tenant);
        q.push(" AND name = ")
            .push_bind(name)
            .push(" ORDER BY modified, id");
        convert(q.build().fetch_all::<ArtifactRow>(&self.0).await?)
    }

    async fn set_artifact_description(
        &self,
        tenant: &TenantId,
        id: &ArtifactId,
        description: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let sql = "UPDATE artifacts SET description = $1, modified = $2 \
                   WHERE tenant_id = $3 AND id = $4";
        let description = description.to_owned();
        set_modified(&self.0, sql, description, now, tenant, id.as_str()).await
    }

    async fn delete_artifact(
        &self,
        tenant: &TenantId,
        id: &ArtifactId,
        now: Timestamp,
    ) -> Result<ArtifactDeletion> {
        let mut tx = self.0.begin_write().await?;
        // Waits for an upload of the same name (see `insert_artifact`), so the release is
        // dropped below only when no artifact of that name is left.
        let mut lock =
            QueryBuilder::new(tx.dialect(), "SELECT name FROM releases WHERE tenant_id = ");
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
        // Held until the caller has deleted the file (no upload could hold it: an upload's
        // claim fails while the artifact exists).
        claim_id(&mut tx, tenant, id, now).await?;
        tx.commit().await?;
        Ok(ArtifactDeletion::Deleted)
    }

    async fn artifact_in_any_deployment(&self, tenant: &TenantId, id: &ArtifactId) -> Result<bool> {
        let n: i64 = query(
            "SELECT COUNT(*) FROM deployment_artifacts da JOIN deployments d \
             ON d.id = da.deployment_id WHERE d.tenant_id = $1 AND da.artifact_id = $2",
        )
        .bind(tenant)
        .bind(id)
        .scalar(&self.0)
        .await?;
        Ok(n > 0)
    }

    async fn storage_usage(&self, tenant: &TenantId) -> Result<u64> {
        let sum: Option<i64> =
            query("SELECT CAST(SUM(size) AS BIGINT) FROM artifacts WHERE tenant_id = $1")
                .bind(tenant)
                .scalar(&self.0)
                .await?;
        Ok(sum.map_or(0, count))
    }

    async fn release_metas(&self, tenant: &TenantId) -> Result<Vec<ReleaseMeta>> {
        let rows: Vec<(String, String, String)> = query(
            "SELECT name, notes, tags FROM releases r WHERE tenant_id = $1 AND EXISTS \
             (SELECT 1 FROM artifacts a WHERE a.tenant_id = r.tenant_id AND a.name = r.name) \
             ORDER BY name",
        )
        .bind(tenant)
        .fetch_all(&self.0)
        .await?;
        rows.into_iter()
            .map(|(name, notes, tags)| {
                let tags = serde_json::from_str(&tags)
                    .map_err(|e| StoreError::Corrupt(format!("release {name} tags: {e}")))?;
                Ok(ReleaseMeta { name, notes, tags })
            })
            .collect()
    }

    async fn update_release(
        &self,
        tenant: &TenantId,
        name: &str,
        change: ReleaseChange<'_>,
        now: Timestamp,
    ) -> Result<bool> {
        let (sql, value) = match change {
            ReleaseChange::Notes(notes) => (
                "UPDATE releases SET notes = $1, modified = $2 \
                 WHERE tenant_id = $3 AND name = $4",
                notes.to_owned(),
            ),
            ReleaseChange::Tags(tags) => (
                "UPDATE releases SET tags = $1, modified = $2 \
                 WHERE tenant_id = $3 AND name = $4",
                to_json(tags)?,
            ),
        };
        set_modified(&self.0, sql, value, now, tenant, name).await
    }
}
