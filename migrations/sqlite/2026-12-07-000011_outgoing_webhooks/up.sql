-- Outgoing webhooks: an administrator subscribes a URL to event patterns; each matching event
-- is posted there, signed with the subscription's secret, through the bus's deliveries
-- (plugin `webhooks`, handler the subscription's id). It reads events as the person who set
-- it up may.
CREATE TABLE outgoing_webhooks (
    id TEXT NOT NULL PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT NOT NULL,
    secret TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX outgoing_webhooks_company ON outgoing_webhooks (company_id, id);
