-- Installed plugins, their packages and compiled artifacts, per-company enablement,
-- the record store for declared collections, and the event log (outbox).
CREATE TABLE plugins (
    name TEXT PRIMARY KEY NOT NULL,
    version TEXT NOT NULL,
    installed_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE plugin_versions (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    wit_version TEXT NOT NULL,
    manifest TEXT NOT NULL,
    package BLOB NOT NULL,
    installed_at BIGINT NOT NULL,
    installed_by TEXT,
    PRIMARY KEY (name, version)
);

CREATE TABLE plugin_artifacts (
    sha256 TEXT NOT NULL,
    engine TEXT NOT NULL,
    artifact BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (sha256, engine)
);

CREATE TABLE company_plugins (
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    plugin TEXT NOT NULL REFERENCES plugins(name),
    config TEXT NOT NULL,
    grants TEXT NOT NULL,
    webhook_secret_hash TEXT,
    enabled_at BIGINT NOT NULL,
    enabled_by TEXT,
    PRIMARY KEY (company_id, plugin)
);
CREATE INDEX company_plugins_by_plugin ON company_plugins (plugin);

CREATE TABLE records (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    plugin TEXT NOT NULL,
    collection TEXT NOT NULL,
    version BIGINT NOT NULL,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    created_by TEXT,
    updated_by TEXT
);
CREATE INDEX records_by_collection ON records (company_id, plugin, collection, id);
CREATE INDEX records_by_created ON records (company_id, plugin, collection, created_at, id);
CREATE INDEX records_by_updated ON records (company_id, plugin, collection, updated_at, id);

CREATE TABLE record_keys (
    record_id TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    company_id TEXT NOT NULL,
    plugin TEXT NOT NULL,
    collection TEXT NOT NULL,
    field TEXT NOT NULL,
    key_text TEXT,
    key_num DOUBLE PRECISION
);
CREATE INDEX record_keys_by_text ON record_keys (company_id, plugin, collection, field, key_text, record_id);
CREATE INDEX record_keys_by_num ON record_keys (company_id, plugin, collection, field, key_num, record_id);
CREATE INDEX record_keys_by_record ON record_keys (record_id);

CREATE TABLE record_unique (
    company_id TEXT NOT NULL,
    plugin TEXT NOT NULL,
    collection TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    record_id TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    PRIMARY KEY (company_id, plugin, collection, field, value)
);
CREATE INDEX record_unique_by_record ON record_unique (record_id);

CREATE TABLE record_refs (
    from_id TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    to_id TEXT NOT NULL,
    PRIMARY KEY (from_id, field)
);
CREATE INDEX record_refs_by_target ON record_refs (to_id);

CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    company_id TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    payload TEXT NOT NULL,
    actor_id TEXT,
    depth INTEGER NOT NULL,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX events_by_company ON events (company_id, id);
