//! Reading workflow definitions: upstream's JSON format, the built-in set embedded in the
//! binary, and an optional directory of extra or newer definitions.

use std::path::Path;

use crate::model::Workflow;

/// Built-in definitions (our own files, same names, inputs and calls as upstream's).
const BUILTIN: [(&str, &str); 6] = [
    (
        "provision_device.json",
        include_str!("../definitions/provision_device.json"),
    ),
    (
        "decommission_device.json",
        include_str!("../definitions/decommission_device.json"),
    ),
    (
        "update_device_status.json",
        include_str!("../definitions/update_device_status.json"),
    ),
    (
        "update_device_inventory.json",
        include_str!("../definitions/update_device_inventory.json"),
    ),
    (
        "reindex_inventory.json",
        include_str!("../definitions/reindex_inventory.json"),
    ),
    (
        "generate_artifact.json",
        include_str!("../definitions/generate_artifact.json"),
    ),
];

/// Why a definition could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// Not valid JSON, or a field has the wrong type.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The definition has no name.
    #[error("Workflow missing name")]
    MissingName,
}

/// Parses one definition in upstream's JSON format. Unknown fields are ignored, as upstream.
pub fn parse(json: &[u8]) -> Result<Workflow, DefinitionError> {
    let wf: Workflow = serde_json::from_slice(json)?;
    if wf.name.is_empty() {
        return Err(DefinitionError::MissingName);
    }
    Ok(wf)
}

/// The built-in definitions.
pub fn builtin() -> Vec<Workflow> {
    BUILTIN
        .iter()
        .map(|(file, json)| {
            parse(json.as_bytes()).unwrap_or_else(|e| panic!("built-in definition {file}: {e}"))
        })
        .collect()
}

/// Reads every `*.json` definition in `dir`, keeping the highest version of each name.
/// Unreadable or invalid files are skipped with a warning, as upstream does.
pub fn load_dir(dir: &Path) -> std::io::Result<Vec<Workflow>> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    let mut out: Vec<Workflow> = Vec::new();
    for path in entries {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => {}
            Some("yml" | "yaml") => {
                tracing::warn!(file = %path.display(), "YAML workflow definitions are not supported; convert to JSON");
                continue;
            }
            _ => continue,
        }
        let wf = match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| parse(&b).map_err(|e| e.to_string()))
        {
            Ok(wf) => wf,
            Err(error) => {
                tracing::warn!(file = %path.display(), %error, "skipping workflow definition");
                continue;
            }
        };
        match out.iter_mut().find(|w| w.name == wf.name) {
            Some(existing) if existing.version <= wf.version => *existing = wf,
            Some(_) => {}
            None => out.push(wf),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_are_complete() {
        let names: Vec<_> = builtin().into_iter().map(|w| w.name).collect();
        assert_eq!(
            names,
            [
                "provision_device",
                "decommission_device",
                "update_device_status",
                "update_device_inventory",
                "reindex_inventory",
                "generate_artifact",
            ]
        );
    }

    #[test]
    fn parse_rejects_bad_input() {
        assert!(matches!(parse(b"{}"), Err(DefinitionError::MissingName)));
        assert!(matches!(parse(b"{"), Err(DefinitionError::Json(_))));
        assert!(
            parse(br#"{"name":"x","tasks":[{"name":"t","type":"http","retries":256}]}"#).is_err()
        );
        assert!(parse(br#"{"name":"x","version":"1"}"#).is_err());
        let wf = parse(br#"{"name":"x","schemaversion":2,"extra":true}"#).unwrap();
        assert_eq!((wf.schema_version, wf.topic()), (2, "default"));
    }
}
