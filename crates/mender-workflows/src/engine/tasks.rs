//! Running one task: `requires`, retries with delay, and the http/cli attempts. nats and smtp
//! tasks fail with an error naming what the embedded engine lacks.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::dispatch::HttpDispatcher;
use crate::model::{
    CliResult, CliTask, HttpRequestResult, HttpResponseResult, HttpTask, Task, TaskResult,
    task_type,
};
use crate::template::{Context, query_escape};

/// Timeout of an http task whose definition gives none.
const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(60);
/// Upstream's default and maximum command run time: 4 hours.
const MAX_CLI_SECONDS: u64 = 4 * 3600;
/// Command output kept in the result, per stream.
const MAX_CLI_OUTPUT: usize = 1024 * 1024;

/// What runs tasks: the ways out of the engine.
pub(crate) struct TaskRunner {
    pub dispatcher: Arc<dyn HttpDispatcher>,
    pub cli_commands: std::collections::BTreeMap<String, PathBuf>,
}

/// The outcome of one attempt.
enum Attempt {
    /// Worth retrying if it failed.
    Done(TaskResult),
    /// The definition cannot work: fail the task without further attempts.
    Fatal(TaskResult),
}

impl TaskRunner {
    /// Runs `task`: skipped if a `requires` template renders empty, otherwise up to
    /// `retries + 1` attempts with `retryDelaySeconds` between them.
    pub async fn run(&self, task: &Task, ctx: &Context<'_>) -> TaskResult {
        if task.requires.iter().any(|r| ctx.render(r).is_empty()) {
            let mut r = TaskResult::new(task, true);
            r.skipped = true;
            return r;
        }
        let max = u32::from(task.retries) + 1;
        let mut attempt = 1;
        loop {
            let (mut result, fatal) = match self.attempt(task, ctx).await {
                Attempt::Done(r) => (r, false),
                Attempt::Fatal(r) => (r, true),
            };
            result.attempts = attempt;
            if result.success || fatal || attempt >= max {
                return result;
            }
            tracing::info!(task = %task.name, attempt, "task failed, retrying");
            attempt += 1;
            if task.retry_delay_seconds > 0 {
                tokio::time::sleep(Duration::from_secs(u64::from(task.retry_delay_seconds))).await;
            }
        }
    }

    async fn attempt(&self, task: &Task, ctx: &Context<'_>) -> Attempt {
        let incompatible = || {
            Attempt::Fatal(TaskResult::failed(
                task,
                format!(
                    "Error: Task definition incompatible with specified type ({})",
                    task.kind
                ),
            ))
        };
        match task.kind.as_str() {
            task_type::HTTP => match &task.http {
                Some(http) => self.http(task, http, ctx).await,
                None => incompatible(),
            },
            task_type::CLI => match &task.cli {
                Some(cli) => self.cli(task, cli, ctx).await,
                None => incompatible(),
            },
            task_type::NATS => Attempt::Fatal(TaskResult::failed(
                task,
                format!(
                    "nats tasks are not available: the embedded workflow engine has no NATS JetStream connection to publish to WORKFLOWS.{}",
                    task.nats.as_ref().map_or("", |n| n.subject.as_str())
                ),
            )),
            task_type::SMTP => Attempt::Fatal(TaskResult::failed(
                task,
                "smtp tasks are not available: the embedded workflow engine has no SMTP client configured",
            )),
            other => Attempt::Fatal(TaskResult::failed(
                task,
                format!("Unrecognized task type: {other}"),
            )),
        }
    }

    async fn http(&self, task: &Task, http: &HttpTask, ctx: &Context<'_>) -> Attempt {
        let uri = ctx.render(&http.uri);
        let body = if !http.formdata.is_empty() {
            // Go's url.Values.Encode: keys sorted, both sides query-escaped.
            let mut pairs: Vec<(String, String)> = http
                .formdata
                .iter()
                .map(|(k, v)| (ctx.render(k), ctx.render(v)))
                .collect();
            pairs.sort();
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
                .collect::<Vec<_>>()
                .join("&")
        } else if let Some(json) = &http.json {
            ctx.render_json(json).to_string()
        } else {
            ctx.render(&http.body)
        };
        let headers: Vec<(String, String)> = http
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), ctx.render(v)))
            .collect();
        let recorded = HttpRequestResult {
            uri: uri.clone(),
            method: http.method.clone(),
            body: body.clone(),
            headers: headers.iter().map(|(k, v)| format!("{k}: {v}")).collect(),
        };
        let fatal = |msg: String| {
            let mut r = TaskResult::failed(task, msg);
            r.http_request = Some(recorded.clone());
            Attempt::Fatal(r)
        };
        let Ok(method) = http::Method::from_bytes(http.method.as_bytes()) else {
            return fatal(format!("invalid HTTP method {:?}", http.method));
        };
        let mut builder = http::Request::builder().method(method).uri(uri.as_str());
        if !http.content_type.is_empty() {
            builder = builder.header(http::header::CONTENT_TYPE, http.content_type.as_str());
        }
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let req = match builder.body(Bytes::from(body)) {
            Ok(r) => r,
            Err(e) => return fatal(format!("invalid HTTP request: {e}")),
        };
        let timeout = u64::try_from(http.read_timeout)
            .ok()
            .filter(|s| *s > 0)
            .map_or(DEFAULT_HTTP_TIMEOUT, Duration::from_secs);
        match self.dispatcher.send(req, timeout).await {
            Err(e) => {
                let mut r = TaskResult::failed(task, e);
                r.http_request = Some(recorded);
                Attempt::Done(r)
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                let success = if http.status_codes.is_empty() {
                    status < 400
                } else {
                    http.status_codes.contains(&i64::from(status))
                };
                let mut r = TaskResult::new(task, success);
                r.http_request = Some(recorded);
                r.http_response = Some(HttpResponseResult {
                    status_code: status,
                    body: String::from_utf8_lossy(resp.body()).into_owned(),
                });
                Attempt::Done(r)
            }
        }
    }

    async fn cli(&self, task: &Task, cli: &CliTask, ctx: &Context<'_>) -> Attempt {
        let command: Vec<String> = cli.command.iter().map(|c| ctx.render(c)).collect();
        let mut result = TaskResult::new(task, false);
        let mut out = CliResult {
            command: command.clone(),
            output: String::new(),
            error: String::new(),
            exit_code: -1,
        };
        let Some(program) = command.first() else {
            result.error = Some("command not found".into());
            result.cli = Some(out);
            return Attempt::Fatal(result);
        };
        let Some(path) = self.cli_commands.get(program) else {
            result.error = Some(format!("command not allowed: {program}"));
            result.cli = Some(out);
            return Attempt::Fatal(result);
        };
        let seconds = u64::try_from(cli.execution_timeout)
            .ok()
            .filter(|s| *s > 0)
            .unwrap_or(MAX_CLI_SECONDS);
        let child = tokio::process::Command::new(path)
            .args(&command[1..])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            // Dropping the wait on timeout kills the process.
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                result.error = Some(format!("cannot start {}: {e}", path.display()));
                result.cli = Some(out);
                return Attempt::Done(result);
            }
        };
        match tokio::time::timeout(Duration::from_secs(seconds), child.wait_with_output()).await {
            Ok(Ok(output)) => {
                out.exit_code = output.status.code().unwrap_or(-1);
                out.output = truncated(&output.stdout);
                out.error = truncated(&output.stderr);
                result.success = output.status.success();
            }
            Ok(Err(e)) => result.error = Some(format!("waiting for {}: {e}", path.display())),
            Err(_) => {
                result.error = Some(format!(
                    "command timed out after {seconds} s and was killed"
                ));
            }
        }
        result.cli = Some(out);
        Attempt::Done(result)
    }
}

fn truncated(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_CLI_OUTPUT)]).into_owned()
}
