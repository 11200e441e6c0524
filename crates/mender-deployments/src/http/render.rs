//! JSON shapes of deployments, device deployments and releases, as upstream renders them.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::deployments::{DeviceDeploymentView, HistoryEntry};
use crate::app::releases::Release;
use crate::model::{ArtifactView, Deployment, Statistics, statistics_json};

pub(crate) fn ts(t: OffsetDateTime) -> Value {
    Value::String(t.format(&Rfc3339).unwrap_or_default())
}

/// A deployment (v1 and v2 shape); `artifacts` and `stats` when known.
pub(crate) fn deployment(
    d: &Deployment,
    artifacts: Option<&[String]>,
    stats: Option<&Statistics>,
) -> Value {
    let mut v = json!({
        "id": d.id,
        "name": d.name,
        "artifact_name": d.artifact_name,
        "created": ts(d.created),
        "status": d.status.as_str(),
        "device_count": d.device_count,
        "max_devices": d.max_devices,
        "type": "software",
    });
    let o = v.as_object_mut().expect("object literal");
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
    if let Some(s) = stats {
        o.insert("statistics".into(), json!({"status": statistics_json(s)}));
    }
    v
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
        let view = ArtifactView::from(a);
        let mut meta = serde_json::to_value(&a.meta).unwrap_or(Value::Null);
        if let Some(m) = meta.as_object_mut() {
            m.remove("size");
        }
        o.insert(
            "image".into(),
            json!({
                "id": a.id,
                "meta": {"description": a.description},
                "meta_artifact": meta,
                "size": view.size,
                "modified": ts(view.modified),
            }),
        );
    }
    out
}

/// A history entry (`DeviceDeploymentV1`).
pub(crate) fn history(e: &HistoryEntry) -> Value {
    json!({
        "id": e.device.dd.id,
        "deployment": deployment(&e.deployment, None, None),
        "device": device(&e.device),
    })
}

/// A release; `v1` uses upstream's capitalised v1 field names.
pub(crate) fn release(r: &Release, v1: bool) -> Value {
    let artifacts: Vec<ArtifactView> = r.artifacts.iter().map(ArtifactView::from).collect();
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
