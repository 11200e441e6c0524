//! Fuzz target: inventory's filter parsing, both ways a client sends filters: the v2
//! `filters/search` body (`search::SearchParams`, also the v2alpha1 identity search) and the
//! v1 device list's query string (`QueryPairs` then `search::ListParams::parse`).
//!
//! The input is read as both: as the JSON body and as the query string.
//!
//! Invariants: a compiled search stays within the configured numbers of filters and regexes, has a page from 1 and a page size within the limit, one
//! regex condition per `$regex` filter and no more conditions than its filters add; compiled
//! regexes run on text without panicking; the v1 parse yields at most one condition per
//! query pair, each generic filter matching its value as a string (and as a number only when
//! it is a finite one).
#![no_main]

use axum::extract::FromRequestParts;
use axum::http::Request;
use axum::http::request::Parts;
use libfuzzer_sys::fuzz_target;
use mender_core::query::QueryPairs;
use mender_inventory::InventoryConfig;
use mender_inventory::search::{
    IdentitySearchParams, ListParams, MAX_IDENTITY_PER_PAGE, MAX_SEARCH_PER_PAGE, SearchParams,
};
use mender_inventory::store::{Cond, Scalar};

fn v2(data: &[u8]) {
    let Ok(params) = serde_json::from_slice::<SearchParams>(data) else {
        return;
    };
    let filters = params.filters.len();
    let regex_filters = params.filters.iter().filter(|f| f.op == "$regex").count();
    let limits = InventoryConfig::default();
    let Ok(c) = params.compile(&limits) else {
        return;
    };
    assert!(filters <= limits.max_search_filters);
    assert!(regex_filters <= limits.max_search_regexes);
    assert!(c.page >= 1);
    assert!((1..=MAX_SEARCH_PER_PAGE as u64).contains(&c.per_page));
    assert_eq!(c.regexes.len(), regex_filters);
    assert!(c.conds.len() + c.regexes.len() <= filters + 2);
    let sample = String::from_utf8_lossy(&data[..data.len().min(256)]);
    for r in &c.regexes {
        let _ = r.regex.is_match(&sample);
    }
}

fn v2_identity(data: &[u8]) {
    let Ok(params) = serde_json::from_slice::<IdentitySearchParams>(data) else {
        return;
    };
    let Ok(c) = params.compile() else { return };
    assert!(c.page >= 1);
    assert!((1..=MAX_IDENTITY_PER_PAGE as u64).contains(&c.per_page));
    assert!(!c.prefix.is_empty());
}

fn v1(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(req) = Request::builder().uri(format!("/devices?{query}")).body(()) else {
        return;
    };
    let (mut parts, ()): (Parts, ()) = req.into_parts();
    let Ok(QueryPairs(pairs)) =
        futures::executor::block_on(QueryPairs::from_request_parts(&mut parts, &()))
    else {
        return;
    };
    let Ok(list) = ListParams::parse(&pairs) else {
        return;
    };
    assert!(list.conds.len() <= pairs.len());
    for cond in &list.conds {
        if let Cond::In { values, .. } = cond {
            assert!(matches!(values.first(), Some(Scalar::Str(_))));
            assert!(values.len() <= 2);
            if let Some(Scalar::Num(n)) = values.get(1) {
                assert!(n.is_finite());
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    v2(data);
    v2_identity(data);
    v1(data);
});
