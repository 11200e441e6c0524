//! JSON shapes of deployments, device deployments, releases and software, as upstream renders
//! them.

use std::collections::BTreeMap;

use mender_core::{ArtifactId, Timestamp};
use serde_json::{Map, Value, json};

use crate::app::deployments::{DeviceDeploymentView, HistoryEntry};
use crate::app::releases::Release;
use crate::model::{ArtifactView, Deployment, MetaArtifactJson, Statistics, statistics_json};

/// A time as upstream renders it (Go's RFC 3339 with nanoseconds, trailing zeros dropped).
pub(crate) fn ts(t: Timestamp) -> Value {
    Value::String(t.to_rfc3339())
}

/// A deployment (v1 and v2 shape) with its counts; `artifacts` when known.
pub(crate) fn deployment(
    d: &Deployment,
    artifacts: Option<&[ArtifactId]>,
    stats: &Statistics,
) -> Value {
    let mut v = json!({
        "id": d.id,
        "name": d.name,
        "artifact_name": d.artifact_name,
        "created": ts(d.created),
        "status": d.status.as_str(),
        "device_count": d.device_count,
        "max_devices": d.max_devices,
        "type": d.kind.as_str(),
    });
    let o = v.as_object_mut().expect("object literal");
    if let Some(c) = &d.configuration {
        o.insert("configuration".into(), Value::String(configuration(c)));
    }
    if let Some(f) = d.finished {
        o.insert("finished".into(), ts(f));
    }
    if !d.groups.is_empty() {
        o.insert("groups".into(), json!(d.groups));
    }
    if d.force_installation {
        o.insert("force_installation".into(), Value::Bool(true));
    }
    if let Some(a) = artifacts {
        o.insert("artifacts".into(), json!(a));
    }
    // Upstream always writes `statistics` (a Go struct is never omitted).
    o.insert(
        "statistics".into(),
        json!({"status": statistics_json(stats), "total_size": d.total_size}),
    );
    v
}

/// A configuration as upstream shows it in a deployment: string values cut to three bytes
/// plus `...<omitted>` (so secrets do not leak into lists), re-encoded by Go's JSON encoder
/// and base64-encoded (Go renders the byte slice that way). Anything but a string map is
/// encoded as stored.
fn configuration(text: &str) -> String {
    use base64::Engine;
    let json = match serde_json::from_str::<BTreeMap<String, String>>(text) {
        Ok(map) => {
            let cut: Map<String, Value> = map
                .into_iter()
                .map(|(k, v)| {
                    if v.len() > 3 {
                        let head = String::from_utf8_lossy(&v.as_bytes()[..3]).into_owned();
                        (k, Value::String(format!("{head}...<omitted>")))
                    } else {
                        (k, Value::String(v))
                    }
                })
                .collect();
            mender_core::gojson::to_string(&Value::Object(cut))
        }
        Err(_) => text.to_owned(),
    };
    base64::engine::general_purpose::STANDARD.encode(json)
}

/// A device's part in a deployment (`DeviceWithImage`).
pub(crate) fn device(v: &DeviceDeploymentView) -> Value {
    let dd = &v.dd;
    let mut out = json!({
        "id": dd.device_id,
        "status": dd.status.as_str(),
        "created": ts(dd.created),
        "device_type": dd.device_type,
        "log": dd.log_available,
        "state": dd.status.as_str(),
    });
    let o = out.as_object_mut().expect("object literal");
    for (k, t) in [
        ("started", dd.started),
        ("finished", dd.finished),
        ("deleted", dd.deleted),
    ] {
        if let Some(t) = t {
            o.insert(k.into(), ts(t));
        }
    }
    if !dd.substate.is_empty() {
        o.insert("substate".into(), Value::String(dd.substate.clone()));
    }
    if let Some(a) = &v.artifact {
        o.insert(
            "image".into(),
            json!({
                "id": a.id,
                "meta": {"description": a.description},
                "meta_artifact": MetaArtifactJson::from(&a.meta),
                "size": a.meta.size,
                "modified": ts(a.modified),
            }),
        );
    }
    out
}

/// A history entry (`DeviceDeploymentV1`).
pub(crate) fn history(e: &HistoryEntry) -> Value {
    json!({
        "id": e.device.dd.id,
        "deployment": deployment(&e.deployment, None, &e.stats),
        "device": device(&e.device),
    })
}

/// A release as the next release's software list shows it (upstream `Software`), fields in
/// upstream's order.
#[derive(serde::Serialize)]
pub(crate) struct Software<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified: Option<Value>,
    tags: &'a [String],
    notes: &'a str,
    kind: &'static str,
    /// Every artifact's compatible device types, one after the other (not deduplicated);
    /// `null` when there are none.
    compatible_types: Option<Vec<&'a str>>,
}

/// A release in the software list's shape.
pub(crate) fn software(r: &Release) -> Software<'_> {
    let types: Vec<&str> = r
        .artifacts
        .iter()
        .flat_map(|a| a.meta.device_types_compatible.iter().map(String::as_str))
        .collect();
    Software {
        name: &r.name,
        modified: r.modified().map(ts),
        tags: &r.meta.tags,
        notes: &r.meta.notes,
        kind: "release",
        compatible_types: (!types.is_empty()).then_some(types),
    }
}

/// A release; `v1` uses upstream's capitalised v1 field names.
pub(crate) fn release(r: &Release, v1: bool) -> Value {
    let artifacts: Vec<ArtifactView<'_>> = r.artifacts.iter().map(ArtifactView::from).collect();
    let modified = r.modified().map(ts).unwrap_or(Value::Null);
    if v1 {
        json!({
            "Name": r.name,
            "Artifacts": artifacts,
            "ArtifactsCount": artifacts.len(),
            "modified": modified,
            "tags": r.meta.tags,
            "notes": r.meta.notes,
        })
    } else {
        json!({
            "name": r.name,
            "artifacts": artifacts,
            "artifacts_count": artifacts.len(),
            "modified": modified,
            "tags": r.meta.tags,
            "notes": r.meta.notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(config: &str) -> String {
        use base64::Engine;
        let dec = base64::engine::general_purpose::STANDARD
            .decode(configuration(config))
            .unwrap();
        String::from_utf8(dec).unwrap()
    }

    #[test]
    fn software_without_types_has_null_compatible_types() {
        let r = Release {
            name: "empty".into(),
            artifacts: Vec::new(),
            meta: crate::model::ReleaseMeta::default(),
        };
        assert_eq!(
            serde_json::to_string(&software(&r)).unwrap(),
            r#"{"name":"empty","tags":[],"notes":"","kind":"release","compatible_types":null}"#
        );
    }

    #[test]
    fn configuration_is_cut_and_encoded() {
        assert_eq!(
            shown(r#"{"password":"hunter2","tz":"UTC","x":"<a>"}"#),
            r#"{"password":"hun...\u003comitted\u003e","tz":"UTC","x":"\u003ca\u003e"}"#
        );
        // Not a map of strings: shown as stored.
        assert_eq!(shown(r#"{"n": 1}"#), r#"{"n": 1}"#);
    }

    #[test]
    fn configuration_escapes_like_go() {
        // Go escapes U+2028 and U+2029 (serde_json does not), control characters with its
        // short forms or \u00XX, and keeps DEL and other non-ASCII text as it is.
        let config = serde_json::json!({
            "sep\u{2028}key": "\u{2029}",
            "ctl": "\u{1}\t",
            "k": "\u{8}\u{c}\n",
            "del": "\u{7f}é",
        });
        assert_eq!(
            shown(&config.to_string()),
            "{\"ctl\":\"\\u0001\\t\",\"del\":\"\u{7f}é\",\"k\":\"\\b\\f\\n\",\"sep\\u2028key\":\"\\u2029\"}"
        );
    }
}
