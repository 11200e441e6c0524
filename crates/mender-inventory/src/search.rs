//! Search requests: the v2 `filters/search` body and the v1 list query, validated and turned
//! into store [`Query`] terms. Regular expressions are compiled here with the `regex` crate
//! (linear time, size-limited) and later matched in Rust, never by the database.

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use serde_json::Value;

use crate::InventoryConfig;
use crate::error::Error;
use crate::model::{ATTR_ID, SCOPE_IDENTITY, SCOPE_INVENTORY, SCOPE_TAGS, SCOPES};
use crate::store::{CmpOp, Cond, Key, Scalar, SortKey};

/// Longest accepted regular expression, in bytes.
pub const MAX_REGEX_LEN: usize = 4096;
/// Compiled-program budget of one regular expression.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Largest page a search may ask for (upstream `rest.PerPageMax`: larger is a 400).
pub const MAX_SEARCH_PER_PAGE: i64 = 500;
/// Default page size of searches.
pub const DEFAULT_PER_PAGE: i64 = 20;
/// Largest page of the identity search (upstream's usual `per_page` limit).
pub const MAX_IDENTITY_PER_PAGE: i64 = 500;
/// The one `tags` attribute the identity search looks at.
pub const TAG_NAME: &str = "name";

/// The body of `POST filters/search` (management v2 and internal v2).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SearchParams {
    /// Page, from 1 (smaller values mean 1).
    pub page: i64,
    /// Page size (smaller than 1 means the default).
    pub per_page: i64,
    /// Predicates, combined with AND.
    pub filters: Vec<FilterPredicate>,
    /// Sort criteria.
    pub sort: Vec<SortCriteria>,
    /// Attributes to return (all when empty).
    pub attributes: Vec<SelectAttribute>,
    /// Only these devices (internal API).
    pub device_ids: Vec<mender_core::DeviceId>,
    /// Free-text query.
    pub text: String,
}

/// One filter predicate.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FilterPredicate {
    /// Scope.
    pub scope: String,
    /// Attribute name.
    pub attribute: String,
    /// Operator (`$eq`, `$regex`, ...).
    #[serde(rename = "type")]
    pub op: String,
    /// Operand.
    pub value: Value,
}

/// One sort criterion.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SortCriteria {
    /// Scope.
    pub scope: String,
    /// Attribute name.
    pub attribute: String,
    /// `asc` or `desc`.
    pub order: String,
}

/// An attribute to return.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SelectAttribute {
    /// Scope.
    pub scope: String,
    /// Attribute name.
    pub attribute: String,
}

/// A predicate whose regular expression still has to be matched against stored values.
#[derive(Debug, Clone)]
pub struct RegexCond {
    /// What it looks at.
    pub key: Key,
    /// The compiled expression.
    pub regex: Regex,
}

/// A validated search.
#[derive(Debug, Clone)]
pub struct CompiledSearch {
    /// Conditions the store evaluates directly.
    pub conds: Vec<Cond>,
    /// Regular-expression conditions.
    pub regexes: Vec<RegexCond>,
    /// Sort.
    pub sort: Vec<SortKey>,
    /// Selected attributes (scope, name), if any.
    pub select: Option<Vec<(String, String)>>,
    /// Page (from 1).
    pub page: u64,
    /// Page size.
    pub per_page: u64,
}

fn check_scope(scope: &str) -> Result<(), Error> {
    if scope.is_empty() {
        return Err(Error::Invalid("scope: cannot be blank.".into()));
    }
    if !SCOPES.contains(&scope) {
        return Err(Error::Invalid(format!(
            "scope: must be one of {}.",
            SCOPES.join(", ")
        )));
    }
    Ok(())
}

fn key(scope: &str, name: &str) -> Key {
    if scope == SCOPE_IDENTITY && name == ATTR_ID {
        Key::DeviceId
    } else {
        Key::Attr {
            scope: scope.to_owned(),
            name: name.to_owned(),
        }
    }
}

fn scalar(v: &Value, op: &str) -> Result<Scalar, Error> {
    match v {
        Value::String(s) => Ok(Scalar::Str(s.clone())),
        Value::Number(n) => n
            .as_f64()
            .map(Scalar::Num)
            .ok_or_else(|| Error::Invalid(format!("value: invalid number for {op}"))),
        Value::Bool(b) => Ok(Scalar::Bool(*b)),
        Value::Null => Err(Error::Invalid("value: is required.".into())),
        _ => Err(Error::Invalid(format!(
            "value: {op} takes a string, number or boolean value"
        ))),
    }
}

/// Compiles a `$regex` operand: a pattern, or `/pattern/flags` with flags from `imsx`.
pub fn compile_regex(p: &str) -> Result<Regex, Error> {
    if p.len() > MAX_REGEX_LEN {
        return Err(Error::Invalid(format!(
            "invalid regular expression: longer than {MAX_REGEX_LEN} bytes"
        )));
    }
    let (pattern, flags) = match p.strip_prefix('/').and_then(|r| r.rsplit_once('/')) {
        Some((pat, flags)) if flags.chars().all(|c| "imsx".contains(c)) => (pat, flags),
        _ => (p, ""),
    };
    RegexBuilder::new(pattern)
        .case_insensitive(flags.contains('i'))
        .multi_line(flags.contains('m'))
        .dot_matches_new_line(flags.contains('s'))
        .ignore_whitespace(flags.contains('x'))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(64)
        .build()
        .map_err(|e| {
            let msg = match e {
                regex::Error::CompiledTooBig(_) => "pattern too large".to_owned(),
                other => other
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("syntax error")
                    .trim()
                    .to_owned(),
            };
            Error::Invalid(format!("invalid regular expression: {msg}"))
        })
}

fn predicate(f: &FilterPredicate) -> Result<Result<Cond, RegexCond>, Error> {
    check_scope(&f.scope)?;
    if f.attribute.is_empty() {
        return Err(Error::Invalid("attribute: cannot be blank.".into()));
    }
    if f.value.is_null() {
        return Err(Error::Invalid("value: is required.".into()));
    }
    let key = key(&f.scope, &f.attribute);
    let op = f.op.as_str();
    let array = |v: &Value| -> Result<Vec<Scalar>, Error> {
        let Value::Array(items) = v else {
            return Err(Error::Invalid(format!("value: {op} needs an array")));
        };
        items.iter().map(|i| scalar(i, op)).collect()
    };
    let cmp = |o: CmpOp| -> Result<Cond, Error> {
        Ok(Cond::Cmp {
            key: key.clone(),
            op: o,
            value: scalar(&f.value, op)?,
        })
    };
    Ok(Ok(match op {
        "$eq" | "$ne" => Cond::In {
            key: key.clone(),
            values: vec![scalar(&f.value, op)?],
            negate: op == "$ne",
        },
        "$in" | "$nin" => Cond::In {
            key: key.clone(),
            values: array(&f.value)?,
            negate: op == "$nin",
        },
        "$exists" => match f.value {
            Value::Bool(exists) => Cond::Exists { key, exists },
            _ => return Err(Error::Invalid("value: $exists needs a boolean".into())),
        },
        "$gt" => cmp(CmpOp::Gt)?,
        "$gte" => cmp(CmpOp::Gte)?,
        "$lt" => cmp(CmpOp::Lt)?,
        "$lte" => cmp(CmpOp::Lte)?,
        "$regex" => {
            let Value::String(p) = &f.value else {
                return Err(Error::Invalid("value: $regex needs a string".into()));
            };
            return Ok(Err(RegexCond {
                key,
                regex: compile_regex(p)?,
            }));
        }
        "" => return Err(Error::Invalid("type: cannot be blank.".into())),
        _ => return Err(Error::Invalid("type: must be a valid value.".into())),
    }))
}

impl SearchParams {
    /// Validates the search and compiles it, within the configured number of filters and of
    /// regular expressions (counted before any expression is compiled).
    pub fn compile(self, limits: &InventoryConfig) -> Result<CompiledSearch, Error> {
        if self.filters.len() > limits.max_search_filters {
            return Err(Error::Invalid(format!(
                "filters: the number of filters must be no greater than {}.",
                limits.max_search_filters
            )));
        }
        let regexes = self.filters.iter().filter(|f| f.op == "$regex").count();
        if regexes > limits.max_search_regexes {
            return Err(Error::Invalid(format!(
                "filters: the number of $regex filters must be no greater than {}.",
                limits.max_search_regexes
            )));
        }
        let mut conds = Vec::new();
        let mut regexes = Vec::new();
        for f in &self.filters {
            match predicate(f)? {
                Ok(c) => conds.push(c),
                Err(r) => regexes.push(r),
            }
        }
        let mut sort = Vec::new();
        for s in &self.sort {
            check_scope(&s.scope)?;
            if s.attribute.is_empty() {
                return Err(Error::Invalid("attribute: cannot be blank.".into()));
            }
            let desc = match s.order.as_str() {
                "asc" => false,
                "desc" => true,
                "" => return Err(Error::Invalid("order: cannot be blank.".into())),
                _ => return Err(Error::Invalid("order: must be a valid value.".into())),
            };
            sort.push(SortKey {
                key: key(&s.scope, &s.attribute),
                desc,
            });
        }
        let mut select = Vec::new();
        for a in &self.attributes {
            check_scope(&a.scope)?;
            if a.attribute.is_empty() {
                return Err(Error::Invalid("attribute: cannot be blank.".into()));
            }
            select.push((a.scope.clone(), a.attribute.clone()));
        }
        if !self.device_ids.is_empty() {
            conds.push(Cond::DeviceIds(self.device_ids));
        }
        let words = crate::model::keywords(&self.text);
        if !words.is_empty() {
            conds.push(Cond::Text(words));
        }
        let page = if self.page < 1 { 1 } else { self.page };
        let per_page = if self.per_page < 1 {
            DEFAULT_PER_PAGE
        } else {
            self.per_page
        };
        if per_page > MAX_SEARCH_PER_PAGE {
            return Err(Error::Invalid(format!(
                "per_page: must be no greater than {MAX_SEARCH_PER_PAGE}."
            )));
        }
        Ok(CompiledSearch {
            conds,
            regexes,
            sort,
            select: (!select.is_empty()).then_some(select),
            page: page as u64,
            per_page: per_page as u64,
        })
    }
}

/// The body of `POST /api/management/v2alpha1/inventory/identities/search`: a prefix of the
/// device id (`identity`/`id`), of any `identity` attribute or of the `tags` attribute
/// `name`. Upstream has only the specification so far; the rules follow it (the three
/// search fields are required, `scope` is `identity` or `tags`) in the words of upstream's
/// validator.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IdentitySearchParams {
    /// `identity` or `tags`.
    pub scope: Option<String>,
    /// The attribute (`id` is the device id; with `tags` only `name`).
    pub name: Option<String>,
    /// What the value must start with.
    pub value_prefix: Option<String>,
    /// Attributes to return (all when absent or empty).
    pub attributes: Option<Vec<SelectAttribute>>,
    /// Page, from 1 (smaller values mean 1).
    pub page: Option<i64>,
    /// Page size (smaller than 1 means the default, at most 500).
    pub per_page: Option<i64>,
}

/// A validated identity search.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledIdentitySearch {
    /// What the prefix is matched against.
    pub key: Key,
    /// The prefix.
    pub prefix: String,
    /// Selected attributes (scope, name), if any.
    pub select: Option<Vec<(String, String)>>,
    /// Page (from 1).
    pub page: u64,
    /// Page size.
    pub per_page: u64,
}

impl IdentitySearchParams {
    /// Validates the search: every problem of the search fields at once (`name: cannot be
    /// blank; scope: ...`), then the selected attributes.
    pub fn compile(self) -> Result<CompiledIdentitySearch, Error> {
        let scope = self.scope.unwrap_or_default();
        let name = self.name.unwrap_or_default();
        let prefix = self.value_prefix.unwrap_or_default();
        let page = self.page.filter(|p| *p >= 1).unwrap_or(1);
        let per_page = self
            .per_page
            .filter(|p| *p >= 1)
            .unwrap_or(DEFAULT_PER_PAGE);
        let mut errs: Vec<String> = Vec::new();
        if name.is_empty() {
            errs.push("name: cannot be blank".into());
        } else if scope == SCOPE_TAGS && name != TAG_NAME {
            errs.push("name: must be a valid value".into());
        }
        if per_page > MAX_IDENTITY_PER_PAGE {
            errs.push(format!(
                "per_page: must be no greater than {MAX_IDENTITY_PER_PAGE}"
            ));
        }
        if scope.is_empty() {
            errs.push("scope: cannot be blank".into());
        } else if scope != SCOPE_IDENTITY && scope != SCOPE_TAGS {
            errs.push("scope: must be a valid value".into());
        }
        if prefix.is_empty() {
            errs.push("value_prefix: cannot be blank".into());
        }
        if !errs.is_empty() {
            return Err(Error::Invalid(format!("{}.", errs.join("; "))));
        }
        let mut select = Vec::new();
        for a in self.attributes.unwrap_or_default() {
            check_scope(&a.scope)?;
            if a.attribute.is_empty() {
                return Err(Error::Invalid("attribute: cannot be blank.".into()));
            }
            select.push((a.scope, a.attribute));
        }
        Ok(CompiledIdentitySearch {
            key: key(&scope, &name),
            prefix,
            select: (!select.is_empty()).then_some(select),
            page: page as u64,
            per_page: per_page as u64,
        })
    }
}

/// The v1 list's query: `scope/name=[eq:]value` filters, `sort=[scope/]name[:asc|desc]`,
/// `has_group`, `group`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListParams {
    /// Conditions.
    pub conds: Vec<Cond>,
    /// Sort.
    pub sort: Option<SortKey>,
}

fn split_scope(s: &str) -> (String, String) {
    match s.split_once('/') {
        Some((scope, name)) => (scope.to_owned(), name.to_owned()),
        None => (SCOPE_INVENTORY.to_owned(), s.to_owned()),
    }
}

impl ListParams {
    /// Parses the query pairs (paging parameters are read elsewhere).
    pub fn parse(query: &[(String, String)]) -> Result<Self, Error> {
        let mut out = ListParams::default();
        for (name, value) in query {
            match name.as_str() {
                "page" | "per_page" => {}
                "sort" => {
                    if value.is_empty() {
                        continue;
                    }
                    let mut parts = value.split(':');
                    let (scope, attr) = split_scope(parts.next().unwrap_or(""));
                    let desc = match (parts.next(), parts.next()) {
                        (None, _) => true,
                        (Some("asc"), None) => false,
                        (Some("desc"), None) => true,
                        _ => return Err(Error::Invalid("invalid sort order".into())),
                    };
                    out.sort = Some(SortKey {
                        key: Key::Attr { scope, name: attr },
                        desc,
                    });
                }
                "has_group" => {
                    let exists = parse_bool(value).ok_or_else(|| {
                        Error::Invalid("invalid has_group query: must be a boolean".into())
                    })?;
                    out.conds.push(Cond::Exists {
                        key: Key::Attr {
                            scope: "system".into(),
                            name: "group".into(),
                        },
                        exists,
                    });
                }
                "group" => {
                    if !value.is_empty() {
                        out.conds.push(Cond::In {
                            key: Key::Attr {
                                scope: "system".into(),
                                name: "group".into(),
                            },
                            values: vec![Scalar::Str(value.clone())],
                            negate: false,
                        });
                    }
                }
                _ => {
                    let (scope, attr) = split_scope(name);
                    let v = value
                        .strip_prefix("eq:")
                        .filter(|v| !v.is_empty())
                        .unwrap_or(value);
                    let mut values = vec![Scalar::Str(v.to_owned())];
                    if let Some(n) = v.parse::<f64>().ok().filter(|n| n.is_finite()) {
                        values.push(Scalar::Num(n));
                    }
                    out.conds.push(Cond::In {
                        key: Key::Attr { scope, name: attr },
                        values,
                        negate: false,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_flags_and_limits() {
        assert!(compile_regex("/ABC/i").unwrap().is_match("xabcx"));
        assert!(!compile_regex("ABC").unwrap().is_match("abc"));
        assert!(compile_regex("(").is_err());
        assert!(compile_regex("(?=a)").is_err());
        assert!(compile_regex(&"a".repeat(MAX_REGEX_LEN + 1)).is_err());
        // Small text, huge program: counted repetition blows the size limit.
        assert!(compile_regex("(\\w{100}){100}").is_err());
    }

    #[test]
    fn v1_query() {
        let q = |pairs: &[(&str, &str)]| {
            ListParams::parse(
                &pairs
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        let p = q(&[("sort", "tags/x:asc"), ("mac", "eq:00:11"), ("n", "5")]).unwrap();
        assert_eq!(
            p.sort,
            Some(SortKey {
                key: Key::Attr {
                    scope: "tags".into(),
                    name: "x".into()
                },
                desc: false
            })
        );
        assert_eq!(p.conds.len(), 2);
        assert!(q(&[("sort", "x:up")]).is_err());
        assert!(q(&[("has_group", "maybe")]).is_err());
    }
}
