//! Stand-ins for tests of a service that calls another: [`RecordingWorkflows`] records every
//! workflow a service starts instead of running it.

use std::sync::Mutex;

use serde_json::Value;

use crate::workflows::{StartError, StartedWorkflow, WorkflowStarter};

/// Records `(workflow name, inputs)` for every start, and answers with a fixed job id.
#[derive(Debug, Default)]
pub struct RecordingWorkflows {
    calls: Mutex<Vec<(String, Value)>>,
}

/// The job id every recorded start answers with (upstream's ids are 24 hex digits).
pub const JOB_ID: &str = "000000000000000000000000";

impl RecordingWorkflows {
    /// Every start so far, in order.
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.lock().clone()
    }

    /// The inputs of every start of workflow `name`, in order.
    pub fn named(&self, name: &str) -> Vec<Value> {
        self.lock()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// How many workflows were started.
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Forgets the starts so far.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, Value)>> {
        // A test that panicked while holding the lock has failed already; keep the data.
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl WorkflowStarter for RecordingWorkflows {
    async fn start_workflow(
        &self,
        name: &str,
        inputs: Value,
    ) -> Result<StartedWorkflow, StartError> {
        self.lock().push((name.to_owned(), inputs));
        Ok(StartedWorkflow {
            id: JOB_ID.into(),
            name: name.to_owned(),
        })
    }
}
