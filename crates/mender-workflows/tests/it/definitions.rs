//! Every upstream definition file parses into our model.

use std::path::PathBuf;

use mender_workflows::definitions;

fn upstream_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/mender-api/workflows/definitions")
}

#[test]
fn parses_every_upstream_definition() {
    let dir = upstream_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "only {} upstream definitions found",
        files.len()
    );
    for file in &files {
        let wf = definitions::parse(&std::fs::read(file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(wf.name, file.file_stem().unwrap().to_str().unwrap());
        assert!(
            wf.version > 0 && !wf.tasks.is_empty() && !wf.input_parameters.is_empty(),
            "{}",
            wf.name
        );
        for t in &wf.tasks {
            let has = match t.kind.as_str() {
                "http" => t
                    .http
                    .as_ref()
                    .is_some_and(|h| !h.uri.is_empty() && !h.method.is_empty()),
                "cli" => t.cli.as_ref().is_some_and(|c| !c.command.is_empty()),
                "nats" => t.nats.as_ref().is_some_and(|n| !n.subject.is_empty()),
                "smtp" => t.smtp.is_some(),
                _ => false,
            };
            assert!(
                has,
                "{}: task {} has no {} parameters",
                wf.name, t.name, t.kind
            );
        }
    }
    let all = definitions::load_dir(&dir).unwrap();
    assert_eq!(all.len(), files.len());
    let get = |n: &str| all.iter().find(|w| w.name == n).unwrap();
    assert_eq!(get("generate_artifact").topic(), "generate_artifact");
    assert_eq!(
        get("generate_artifact").tasks[0]
            .cli
            .as_ref()
            .unwrap()
            .execution_timeout,
        3600
    );
    assert!(get("update_device_status").ephemeral && !get("provision_device").ephemeral);
    assert_eq!(
        get("provision_device").tasks[2]
            .http
            .as_ref()
            .unwrap()
            .status_codes,
        [201, 409]
    );
    assert_eq!(
        get("provision_device").tasks[1].requires,
        ["${env.HAVE_DEVICECONNECT}"]
    );
    assert_eq!(
        get("reindex_reporting").tasks[0]
            .nats
            .as_ref()
            .unwrap()
            .subject,
        "reporting"
    );
}

#[test]
fn builtins_have_upstream_names_and_inputs() {
    let dir = upstream_dir();
    for ours in definitions::builtin() {
        if ours.name == "generate_artifact" {
            // Deliberately different: see generate_artifact_runs_in_process.
            continue;
        }
        let file = dir.join(format!("{}.json", ours.name));
        let theirs = definitions::parse(&std::fs::read(&file).unwrap()).unwrap();
        let mut a = ours.input_parameters.clone();
        let mut b = theirs.input_parameters.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{}", ours.name);
        assert_eq!(
            (ours.version, ours.ephemeral),
            (theirs.version, theirs.ephemeral),
            "{}",
            ours.name
        );
        // Same calls (method and URL template), in the same order.
        let calls = |w: &mender_workflows::model::Workflow| -> Vec<(String, String)> {
            w.tasks
                .iter()
                .filter_map(|t| t.http.as_ref())
                .map(|h| (h.method.clone(), h.uri.clone()))
                .collect()
        };
        assert_eq!(calls(&ours), calls(&theirs), "{}", ours.name);
        // Tasks aimed at services mender-rs lacks are switched by HAVE_* variables.
        for t in &ours.tasks {
            let uri = &t.http.as_ref().unwrap().uri;
            for (svc, var) in [
                ("DEVICECONNECT", "HAVE_DEVICECONNECT"),
                ("DEVICECONFIG", "HAVE_DEVICECONFIG"),
                ("IOT_MANAGER", "HAVE_IOT_MANAGER"),
            ] {
                if uri.contains(&format!("env.{svc}_ADDR")) {
                    assert_eq!(
                        t.requires,
                        [format!("${{env.{var}}}")],
                        "{}/{}",
                        ours.name,
                        t.name
                    );
                }
            }
        }
    }
}

/// Upstream runs `generate_artifact` as a cli task of create-artifact-worker on its own NATS
/// topic; ours calls the deployments service, which builds the artifact in-process.
#[test]
fn generate_artifact_runs_in_process() {
    let ours = definitions::builtin()
        .into_iter()
        .find(|w| w.name == "generate_artifact")
        .expect("built in");
    assert_eq!(ours.tasks.len(), 1);
    let http = ours.tasks[0]
        .http
        .as_ref()
        .expect("an http task, no external tool");
    assert_eq!(http.method, "POST");
    assert!(
        http.uri
            .contains("env.DEPLOYMENTS_ADDR|mender-deployments:8080")
    );
    assert!(http.uri.ends_with("/artifacts/generate"));
    assert_eq!(http.status_codes, [201]);
    let mut inputs = ours.input_parameters.clone();
    inputs.sort();
    assert_eq!(
        inputs,
        ["artifact_id", "device_types_compatible", "name", "type"]
    );
}
