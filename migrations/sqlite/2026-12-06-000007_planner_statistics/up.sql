-- SQLite plans from its indexes; PostgreSQL's autovacuum settings have no SQLite counterpart.
SELECT 1;
