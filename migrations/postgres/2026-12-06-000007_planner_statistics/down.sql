ALTER TABLE records RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE record_keys RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE record_refs RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE record_unique RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
