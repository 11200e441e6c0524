//! Stand-ins for tests of a service that calls another: [`RecordingWorkflows`] records every
//! workflow a service starts instead of running it, [`RecordingDeployments`] every
//! configuration deployment a service creates.

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::Value;

use crate::deployments::{
    ConfigurationDeploymentError, ConfigurationDeployments, NewConfigurationDeployment,
};
use crate::workflows::{StartError, StartedWorkflow, WorkflowStarter};

/// Records `(workflow name, inputs)` for every start, and answers with a fixed job id. A
/// keyed start ([`WorkflowStarter::start_workflow_once`]) is recorded once per key, as the
/// real engine queues it once.
#[derive(Debug, Default)]
pub struct RecordingWorkflows {
    calls: Mutex<Recorded>,
}

#[derive(Debug, Default)]
struct Recorded {
    calls: Vec<(String, Value)>,
    keys: HashSet<String>,
    /// How many more starts fail (to test callers' retries).
    failures: usize,
}

/// The job id every recorded start answers with (upstream's ids are 24 hex digits).
pub const JOB_ID: &str = "000000000000000000000000";

impl RecordingWorkflows {
    /// Every start so far, in order.
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.lock().calls.clone()
    }

    /// The inputs of every start of workflow `name`, in order.
    pub fn named(&self, name: &str) -> Vec<Value> {
        self.lock()
            .calls
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// How many workflows were started.
    pub fn count(&self) -> usize {
        self.lock().calls.len()
    }

    /// Forgets the starts so far (the keys seen stay: a repeated key is still a repeat).
    pub fn clear(&self) {
        self.lock().calls.clear();
    }

    /// Makes the next `n` starts fail with [`StartError::Other`], as an unreachable engine.
    pub fn fail_next(&self, n: usize) {
        self.lock().failures = n;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        // A test that panicked while holding the lock has failed already; keep the data.
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(
        &self,
        name: &str,
        inputs: Value,
        key: Option<&str>,
    ) -> Result<StartedWorkflow, StartError> {
        let mut rec = self.lock();
        if rec.failures > 0 {
            rec.failures -= 1;
            return Err(StartError::Other(
                "the workflow engine is unavailable".into(),
            ));
        }
        if key.is_none_or(|k| rec.keys.insert(k.to_owned())) {
            rec.calls.push((name.to_owned(), inputs));
        }
        Ok(StartedWorkflow {
            id: JOB_ID.into(),
            name: name.to_owned(),
        })
    }
}

#[async_trait::async_trait]
impl WorkflowStarter for RecordingWorkflows {
    async fn start_workflow(
        &self,
        name: &str,
        inputs: Value,
    ) -> Result<StartedWorkflow, StartError> {
        self.record(name, inputs, None)
    }

    async fn start_workflow_once(
        &self,
        name: &str,
        inputs: Value,
        key: &str,
    ) -> Result<StartedWorkflow, StartError> {
        self.record(name, inputs, Some(key))
    }
}

/// Records every configuration deployment created; can be told to refuse or fail the next one.
#[derive(Debug, Default)]
pub struct RecordingDeployments {
    state: Mutex<DeploymentsState>,
}

#[derive(Debug, Default)]
struct DeploymentsState {
    created: Vec<NewConfigurationDeployment>,
    next_error: Option<ConfigurationDeploymentError>,
}

impl RecordingDeployments {
    /// Every deployment created so far, in order.
    pub fn created(&self) -> Vec<NewConfigurationDeployment> {
        self.lock().created.clone()
    }

    /// Makes the next create fail with `error` (and record nothing).
    pub fn fail_next(&self, error: ConfigurationDeploymentError) {
        self.lock().next_error = Some(error);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DeploymentsState> {
        // As in RecordingWorkflows: a poisoned lock belongs to a test that failed already.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl ConfigurationDeployments for RecordingDeployments {
    async fn create_configuration_deployment(
        &self,
        deployment: NewConfigurationDeployment,
    ) -> Result<(), ConfigurationDeploymentError> {
        let mut state = self.lock();
        if let Some(e) = state.next_error.take() {
            return Err(e);
        }
        state.created.push(deployment);
        Ok(())
    }
}
