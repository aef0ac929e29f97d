DROP TABLE document_templates;
ALTER TABLE plugin_versions DROP COLUMN templates;
