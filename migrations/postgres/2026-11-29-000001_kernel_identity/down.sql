DROP TABLE audit_log;
DROP TABLE tokens;
DROP TABLE memberships;
DROP TABLE roles;
DROP TABLE companies;
DROP TABLE users;
