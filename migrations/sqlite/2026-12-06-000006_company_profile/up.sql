-- A company's details used on documents and its settings (time zone, currency), as one JSON
-- object that the kernel validates.
ALTER TABLE companies ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';
-- A person's own time zone (IANA name); none means the company's.
ALTER TABLE users ADD COLUMN time_zone TEXT;
