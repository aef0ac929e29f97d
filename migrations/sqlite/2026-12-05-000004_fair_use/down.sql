DROP TABLE plugin_usage;
DROP TABLE plugin_health;
DROP TABLE idempotency_keys;
