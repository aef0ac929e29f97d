DROP INDEX notifications_mail;
ALTER TABLE notifications DROP COLUMN mail_state;
DROP TABLE mail_outbox;
DROP TABLE mail_received;
DROP TABLE mail_settings;
