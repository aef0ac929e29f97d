ALTER TABLE users DROP COLUMN time_zone;
ALTER TABLE companies DROP COLUMN profile;
