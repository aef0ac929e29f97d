DROP TABLE outgoing_webhooks;
