-- Documents people print. A plugin version's own Typst templates (path -> text, as JSON) are
-- kept beside its package and read when it loads. A company's administrator may save versions
-- of their own: each save is a new version, the newest is used, none means the plugin's own.
ALTER TABLE plugin_versions ADD COLUMN templates TEXT NOT NULL DEFAULT '{}';
CREATE TABLE document_templates (
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    plugin TEXT NOT NULL,
    document TEXT NOT NULL,
    language TEXT NOT NULL,
    version INTEGER NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    PRIMARY KEY (company_id, plugin, document, language, version)
);
