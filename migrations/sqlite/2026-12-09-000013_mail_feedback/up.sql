-- What recipients did with a company's sent mail: followed its unsubscribe link (the sender
-- hears of it once, however often the link is followed), or their server sent it back (a
-- bounce read from the company's mailbox, matched to the message by its Message-ID).
ALTER TABLE mail_outbox ADD COLUMN unsubscribed_at BIGINT;
ALTER TABLE mail_outbox ADD COLUMN bounced_at BIGINT;
CREATE INDEX mail_outbox_message_id ON mail_outbox (company_id, message_id);
