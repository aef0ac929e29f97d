DROP TABLE outbound_log;
