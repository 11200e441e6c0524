//! The SQL shared by both backends. Statements are identical on SQLite and PostgreSQL (`$n`
//! placeholders, `ON CONFLICT`, `RETURNING`), so one macro generates both implementations and
//! only the pool and database types differ. Transactions that read then write start with a
//! write, so SQLite takes its write lock up front instead of failing to upgrade later.

use crate::model::{ArtifactFilter, DeploymentFilter, Match, Sort, StatusFilter};

use super::rows::{Arg, like_escape, placeholders, status_list};

/// `WHERE` clause (after `tenant_id = $1`) for an artifact filter.
pub(crate) fn artifact_where(f: &ArtifactFilter, args: &mut Vec<Arg>) -> String {
    let mut w = String::new();
    let cond = |col: &str, m: &Match, args: &mut Vec<Arg>| -> String {
        match m {
            Match::Exact(v) => format!(
                "{col} IN ({})",
                placeholders(args, v.iter().cloned().map(Arg::S))
            ),
            Match::Prefix(p) => {
                args.push(Arg::S(p.clone()));
                let n = args.len();
                format!("substr({col}, 1, length(${n})) = ${n}")
            }
            Match::Contains(p) => {
                args.push(Arg::S(format!("%{}%", like_escape(&p.to_lowercase()))));
                format!("lower({col}) LIKE ${} ESCAPE '\\'", args.len())
            }
        }
    };
    if let Some(m) = &f.name {
        w.push_str(&format!(" AND {}", cond("name", m, args)));
    }
    if let Some(m) = &f.description {
        w.push_str(&format!(" AND {}", cond("description", m, args)));
    }
    if let Some(m) = &f.device_type {
        let c = cond("t.device_type", m, args);
        w.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM artifact_device_types t WHERE t.artifact_id = artifacts.id AND {c})"
        ));
    }
    w
}

/// `ORDER BY` and paging for artifacts.
pub(crate) fn artifact_order(f: &ArtifactFilter, args: &mut Vec<Arg>) -> String {
    let dir = if f.sort == Sort::Desc { "DESC" } else { "ASC" };
    let mut s = if f.sort_modified {
        format!(" ORDER BY modified {dir}, name {dir}, id")
    } else {
        format!(" ORDER BY name {dir}, modified {dir}, id")
    };
    s.push_str(&paging(f.offset, f.limit, args));
    s
}

pub(crate) fn paging(offset: u64, limit: Option<u64>, args: &mut Vec<Arg>) -> String {
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    args.push(Arg::I(limit.map_or(i64::MAX, clamp)));
    args.push(Arg::I(clamp(offset)));
    format!(" LIMIT ${} OFFSET ${}", args.len() - 1, args.len())
}

/// `WHERE` clause (after `tenant_id = $1`) for a deployment filter.
pub(crate) fn deployment_where(f: &DeploymentFilter, args: &mut Vec<Arg>) -> String {
    let mut w = String::new();
    if !f.ids.is_empty() {
        w.push_str(&format!(
            " AND id IN ({})",
            placeholders(args, f.ids.iter().cloned().map(Arg::S))
        ));
    }
    if !f.names.is_empty() {
        w.push_str(&format!(
            " AND name IN ({})",
            placeholders(args, f.names.iter().cloned().map(Arg::S))
        ));
    }
    if let Some(s) = &f.search {
        args.push(Arg::S(format!("%{}%", like_escape(&s.to_lowercase()))));
        let n = args.len();
        w.push_str(&format!(
            " AND (lower(name) LIKE ${n} ESCAPE '\\' OR lower(artifact_name) LIKE ${n} ESCAPE '\\')"
        ));
    }
    if let Some(st) = f.status {
        args.push(Arg::S(st.as_str().to_owned()));
        w.push_str(&format!(" AND status = ${}", args.len()));
    }
    if let Some(k) = f.kind {
        args.push(Arg::S(k.as_str().to_owned()));
        w.push_str(&format!(" AND kind = ${}", args.len()));
    }
    const NS: i64 = 1_000_000_000;
    if let Some(a) = f.created_after {
        args.push(Arg::I(a.saturating_mul(NS)));
        w.push_str(&format!(" AND created >= ${}", args.len()));
    }
    if let Some(b) = f.created_before {
        args.push(Arg::I(
            b.saturating_add(1).saturating_mul(NS).saturating_sub(1),
        ));
        w.push_str(&format!(" AND created <= ${}", args.len()));
    }
    w
}

/// ` AND status IN (...)` for a device status filter.
pub(crate) fn status_where(f: Option<&StatusFilter>) -> String {
    match f {
        Some(f) if !f.statuses().is_empty() => {
            format!(" AND status IN ({})", status_list(f.statuses()))
        }
        Some(_) => " AND 1 = 0".to_owned(),
        None => String::new(),
    }
}

macro_rules! sql_store {
    ($name:ident, $pool:ty, $db:ty) => {
        use std::collections::HashMap;

        use time::OffsetDateTime;

        use $crate::model::{
            Artifact, ArtifactFilter, Deployment, DeploymentFilter, DeploymentStatus, DeviceDeployment, DeviceRequest,
            DeviceStatus, ReleaseMeta, Statistics, StatusFilter,
        };
        use $crate::store::rows::{
            ARTIFACT_COLUMNS, ArtifactRow, Arg, DD_COLUMNS, DEPLOYMENT_COLUMNS, DeploymentRow, DeviceDeploymentRow,
            finished_list, placeholders,
        };
        use $crate::store::sql::{artifact_order, artifact_where, deployment_where, paging, status_where};
        use $crate::store::{ArtifactDeletion, DeploymentsStore, StoreError, is_unique_violation, to_ns};

        /// The deployments store on this backend.
        #[derive(Debug, Clone)]
        pub struct $name {
            pool: $pool,
        }

        macro_rules! bind_args {
            ($q:expr, $args:expr) => {{
                let mut q = $q;
                for a in $args.iter() {
                    q = match a {
                        Arg::S(s) => q.bind(s.clone()),
                        Arg::I(i) => q.bind(*i),
                    };
                }
                q
            }};
        }

        impl $name {
            /// A store over a migrated pool.
            pub fn new(pool: $pool) -> Self {
                Self { pool }
            }

            /// Recomputes a deployment's status from its device deployments.
            async fn recompute(tx: &mut sqlx::Transaction<'_, $db>, id: &str, now: i64) -> Result<(), StoreError> {
                let Some((max, finished)): Option<(i64, Option<i64>)> =
                    sqlx::query_as("SELECT max_devices, finished FROM deployments WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut **tx)
                        .await?
                else {
                    return Ok(());
                };
                let (done, started): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT COALESCE(SUM(CASE WHEN status IN ({}) THEN 1 ELSE 0 END), 0), \
                     COALESCE(SUM(CASE WHEN status <> 'pending' THEN 1 ELSE 0 END), 0) \
                     FROM device_deployments WHERE deployment_id = $1",
                    finished_list()
                )))
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
                let (status, finished) = if finished.is_some() {
                    (DeploymentStatus::Finished, finished)
                } else if max > 0 && done >= max {
                    (DeploymentStatus::Finished, Some(now))
                } else if started > 0 {
                    (DeploymentStatus::Inprogress, None)
                } else {
                    (DeploymentStatus::Pending, None)
                };
                sqlx::query("UPDATE deployments SET status = $1, finished = $2 WHERE id = $3")
                    .bind(status.as_str())
                    .bind(finished)
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            async fn fetch_dd(&self, sql: String, args: Vec<Arg>) -> Result<Vec<DeviceDeployment>, StoreError> {
                let q = bind_args!(sqlx::query_as::<_, DeviceDeploymentRow>(sqlx::AssertSqlSafe(sql)), args);
                q.fetch_all(&self.pool).await?.into_iter().map(TryInto::try_into).collect()
            }

            async fn fetch_deployments(&self, sql: String, args: Vec<Arg>) -> Result<Vec<Deployment>, StoreError> {
                let q = bind_args!(sqlx::query_as::<_, DeploymentRow>(sqlx::AssertSqlSafe(sql)), args);
                q.fetch_all(&self.pool).await?.into_iter().map(TryInto::try_into).collect()
            }

            async fn count(&self, sql: String, args: Vec<Arg>) -> Result<u64, StoreError> {
                let q = bind_args!(sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)), args);
                Ok(u64::try_from(q.fetch_one(&self.pool).await?).unwrap_or(0))
            }
        }

        #[async_trait::async_trait]
        impl DeploymentsStore for $name {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_artifact(&self, a: &Artifact) -> Result<(), StoreError> {
                let meta = serde_json::to_string(&a.meta).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let mut tx = self.pool.begin().await?;
                // Taking the release row first serialises uploads of the same name.
                sqlx::query(
                    "INSERT INTO releases (tenant_id, name, modified) VALUES ($1, $2, $3) \
                     ON CONFLICT (tenant_id, name) DO UPDATE SET modified = excluded.modified",
                )
                .bind(&a.tenant)
                .bind(&a.meta.name)
                .bind(to_ns(a.modified))
                .execute(&mut *tx)
                .await?;
                let same: Vec<ArtifactRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("{ARTIFACT_COLUMNS} WHERE tenant_id = $1 AND name = $2")))
                        .bind(&a.tenant)
                        .bind(&a.meta.name)
                        .fetch_all(&mut *tx)
                        .await?;
                for row in same {
                    let other: Artifact = row.try_into()?;
                    if other.depends_overlap(a) {
                        return Err(StoreError::ArtifactConflict);
                    }
                }
                sqlx::query(
                    "INSERT INTO artifacts (id, tenant_id, name, description, meta, size, modified) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&a.id)
                .bind(&a.tenant)
                .bind(&a.meta.name)
                .bind(&a.description)
                .bind(&meta)
                .bind(a.size)
                .bind(to_ns(a.modified))
                .execute(&mut *tx)
                .await?;
                let mut types = a.meta.device_types_compatible.clone();
                types.sort();
                types.dedup();
                for t in &types {
                    sqlx::query("INSERT INTO artifact_device_types (artifact_id, device_type) VALUES ($1, $2)")
                        .bind(&a.id)
                        .bind(t)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query(
                    "INSERT INTO deployment_artifacts (deployment_id, artifact_id) \
                     SELECT id, $1 FROM deployments WHERE tenant_id = $2 AND artifact_name = $3 AND status <> 'finished' \
                     AND kind = 'software'",
                )
                .bind(&a.id)
                .bind(&a.tenant)
                .bind(&a.meta.name)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_artifact(&self, tenant: &str, id: &str) -> Result<Option<Artifact>, StoreError> {
                sqlx::query_as::<_, ArtifactRow>(sqlx::AssertSqlSafe(format!(
                    "{ARTIFACT_COLUMNS} WHERE tenant_id = $1 AND id = $2"
                )))
                .bind(tenant)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .map(TryInto::try_into)
                .transpose()
            }

            async fn list_artifacts(&self, tenant: &str, f: &ArtifactFilter) -> Result<(Vec<Artifact>, u64), StoreError> {
                let mut args = vec![Arg::S(tenant.to_owned())];
                let w = artifact_where(f, &mut args);
                let total = self
                    .count(format!("SELECT COUNT(*) FROM artifacts WHERE tenant_id = $1{w}"), args.clone())
                    .await?;
                let order = artifact_order(f, &mut args);
                let sql = format!("{ARTIFACT_COLUMNS} WHERE tenant_id = $1{w}{order}");
                let q = bind_args!(sqlx::query_as::<_, ArtifactRow>(sqlx::AssertSqlSafe(sql)), args);
                let rows = q.fetch_all(&self.pool).await?;
                Ok((rows.into_iter().map(TryInto::try_into).collect::<Result<_, _>>()?, total))
            }

            async fn artifacts_by_name(&self, tenant: &str, name: &str) -> Result<Vec<Artifact>, StoreError> {
                sqlx::query_as::<_, ArtifactRow>(sqlx::AssertSqlSafe(format!(
                    "{ARTIFACT_COLUMNS} WHERE tenant_id = $1 AND name = $2 ORDER BY modified, id"
                )))
                .bind(tenant)
                .bind(name)
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(TryInto::try_into)
                .collect()
            }

            async fn set_artifact_description(&self, tenant: &str, id: &str, description: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
                let res = sqlx::query("UPDATE artifacts SET description = $1, modified = $2 WHERE tenant_id = $3 AND id = $4")
                    .bind(description)
                    .bind(to_ns(now))
                    .bind(tenant)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn delete_artifact(&self, tenant: &str, id: &str) -> Result<ArtifactDeletion, StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "UPDATE releases SET modified = modified WHERE tenant_id = $1 \
                     AND name = (SELECT name FROM artifacts WHERE tenant_id = $1 AND id = $2)",
                )
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let name: Option<String> = sqlx::query_scalar("SELECT name FROM artifacts WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(name) = name else { return Ok(ArtifactDeletion::NotFound) };
                let used: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM deployment_artifacts da JOIN deployments d ON d.id = da.deployment_id \
                     WHERE da.artifact_id = $1 AND d.status <> 'finished'",
                )
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                if used > 0 {
                    return Ok(ArtifactDeletion::InUse);
                }
                sqlx::query("DELETE FROM artifacts WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "DELETE FROM releases WHERE tenant_id = $1 AND name = $2 \
                     AND NOT EXISTS (SELECT 1 FROM artifacts WHERE tenant_id = $1 AND name = $2)",
                )
                .bind(tenant)
                .bind(&name)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(ArtifactDeletion::Deleted)
            }

            async fn release_metas(&self, tenant: &str) -> Result<Vec<ReleaseMeta>, StoreError> {
                let rows: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT name, notes, tags FROM releases r WHERE tenant_id = $1 \
                     AND EXISTS (SELECT 1 FROM artifacts a WHERE a.tenant_id = r.tenant_id AND a.name = r.name) ORDER BY name",
                )
                .bind(tenant)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|(name, notes, tags)| {
                        Ok(ReleaseMeta {
                            name,
                            notes,
                            tags: serde_json::from_str(&tags).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        })
                    })
                    .collect()
            }

            async fn set_release_notes(&self, tenant: &str, name: &str, notes: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
                let res = sqlx::query("UPDATE releases SET notes = $1, modified = $2 WHERE tenant_id = $3 AND name = $4")
                    .bind(notes)
                    .bind(to_ns(now))
                    .bind(tenant)
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn set_release_tags(&self, tenant: &str, name: &str, tags: &[String], now: OffsetDateTime) -> Result<bool, StoreError> {
                let tags = serde_json::to_string(tags).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let res = sqlx::query("UPDATE releases SET tags = $1, modified = $2 WHERE tenant_id = $3 AND name = $4")
                    .bind(tags)
                    .bind(to_ns(now))
                    .bind(tenant)
                    .bind(name)
                    .execute(&self.pool)
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn active_deployments_of(&self, tenant: &str, names: &[String]) -> Result<Vec<String>, StoreError> {
                if names.is_empty() {
                    return Ok(Vec::new());
                }
                let mut args = vec![Arg::S(tenant.to_owned())];
                let ph = placeholders(&mut args, names.iter().cloned().map(Arg::S));
                let sql = format!(
                    "SELECT id FROM deployments WHERE tenant_id = $1 AND status <> 'finished' AND artifact_name IN ({ph}) ORDER BY id"
                );
                let q = bind_args!(sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)), args);
                Ok(q.fetch_all(&self.pool).await?)
            }

            async fn insert_deployment(&self, d: &Deployment, devices: &[String], artifacts: &[String]) -> Result<(), StoreError> {
                let groups = serde_json::to_string(&d.groups).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let mut tx = self.pool.begin().await?;
                let res = sqlx::query(
                    "INSERT INTO deployments (id, tenant_id, name, artifact_name, created, finished, status, device_count, \
                     max_devices, force_installation, group_names, kind, configuration, constructor_checksum) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(&d.id)
                .bind(&d.tenant)
                .bind(&d.name)
                .bind(&d.artifact_name)
                .bind(to_ns(d.created))
                .bind(d.finished.map(to_ns))
                .bind(d.status.as_str())
                .bind(d.device_count)
                .bind(d.max_devices)
                .bind(i64::from(d.force_installation))
                .bind(groups)
                .bind(d.kind.as_str())
                .bind(&d.configuration)
                .bind(&d.checksum)
                .execute(&mut *tx)
                .await;
                match res {
                    Ok(_) => {}
                    // Same id, or an identical unfinished deployment (checksum index).
                    Err(e) if is_unique_violation(&e) => return Err(StoreError::DeploymentConflict),
                    Err(e) => return Err(e.into()),
                }
                for chunk in devices.chunks(400) {
                    let mut args = Vec::new();
                    let values: Vec<String> = chunk
                        .iter()
                        .map(|dev| {
                            let ph = placeholders(&mut args, [Arg::S(d.id.clone()), Arg::S(dev.clone())]);
                            format!("({ph})")
                        })
                        .collect();
                    let sql = format!(
                        "INSERT INTO deployment_devices (deployment_id, device_id) VALUES {} ON CONFLICT DO NOTHING",
                        values.join(", ")
                    );
                    bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), args).execute(&mut *tx).await?;
                }
                for a in artifacts {
                    sqlx::query("INSERT INTO deployment_artifacts (deployment_id, artifact_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(&d.id)
                        .bind(a)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_deployment(&self, tenant: &str, id: &str) -> Result<Option<Deployment>, StoreError> {
                Ok(self.get_deployments(tenant, &[id.to_owned()]).await?.pop())
            }

            async fn get_deployments(&self, tenant: &str, ids: &[String]) -> Result<Vec<Deployment>, StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut args = vec![Arg::S(tenant.to_owned())];
                let ph = placeholders(&mut args, ids.iter().cloned().map(Arg::S));
                self.fetch_deployments(format!("{DEPLOYMENT_COLUMNS} WHERE tenant_id = $1 AND id IN ({ph})"), args)
                    .await
            }

            async fn list_deployments(&self, tenant: &str, f: &DeploymentFilter) -> Result<(Vec<Deployment>, u64), StoreError> {
                let mut args = vec![Arg::S(tenant.to_owned())];
                let w = deployment_where(f, &mut args);
                let total = self
                    .count(format!("SELECT COUNT(*) FROM deployments WHERE tenant_id = $1{w}"), args.clone())
                    .await?;
                let dir = if f.sort == $crate::model::Sort::Asc { "ASC" } else { "DESC" };
                let page = paging(f.offset, f.limit, &mut args);
                let sql = format!("{DEPLOYMENT_COLUMNS} WHERE tenant_id = $1{w} ORDER BY created {dir}, id {dir}{page}");
                Ok((self.fetch_deployments(sql, args).await?, total))
            }

            async fn deployment_artifact_ids(&self, tenant: &str, id: &str) -> Result<Vec<String>, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT da.artifact_id FROM deployment_artifacts da JOIN deployments d ON d.id = da.deployment_id \
                     WHERE d.tenant_id = $1 AND d.id = $2 ORDER BY da.artifact_id",
                )
                .bind(tenant)
                .bind(id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn deployment_device_ids(&self, tenant: &str, id: &str) -> Result<Vec<String>, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT dv.device_id FROM deployment_devices dv JOIN deployments d ON d.id = dv.deployment_id \
                     WHERE d.tenant_id = $1 AND d.id = $2 ORDER BY dv.device_id",
                )
                .bind(tenant)
                .bind(id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn statistics(&self, tenant: &str, ids: &[String]) -> Result<HashMap<String, Statistics>, StoreError> {
                let mut out: HashMap<String, Statistics> = ids.iter().map(|i| (i.clone(), Statistics::new())).collect();
                if ids.is_empty() {
                    return Ok(out);
                }
                let mut args = vec![Arg::S(tenant.to_owned())];
                let ph = placeholders(&mut args, ids.iter().cloned().map(Arg::S));
                let sql = format!(
                    "SELECT deployment_id, status, COUNT(*) FROM device_deployments WHERE tenant_id = $1 \
                     AND deployment_id IN ({ph}) GROUP BY deployment_id, status"
                );
                let q = bind_args!(sqlx::query_as::<_, (String, String, i64)>(sqlx::AssertSqlSafe(sql)), args);
                for (dep, status, n) in q.fetch_all(&self.pool).await? {
                    if let (Some(s), Some(stats)) = (DeviceStatus::parse(&status), out.get_mut(&dep)) {
                        stats.insert(s, n);
                    }
                }
                Ok(out)
            }

            async fn abort_deployment(&self, tenant: &str, id: &str, now: OffsetDateTime) -> Result<(), StoreError> {
                let now = to_ns(now);
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "UPDATE deployments SET status = 'finished', finished = COALESCE(finished, $1) WHERE tenant_id = $2 AND id = $3",
                )
                .bind(now)
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE device_deployments SET status = 'aborted', finished = $1, active = 0 \
                     WHERE tenant_id = $2 AND deployment_id = $3 AND active = 1",
                )
                .bind(now)
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn active_device_deployment(&self, tenant: &str, device: &str) -> Result<Option<DeviceDeployment>, StoreError> {
                let sql = format!(
                    "{DD_COLUMNS} WHERE tenant_id = $1 AND device_id = $2 AND active = 1 AND deleted IS NULL \
                     ORDER BY created, id LIMIT 1"
                );
                Ok(self.fetch_dd(sql, vec![Arg::S(tenant.to_owned()), Arg::S(device.to_owned())]).await?.pop())
            }

            async fn find_new_deployment(&self, tenant: &str, device: &str) -> Result<Option<Deployment>, StoreError> {
                let sql = format!(
                    "{DEPLOYMENT_COLUMNS} WHERE tenant_id = $1 AND status <> 'finished' \
                     AND created > COALESCE((SELECT MAX(x.created) FROM device_deployments x WHERE x.tenant_id = $1 \
                         AND x.device_id = $2 AND x.active = 0 AND x.deleted IS NULL), $3) \
                     AND EXISTS (SELECT 1 FROM deployment_devices dv WHERE dv.deployment_id = deployments.id AND dv.device_id = $2) \
                     AND NOT EXISTS (SELECT 1 FROM device_deployments y WHERE y.deployment_id = deployments.id \
                         AND y.device_id = $2 AND y.deleted IS NULL) \
                     AND (max_devices = 0 OR (SELECT COUNT(*) FROM device_deployments z WHERE z.deployment_id = deployments.id \
                         AND z.deleted IS NULL) < max_devices) \
                     ORDER BY created, id LIMIT 1"
                );
                let args = vec![Arg::S(tenant.to_owned()), Arg::S(device.to_owned()), Arg::I(i64::MIN)];
                Ok(self.fetch_deployments(sql, args).await?.pop())
            }

            async fn create_device_deployment(&self, dd: &DeviceDeployment) -> Result<DeviceDeployment, StoreError> {
                let request = match &dd.request {
                    Some(r) => Some(serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))?),
                    None => None,
                };
                let res = sqlx::query(
                    "INSERT INTO device_deployments (id, tenant_id, deployment_id, device_id, status, substate, created, \
                     started, finished, active, deleted, device_type, artifact_id, request, log_available) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                )
                .bind(&dd.id)
                .bind(&dd.tenant)
                .bind(&dd.deployment_id)
                .bind(&dd.device_id)
                .bind(dd.status.as_str())
                .bind(&dd.substate)
                .bind(to_ns(dd.created))
                .bind(dd.started.map(to_ns))
                .bind(dd.finished.map(to_ns))
                .bind(i64::from(dd.active))
                .bind(dd.deleted.map(to_ns))
                .bind(&dd.device_type)
                .bind(&dd.artifact_id)
                .bind(request)
                .bind(i64::from(dd.log_available))
                .execute(&self.pool)
                .await;
                match res {
                    Ok(_) => Ok(dd.clone()),
                    Err(e) if is_unique_violation(&e) => self
                        .get_device_deployment(&dd.tenant, &dd.deployment_id, &dd.device_id)
                        .await?
                        .ok_or(StoreError::Db(e)),
                    Err(e) => Err(e.into()),
                }
            }

            async fn get_device_deployment(&self, tenant: &str, deployment: &str, device: &str) -> Result<Option<DeviceDeployment>, StoreError> {
                let sql = format!(
                    "{DD_COLUMNS} WHERE tenant_id = $1 AND deployment_id = $2 AND device_id = $3 \
                     ORDER BY CASE WHEN deleted IS NULL THEN 0 ELSE 1 END, created DESC LIMIT 1"
                );
                let args = vec![Arg::S(tenant.to_owned()), Arg::S(deployment.to_owned()), Arg::S(device.to_owned())];
                Ok(self.fetch_dd(sql, args).await?.pop())
            }

            async fn assign_artifact(&self, tenant: &str, dd_id: &str, artifact: Option<&str>, request: &DeviceRequest) -> Result<(), StoreError> {
                let json = serde_json::to_string(request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                sqlx::query(
                    "UPDATE device_deployments SET artifact_id = $1, request = $2, device_type = $3 WHERE tenant_id = $4 AND id = $5",
                )
                .bind(artifact)
                .bind(json)
                .bind(&request.device_type)
                .bind(tenant)
                .bind(dd_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn set_device_status(&self, tenant: &str, dd_id: &str, status: DeviceStatus, substate: Option<&str>, now: OffsetDateTime) -> Result<(), StoreError> {
                let now = to_ns(now);
                let finished = status.is_finished();
                let mut tx = self.pool.begin().await?;
                let dep: Option<String> = sqlx::query_scalar(
                    "UPDATE device_deployments SET status = $1, substate = COALESCE($2, substate), \
                     started = CASE WHEN $3 = 1 THEN COALESCE(started, $4) ELSE started END, \
                     finished = CASE WHEN $5 = 1 THEN $4 ELSE finished END, active = $6 \
                     WHERE tenant_id = $7 AND id = $8 RETURNING deployment_id",
                )
                .bind(status.as_str())
                .bind(substate)
                .bind(i64::from(status != DeviceStatus::Pending))
                .bind(now)
                .bind(i64::from(finished))
                .bind(i64::from(!finished))
                .bind(tenant)
                .bind(dd_id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(dep) = dep {
                    Self::recompute(&mut tx, &dep, now).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn list_device_deployments(
                &self,
                tenant: &str,
                deployment: &str,
                status: Option<&StatusFilter>,
                offset: u64,
                limit: Option<u64>,
            ) -> Result<(Vec<DeviceDeployment>, u64), StoreError> {
                let sw = status_where(status);
                let mut args = vec![Arg::S(tenant.to_owned()), Arg::S(deployment.to_owned())];
                let w = format!("WHERE tenant_id = $1 AND deployment_id = $2{sw}");
                let total = self.count(format!("SELECT COUNT(*) FROM device_deployments {w}"), args.clone()).await?;
                let page = paging(offset, limit, &mut args);
                let rows = self.fetch_dd(format!("{DD_COLUMNS} {w} ORDER BY device_id, created{page}"), args).await?;
                Ok((rows, total))
            }

            async fn device_history(&self, tenant: &str, device: &str, status: Option<&StatusFilter>, offset: u64, limit: u64) -> Result<Vec<DeviceDeployment>, StoreError> {
                let sw = status_where(status);
                let mut args = vec![Arg::S(tenant.to_owned()), Arg::S(device.to_owned())];
                let page = paging(offset, Some(limit), &mut args);
                self.fetch_dd(
                    format!("{DD_COLUMNS} WHERE tenant_id = $1 AND device_id = $2 AND deleted IS NULL{sw} ORDER BY created DESC, id{page}"),
                    args,
                )
                .await
            }

            async fn device_deployments_by_ids(&self, tenant: &str, ids: &[String]) -> Result<Vec<DeviceDeployment>, StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut args = vec![Arg::S(tenant.to_owned())];
                let ph = placeholders(&mut args, ids.iter().cloned().map(Arg::S));
                self.fetch_dd(format!("{DD_COLUMNS} WHERE tenant_id = $1 AND id IN ({ph}) ORDER BY created DESC, id"), args)
                    .await
            }

            async fn finish_device(&self, tenant: &str, device: &str, status: DeviceStatus, now: OffsetDateTime) -> Result<(), StoreError> {
                let now = to_ns(now);
                let mut tx = self.pool.begin().await?;
                let deps: Vec<String> = sqlx::query_scalar(
                    "UPDATE device_deployments SET status = $1, finished = $2, active = 0 \
                     WHERE tenant_id = $3 AND device_id = $4 AND active = 1 RETURNING deployment_id",
                )
                .bind(status.as_str())
                .bind(now)
                .bind(tenant)
                .bind(device)
                .fetch_all(&mut *tx)
                .await?;
                for dep in deps {
                    Self::recompute(&mut tx, &dep, now).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn reset_device_history(&self, tenant: &str, device: &str, now: OffsetDateTime) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE device_deployments SET deleted = $1 WHERE tenant_id = $2 AND device_id = $3 \
                     AND active = 0 AND deleted IS NULL",
                )
                .bind(to_ns(now))
                .bind(tenant)
                .bind(device)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn save_log(&self, tenant: &str, dd_id: &str, messages: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE device_deployments SET log = $1, log_available = 1 WHERE tenant_id = $2 AND id = $3")
                    .bind(messages)
                    .bind(tenant)
                    .bind(dd_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn get_log(&self, tenant: &str, dd_id: &str) -> Result<Option<String>, StoreError> {
                let log: Option<Option<String>> =
                    sqlx::query_scalar("SELECT log FROM device_deployments WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant)
                        .bind(dd_id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(log.flatten())
            }

            async fn artifact_in_any_deployment(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM deployment_artifacts da JOIN deployments d ON d.id = da.deployment_id \
                     WHERE d.tenant_id = $1 AND da.artifact_id = $2",
                )
                .bind(tenant)
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
                Ok(n > 0)
            }

            async fn storage_usage(&self, tenant: &str) -> Result<i64, StoreError> {
                let sum: Option<i64> = sqlx::query_scalar(
                    "SELECT CAST(SUM(size) AS BIGINT) FROM artifacts WHERE tenant_id = $1",
                )
                .bind(tenant)
                .fetch_one(&self.pool)
                .await?;
                Ok(sum.unwrap_or(0))
            }

            async fn get_storage_settings(&self, tenant: &str) -> Result<Option<String>, StoreError> {
                Ok(sqlx::query_scalar("SELECT settings FROM storage_settings WHERE tenant_id = $1")
                    .bind(tenant)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn set_storage_settings(&self, tenant: &str, settings: Option<&str>) -> Result<(), StoreError> {
                match settings {
                    Some(s) => {
                        sqlx::query(
                            "INSERT INTO storage_settings (tenant_id, settings) VALUES ($1, $2) \
                             ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings",
                        )
                        .bind(tenant)
                        .bind(s)
                        .execute(&self.pool)
                        .await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM storage_settings WHERE tenant_id = $1")
                            .bind(tenant)
                            .execute(&self.pool)
                            .await?;
                    }
                }
                Ok(())
            }
        }
    };
}

pub(crate) use sql_store;
