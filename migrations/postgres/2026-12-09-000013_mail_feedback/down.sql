DROP INDEX mail_outbox_message_id;
ALTER TABLE mail_outbox DROP COLUMN bounced_at;
ALTER TABLE mail_outbox DROP COLUMN unsubscribed_at;
