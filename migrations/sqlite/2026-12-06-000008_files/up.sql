-- Files kept by the kernel: one row per upload, its content a blob named by its SHA-256
-- (stored once however often it is uploaded); attached to at most one record's field.
CREATE TABLE files (
    id TEXT NOT NULL PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    uploaded_by TEXT,
    created_at BIGINT NOT NULL,
    plugin TEXT,
    collection TEXT,
    record_id TEXT,
    field TEXT,
    attached_at BIGINT
);
CREATE INDEX files_record ON files (company_id, record_id);
CREATE INDEX files_blob ON files (sha256);
CREATE INDEX files_created ON files (created_at);

-- What each company's files take, counted in the same transaction as the upload or removal.
CREATE TABLE file_usage (
    company_id TEXT NOT NULL PRIMARY KEY REFERENCES companies(id) ON DELETE CASCADE,
    files BIGINT NOT NULL,
    bytes BIGINT NOT NULL
);
