-- When a job finished (done or failed), in unix milliseconds of the service's clock: finished
-- jobs and their results are pruned once older than the configured retention. Jobs that
-- finished before this column existed get the time the first prune sees them.
ALTER TABLE jobs ADD COLUMN finished_at BIGINT;
CREATE INDEX jobs_finished_at ON jobs (finished_at);
