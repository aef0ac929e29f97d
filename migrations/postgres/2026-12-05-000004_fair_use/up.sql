-- Fair use between companies: idempotent retries, plugin quarantine, usage counted for quotas.
CREATE TABLE idempotency_keys (
    owner TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (owner, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

CREATE TABLE plugin_health (
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    plugin TEXT NOT NULL,
    strikes INTEGER NOT NULL,
    window_start BIGINT NOT NULL,
    quarantined_at BIGINT,
    limit_kind TEXT,
    reason TEXT,
    PRIMARY KEY (company_id, plugin)
);

CREATE TABLE plugin_usage (
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    plugin TEXT NOT NULL,
    records BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    events BIGINT NOT NULL,
    PRIMARY KEY (company_id, plugin)
);
INSERT INTO plugin_usage (company_id, plugin, records, bytes, events)
    SELECT company_id, plugin, 0, 0, 0 FROM company_plugins;
UPDATE plugin_usage SET
    records = (SELECT COUNT(*) FROM records r WHERE r.company_id = plugin_usage.company_id AND r.plugin = plugin_usage.plugin),
    bytes = (SELECT COALESCE(SUM(LENGTH(r.data)), 0) FROM records r WHERE r.company_id = plugin_usage.company_id AND r.plugin = plugin_usage.plugin),
    events = (SELECT COUNT(*) FROM events e WHERE e.company_id = plugin_usage.company_id AND e.source = plugin_usage.plugin);
