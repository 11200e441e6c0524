-- Workflow definitions, one row per name (the highest version registered wins).
CREATE TABLE workflows (
    name       TEXT   PRIMARY KEY,
    version    BIGINT NOT NULL,
    definition TEXT   NOT NULL
);

-- Jobs: inputs are stored with their raw JSON values so a redelivered job renders the same.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    workflow_name    TEXT NOT NULL,
    version          TEXT NOT NULL,
    status           TEXT NOT NULL,
    input_parameters TEXT NOT NULL,
    insert_time      TEXT NOT NULL
);

CREATE INDEX jobs_workflow_name ON jobs (workflow_name);

-- Task results in execution order; a resumed job skips tasks that already succeeded here.
CREATE TABLE job_results (
    job_id TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx    INTEGER NOT NULL,
    result TEXT    NOT NULL,
    PRIMARY KEY (job_id, idx)
);
