//! Domain types: workflow definitions in upstream's JSON format (every field optional, as
//! upstream's decoder takes them), jobs, and task results in the shape upstream's job status
//! API renders them.

use std::collections::BTreeMap;

use mender_core::gojson::{GoField, GoStruct, GoType};
use mender_core::{JobId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Topic of workflows that name none.
pub const DEFAULT_TOPIC: &str = "default";

/// Task type names.
pub mod task_type {
    /// An HTTP request.
    pub const HTTP: &str = "http";
    /// A local command.
    pub const CLI: &str = "cli";
    /// A NATS JetStream publication.
    pub const NATS: &str = "nats";
    /// An e-mail.
    pub const SMTP: &str = "smtp";
}

/// A workflow definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Workflow {
    /// Unique name; jobs are started by it.
    pub name: String,
    /// Queue topic the jobs go to; empty means [`DEFAULT_TOPIC`].
    pub topic: String,
    /// Ephemeral jobs are not recorded unless they fail.
    pub ephemeral: bool,
    /// Free text.
    pub description: String,
    /// Higher versions replace lower ones.
    pub version: i64,
    /// Definition format version.
    #[serde(alias = "schemaversion")]
    pub schema_version: i64,
    /// Tasks, run in order.
    pub tasks: Vec<Task>,
    /// Inputs a job must be started with.
    pub input_parameters: Vec<String>,
    /// Inputs a job may be started with.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub optional_parameters: Vec<String>,
}

impl Workflow {
    /// The queue topic of this workflow's jobs.
    pub fn topic(&self) -> &str {
        if self.topic.is_empty() {
            DEFAULT_TOPIC
        } else {
            &self.topic
        }
    }
}

/// One step of a workflow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Task {
    /// Name, unique within the workflow; later tasks read its output as `${<name>.json.<path>}`.
    pub name: String,
    /// One of [`task_type`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Extra attempts after a failed one.
    pub retries: u8,
    /// Pause between attempts.
    pub retry_delay_seconds: u8,
    /// Templates; if any renders empty the task is skipped (successfully).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// Parameters of an `http` task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpTask>,
    /// Parameters of a `cli` task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cli: Option<CliTask>,
    /// Parameters of a `nats` task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats: Option<NatsTask>,
    /// Parameters of an `smtp` task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpTask>,
}

/// An HTTP request; every string is a template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpTask {
    /// Target URL.
    pub uri: String,
    /// HTTP method.
    pub method: String,
    /// `Content-Type` header, if any.
    #[serde(rename = "contentType", skip_serializing_if = "String::is_empty")]
    pub content_type: String,
    /// Raw body (used when neither `formdata` nor `json` is given).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// URL-encoded form body.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub formdata: BTreeMap<String, String>,
    /// JSON body; a string that is exactly `${workflow.input.X}` becomes the raw input value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    /// Statuses meaning success; empty means any status below 400 (Go `[]int`: any integer
    /// is accepted, one that is no status never matches).
    #[serde(rename = "statusCodes", skip_serializing_if = "Vec::is_empty")]
    pub status_codes: Vec<i64>,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// Unused, kept for compatibility.
    #[serde(rename = "connectionTimeOut")]
    pub connection_timeout: i64,
    /// Whole-request timeout in seconds (0: the engine default).
    #[serde(rename = "readTimeOut")]
    pub read_timeout: i64,
}

/// A local command, run without a shell.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CliTask {
    /// argv; every element is a template.
    pub command: Vec<String>,
    /// Seconds before the command is killed (0: 4 hours).
    #[serde(rename = "executionTimeOut")]
    pub execution_timeout: i64,
}

/// A message published to JetStream subject `WORKFLOWS.<subject>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NatsTask {
    /// Subject below the `WORKFLOWS` stream.
    pub subject: String,
    /// Message body (templated like `http.json`).
    pub data: Value,
}

/// An e-mail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmtpTask {
    /// Sender.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Copy recipients.
    pub cc: Vec<String>,
    /// Blind copy recipients.
    pub bcc: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Plain text body.
    pub body: String,
    /// HTML body.
    pub html: String,
    /// Seconds.
    pub timeout: i64,
}

/// Upstream's Go type of a workflow definition (`model.Workflow` and the types it holds), for
/// decoding a registered definition with Go's rules and error texts
/// ([`mender_core::gojson::unmarshal`]). The keys are the ones of [`Workflow`] and its parts.
pub static GO_WORKFLOW: GoType = GoType::Struct(&GoStruct {
    package: "model",
    name: "Workflow",
    fields: &[
        field("name", &GO_STRING),
        field("topic", &GO_STRING),
        field("ephemeral", &GoType::Bool),
        field("description", &GO_STRING),
        field("version", &GO_INT),
        field("schemaVersion", &GO_INT),
        field("tasks", &GoType::Slice(&GO_TASK)),
        field("inputParameters", &GO_STRINGS),
        field("optionalParameters", &GO_STRINGS),
    ],
});

static GO_STRING: GoType = GoType::String;
static GO_STRINGS: GoType = GoType::Slice(&GoType::String);
static GO_INT: GoType = GoType::Int("int", 64);
static GO_UINT8: GoType = GoType::Uint("uint8", 8);
static GO_STRING_MAP: GoType = GoType::Map(&GoType::String);

static GO_TASK: GoType = GoType::Struct(&GoStruct {
    package: "model",
    name: "Task",
    fields: &[
        field("name", &GO_STRING),
        field("type", &GO_STRING),
        field("retries", &GO_UINT8),
        field("retryDelaySeconds", &GO_UINT8),
        field("requires", &GO_STRINGS),
        field(
            "http",
            &GoType::Ptr(&GoType::Struct(&GoStruct {
                package: "model",
                name: "HTTPTask",
                fields: &[
                    field("uri", &GO_STRING),
                    field("method", &GO_STRING),
                    field("contentType", &GO_STRING),
                    field("body", &GO_STRING),
                    field("formdata", &GO_STRING_MAP),
                    field("json", &GoType::Interface),
                    field("statusCodes", &GoType::Slice(&GO_INT)),
                    field("headers", &GO_STRING_MAP),
                    field("connectionTimeOut", &GO_INT),
                    field("readTimeOut", &GO_INT),
                ],
            })),
        ),
        field(
            "cli",
            &GoType::Ptr(&GoType::Struct(&GoStruct {
                package: "model",
                name: "CLITask",
                fields: &[
                    field("command", &GO_STRINGS),
                    field("executionTimeOut", &GO_INT),
                ],
            })),
        ),
        field(
            "nats",
            &GoType::Ptr(&GoType::Struct(&GoStruct {
                package: "model",
                name: "NATSTask",
                fields: &[
                    field("subject", &GO_STRING),
                    field("data", &GoType::Interface),
                ],
            })),
        ),
        field(
            "smtp",
            &GoType::Ptr(&GoType::Struct(&GoStruct {
                package: "model",
                name: "SMTPTask",
                fields: &[
                    field("from", &GO_STRING),
                    field("to", &GO_STRINGS),
                    field("cc", &GO_STRINGS),
                    field("bcc", &GO_STRINGS),
                    field("subject", &GO_STRING),
                    field("body", &GO_STRING),
                    field("html", &GO_STRING),
                    field("timeout", &GO_INT),
                ],
            })),
        ),
    ],
});

const fn field(key: &'static str, ty: &'static GoType) -> GoField {
    GoField { key, ty }
}

/// One input of a job: the string used in templates and the original JSON value.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct InputParameter {
    /// Parameter name.
    pub name: String,
    /// String form: strings as is, arrays joined with `,`, other values JSON-encoded.
    pub value: String,
    /// The value as sent, for raw-JSON substitution; never rendered by the job APIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Value>,
}

impl std::fmt::Debug for InputParameter {
    // Inputs may carry tokens (generate_artifact's `token`): keep values out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputParameter")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl InputParameter {
    /// Converts one JSON input the way upstream stores it.
    pub fn from_json(name: &str, value: &Value) -> Self {
        let text = match value {
            Value::Array(items) => items
                .iter()
                .map(value_to_string)
                .collect::<Vec<_>>()
                .join(","),
            other => value_to_string(other),
        };
        Self {
            name: name.to_owned(),
            value: text,
            raw: (!value.is_null()).then(|| value.clone()),
        }
    }
}

/// A string as is, anything else as JSON.
pub fn value_to_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Queued, no worker has started it.
    Pending,
    /// A worker is running its tasks.
    Processing,
    /// Every task succeeded or was skipped.
    Done,
    /// A task failed (or the job could not be run).
    Failed,
}

impl JobStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    /// Whether the job has ended (`done` or `failed`).
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Done | Self::Failed)
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "processing" => Self::Processing,
            "done" => Self::Done,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// A started workflow: what is queued, stored and rendered by the job APIs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// 24-hex id (like a Mongo ObjectID).
    pub id: JobId,
    /// Workflow name.
    #[serde(rename = "workflowName")]
    pub workflow_name: String,
    /// Inputs.
    #[serde(rename = "inputParameters")]
    pub input_parameters: Vec<InputParameter>,
    /// Status.
    pub status: JobStatus,
    /// Results of the tasks run so far, in order.
    #[serde(default)]
    pub results: Vec<TaskResult>,
    /// When the job was started (RFC 3339 in the API and in queued messages).
    pub insert_time: Timestamp,
    /// Minimum workflow version asked for (`X-Workflows-Min-Version`), or empty.
    #[serde(default)]
    pub version: String,
}

impl Job {
    /// The job as the status APIs render it: without raw input values.
    pub fn for_api(mut self) -> Self {
        for p in &mut self.input_parameters {
            p.raw = None;
        }
        self
    }

    /// The minimum definition version this job needs.
    pub fn min_version(&self) -> i64 {
        self.version.trim().parse().unwrap_or(0)
    }
}

/// The outcome of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    /// Task name.
    pub name: String,
    /// Task type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the task succeeded (skipped tasks succeed).
    pub success: bool,
    /// Whether `requires` skipped it.
    pub skipped: bool,
    /// Attempts made (0 when skipped).
    #[serde(default)]
    pub attempts: u32,
    /// Why the last attempt failed, when it did not even get an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Command result of a `cli` task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli: Option<CliResult>,
    /// The request an `http` task sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_request: Option<HttpRequestResult>,
    /// The answer an `http` task got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_response: Option<HttpResponseResult>,
}

impl TaskResult {
    /// A result with no details yet.
    pub fn new(task: &Task, success: bool) -> Self {
        Self {
            name: task.name.clone(),
            kind: task.kind.clone(),
            success,
            skipped: false,
            attempts: 0,
            error: None,
            cli: None,
            http_request: None,
            http_response: None,
        }
    }

    /// A failure that never reached the target.
    pub fn failed(task: &Task, error: impl Into<String>) -> Self {
        let mut r = Self::new(task, false);
        r.error = Some(error.into());
        r
    }
}

/// What a `cli` task ran and printed.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CliResult {
    /// argv after templating.
    pub command: Vec<String>,
    /// stdout.
    pub output: String,
    /// stderr.
    pub error: String,
    /// Exit code; -1 when killed or not started.
    pub exit_code: i32,
}

/// The request of an `http` task after templating.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequestResult {
    /// URL.
    pub uri: String,
    /// Method.
    pub method: String,
    /// Body sent.
    pub body: String,
    /// Extra headers sent, as `Name: value`.
    pub headers: Vec<String>,
}

/// The answer to an `http` task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpResponseResult {
    /// Status code.
    pub status_code: u16,
    /// Body (lossy UTF-8).
    pub body: String,
}

// Commands and request headers/bodies carry tokens (generate_artifact's `--token`, auth
// headers): `Debug` shows only what is safe to log.
impl std::fmt::Debug for CliResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliResult")
            .field("program", &self.command.first())
            .field("exit_code", &self.exit_code)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for HttpRequestResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRequestResult")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let p = InputParameter::from_json("token", &serde_json::json!("s3cret"));
        let c = CliResult {
            command: vec!["create-artifact".into(), "--token".into(), "s3cret".into()],
            output: String::new(),
            error: String::new(),
            exit_code: 0,
        };
        let h = HttpRequestResult {
            uri: "http://x".into(),
            method: "GET".into(),
            body: "s3cret".into(),
            headers: vec!["Authorization: Bearer s3cret".into()],
        };
        for dbg in [format!("{p:?}"), format!("{c:?}"), format!("{h:?}")] {
            assert!(!dbg.contains("s3cret"), "{dbg}");
        }
    }

    #[test]
    fn queued_jobs_keep_their_json() {
        // As earlier versions queued it: the system clock's nanoseconds in `insert_time`.
        let old = r#"{"id":"6553f1000102030405000001","workflowName":"wf","inputParameters":[{"name":"a","value":"1","raw":1}],"status":"pending","results":[],"insert_time":"2023-11-14T22:13:20.123456789Z","version":"2"}"#;
        let job: Job = serde_json::from_str(old).unwrap();
        assert_eq!(job.id.as_str(), "6553f1000102030405000001");
        assert_eq!(job.insert_time.unix_micros(), 1_700_000_000_123_456);
        assert_eq!(job.min_version(), 2);
        assert_eq!(
            serde_json::to_string(&job).unwrap(),
            old.replace(".123456789Z", ".123456Z")
        );
    }
}
