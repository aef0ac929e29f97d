-- Login throttling per account and client address. Accounts need not exist: an unknown e-mail
-- is counted exactly like a known one, so the answers tell nothing about which e-mails exist.
CREATE TABLE login_throttle (
    email TEXT NOT NULL,
    client TEXT NOT NULL,
    failures INTEGER NOT NULL,
    locked_until BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (email, client)
);
CREATE INDEX login_throttle_updated ON login_throttle (updated_at);

-- users.failed_logins and users.locked_until (a per-account lock anyone could trigger to keep
-- the owner out) are no longer read or written; a later migration drops them.
