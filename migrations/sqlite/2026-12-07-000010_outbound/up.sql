-- Requests to hosts outside the platform, for the company's administrators: who made each
-- one, to which host, and how it ended. Never bodies, paths or queries: they may hold tokens.
CREATE TABLE outbound_log (
    id TEXT NOT NULL PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    method TEXT NOT NULL,
    host TEXT NOT NULL,
    status INTEGER,
    outcome TEXT NOT NULL,
    error TEXT,
    duration_ms INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbound_log_company ON outbound_log (company_id, id);
CREATE INDEX outbound_log_created ON outbound_log (created_at);
