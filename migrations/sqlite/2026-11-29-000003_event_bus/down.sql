DROP TABLE schedule_runs;
DROP TABLE deliveries;
ALTER TABLE events DROP COLUMN collection;
