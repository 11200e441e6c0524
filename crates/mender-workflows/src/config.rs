//! `WorkflowsConfig`: the engine's settings as they appear in the server configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Settings of the workflow engine and its workers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkflowsConfig {
    /// Number of jobs a worker process runs at the same time (upstream `concurrency`).
    pub concurrency: usize,
    /// Seconds a claimed job stays invisible to other workers without a heartbeat; a worker
    /// that dies mid-job is replaced after at most this long (upstream JetStream `AckWait`).
    pub lease_seconds: u64,
    /// How often idle workers look for jobs enqueued by other processes, in milliseconds.
    pub poll_interval_ms: u64,
    /// A directory of extra `*.json` definitions, loaded at start; a definition with a higher
    /// version than the stored one replaces it (upstream `workflows_path`).
    pub workflows_path: Option<PathBuf>,
    /// Template variables for `${env.NAME}`: an entry here wins over the process environment
    /// (e.g. `HAVE_DEVICECONNECT = "1"`, `INVENTORY_ADDR = "127.0.0.1:8080"`).
    pub env: BTreeMap<String, String>,
    /// Queue topics this process's workers consume (upstream `nats_subscriber_topic`).
    pub topics: Vec<String>,
    /// A job delivered more often than this (its workers kept dying) is marked failed
    /// (upstream JetStream `MaxDeliver`).
    pub max_deliveries: u32,
    /// Executables `cli` tasks may run: the command's first word maps to a program path;
    /// any other command fails the task. Empty by default (upstream allows only `create-artifact`,
    /// whose work mender-rs does in-process).
    pub cli_commands: BTreeMap<String, PathBuf>,
    /// Finished (done or failed) jobs and their results are deleted this many seconds after
    /// they finished.
    pub job_retention_seconds: u64,
    /// How often a process running workers prunes finished jobs, in seconds.
    pub prune_interval_seconds: u64,
}

impl Default for WorkflowsConfig {
    fn default() -> Self {
        Self {
            concurrency: 10,
            lease_seconds: 30,
            poll_interval_ms: 1000,
            workflows_path: None,
            env: BTreeMap::new(),
            topics: vec![crate::model::DEFAULT_TOPIC.to_owned()],
            max_deliveries: 3,
            // Nothing runs unless the operator allows it: our own definitions need no cli task.
            cli_commands: BTreeMap::new(),
            job_retention_seconds: 7 * 24 * 3600,
            prune_interval_seconds: 3600,
        }
    }
}

impl WorkflowsConfig {
    /// Checks the settings at start; the error says which key to fix.
    pub fn validate(&self) -> Result<(), String> {
        mender_core::settings::require_positive(
            "workflows",
            &[
                ("job_retention_seconds", self.job_retention_seconds),
                ("prune_interval_seconds", self.prune_interval_seconds),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_fields() {
        let c: WorkflowsConfig =
            serde_json::from_str(r#"{"env":{"HAVE_DEVICECONNECT":"1"}}"#).unwrap();
        assert_eq!(
            (c.concurrency, c.lease_seconds, c.max_deliveries),
            (10, 30, 3)
        );
        assert_eq!(c.env["HAVE_DEVICECONNECT"], "1");
        assert_eq!(c.topics, ["default"]);
        assert!(serde_json::from_str::<WorkflowsConfig>(r#"{"concurency":1}"#).is_err());
    }
}
