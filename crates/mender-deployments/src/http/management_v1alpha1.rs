//! Management API v1alpha1 (next release, `management_v1alpha1`): the software list and its
//! tags. Software is what upstream calls a release here; the open-source server only has
//! releases (kind `release`), never manifests.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mender_core::query::QueryPairs;
use mender_core::{ApiError, Identity, Json};

use super::paging::{self, first};
use super::{State, render, user};
use crate::app::App;
use crate::app::releases::{ReleaseKind, SoftwareFilter};

const BASE: &str = "/api/management/v1alpha1/deployments";

/// The sort values upstream accepts.
const SORTS: [&str; 6] = [
    "modified:asc",
    "modified:desc",
    "name:asc",
    "name:desc",
    "tags:asc",
    "tags:desc",
];

/// The v1alpha1 management routes.
pub fn routes() -> Router<Arc<App>> {
    super::routes(
        BASE,
        [
            ("/software", get(list_software)),
            ("/software/tags", get(software_tags)),
        ],
    )
}

/// Upstream's `SoftwareFilter.Validate` (ozzo: the failing fields by JSON name, sorted,
/// joined with "; ", closed with "."), then its paging.
fn software_filter(query: &[(String, String)]) -> Result<SoftwareFilter, ApiError> {
    let names: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "name")
        .map(|(_, v)| v.clone())
        .collect();
    let name_prefix = first(query, "name_prefix");
    let kind = first(query, "kind");
    // `sort` present but empty passes the check and means the default order.
    let sort = query
        .iter()
        .find(|(k, _)| k == "sort")
        .map_or("name:asc", |(_, v)| v.as_str());
    let mut problems: BTreeMap<&str, &str> = BTreeMap::new();
    if !name_prefix.is_empty() && !names.is_empty() {
        problems.insert("name", "cannot be used with name_prefix");
        problems.insert("name_prefix", "cannot be used with name");
    }
    let parsed_kind = ReleaseKind::parse(kind);
    if !kind.is_empty() && parsed_kind.is_none() {
        problems.insert("kind", "must be a valid value");
    }
    if !sort.is_empty() && !SORTS.contains(&sort) {
        problems.insert("sort", "must be a valid value");
    }
    if !problems.is_empty() {
        let all: Vec<String> = problems.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        return Err(ApiError::bad_request(format!("{}.", all.join("; "))));
    }
    let page = paging::parse(query)?;
    let sort = sort
        .split_once(':')
        .map_or(("name".to_owned(), false), |(k, d)| {
            (k.to_owned(), d == "desc")
        });
    Ok(SoftwareFilter {
        names,
        name_prefix: name_prefix.to_owned(),
        kind: parsed_kind,
        update_type: first(query, "update_type").to_owned(),
        tags: query
            .iter()
            .filter(|(k, _)| k == "tag")
            .map(|(_, v)| v.to_lowercase())
            .collect(),
        sort,
        offset: page.offset(),
        limit: page.per_page,
    })
}

/// `GET /software`: a page of releases as software, with `X-Total-Count` and `Link`
/// (`first`, `prev`, `next`, `last`).
async fn list_software(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    let tenant = user(&id)?;
    let f = software_filter(&query.0)?;
    let page = paging::Paging {
        page: f.offset / f.limit + 1,
        per_page: f.limit,
    };
    let (list, total) = s.list_software(&tenant, &f).await?;
    let body: Vec<render::Software<'_>> = list.iter().map(render::software).collect();
    let headers = paging::headers(
        &format!("{BASE}/software"),
        &query.0,
        page,
        Some(total),
        page.has_next(total),
    );
    Ok((headers, axum::Json(body)).into_response())
}

/// `GET /software/tags`: the tags in use, for one `kind` when given (once at most).
async fn software_tags(s: State, id: Identity, query: QueryPairs) -> Result<Response, ApiError> {
    let tenant = user(&id)?;
    let kinds: Vec<&str> = query
        .0
        .iter()
        .filter(|(k, _)| k == "kind")
        .map(|(_, v)| v.as_str())
        .collect();
    let kind = match kinds.as_slice() {
        [] => None,
        // The filter struct has no JSON names: upstream's message says `Kind`.
        [""] => return Err(ApiError::bad_request("Kind: cannot be blank.")),
        [one] => Some(
            ReleaseKind::parse(one)
                .ok_or_else(|| ApiError::bad_request("Kind: must be a valid value."))?,
        ),
        _ => {
            return Err(ApiError::bad_request(
                "only one kind query argument can be specified",
            ));
        }
    };
    Ok(Json(s.software_tags(&tenant, kind).await?).into_response())
}
