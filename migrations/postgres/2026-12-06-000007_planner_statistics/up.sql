-- The record tables grow in bursts (a demo, an import, a busy day): keep the planner's
-- statistics close behind them, or lookups by an indexed field scan whole collections.
ALTER TABLE records SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000);
ALTER TABLE record_keys SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000);
ALTER TABLE record_refs SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000);
ALTER TABLE record_unique SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000);
