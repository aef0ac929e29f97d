-- A company's mail: the SMTP relay it sends through and the IMAP mailbox it reads into a
-- plugin's inbox. Passwords are sealed with the server's secrets key before they get here.
-- The mailbox's watermark (UIDVALIDITY and the last UID read) lives beside its settings and is
-- reset when the mailbox changes.
CREATE TABLE mail_settings (
    company_id TEXT NOT NULL PRIMARY KEY REFERENCES companies(id) ON DELETE CASCADE,
    from_address TEXT NOT NULL,
    from_name TEXT NOT NULL,
    smtp_host TEXT NOT NULL,
    smtp_port INTEGER NOT NULL,
    smtp_security TEXT NOT NULL,
    smtp_username TEXT NOT NULL,
    smtp_password TEXT,
    imap_host TEXT NOT NULL,
    imap_port INTEGER NOT NULL,
    imap_security TEXT NOT NULL,
    imap_username TEXT NOT NULL,
    imap_password TEXT,
    imap_folder TEXT NOT NULL,
    deliver_to TEXT NOT NULL,
    imap_uid_validity BIGINT,
    imap_last_uid BIGINT,
    imap_checked_at BIGINT,
    imap_error TEXT,
    updated_at BIGINT NOT NULL
);

-- Messages read from a company's mailbox, by Message-ID: a message polled twice, or copied
-- into the mailbox again, reaches the inbox once.
CREATE TABLE mail_received (
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    status INTEGER NOT NULL,
    PRIMARY KEY (company_id, message_id)
);

-- Mail waiting to go out, and what became of it: queued inside the transaction that decided to
-- send it, sent after that commits by the node's mail worker (at least once; the Message-ID is
-- made from the row's id, so a repeat is recognisable), retried with backoff while the relay is
-- unreachable, and kept as sent, refused or failed for the company's administrators. A plugin
-- queues under its own key (`mail_key`), once per key.
CREATE TABLE mail_outbox (
    id TEXT NOT NULL PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at BIGINT NOT NULL,
    error TEXT,
    message_id TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    mail_key TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_at);
CREATE INDEX mail_outbox_company ON mail_outbox (company_id, id);
CREATE INDEX mail_outbox_day ON mail_outbox (company_id, created_at);
CREATE UNIQUE INDEX mail_outbox_key ON mail_outbox (company_id, source, mail_key);

-- A notification whose recipient also wants it by e-mail: 'wanted' until the mail worker has
-- queued the message, then 'queued'.
ALTER TABLE notifications ADD COLUMN mail_state TEXT;
CREATE INDEX notifications_mail ON notifications (mail_state);
