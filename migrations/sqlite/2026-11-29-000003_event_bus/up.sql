-- The event bus: after-commit deliveries (the transactional outbox) and plugin schedules.
ALTER TABLE events ADD COLUMN collection TEXT;

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    company_id TEXT NOT NULL,
    plugin TEXT NOT NULL,
    handler TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    delivered_by TEXT
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_queue ON deliveries (company_id, plugin, state, id);
CREATE INDEX deliveries_by_event ON deliveries (event_id);

CREATE TABLE schedule_runs (
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    plugin TEXT NOT NULL,
    schedule TEXT NOT NULL,
    next_run_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    last_started_at BIGINT,
    last_finished_at BIGINT,
    last_error TEXT,
    runs BIGINT NOT NULL,
    PRIMARY KEY (company_id, plugin, schedule)
);
CREATE INDEX schedule_runs_due ON schedule_runs (next_run_at);
