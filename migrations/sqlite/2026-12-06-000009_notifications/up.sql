-- What the kernel tells a person in a company: a title and text (one language, or one per
-- language), an optional link to a record, how important it is, and whether it was read.
CREATE TABLE notifications (
    id TEXT NOT NULL PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    link TEXT,
    importance TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
CREATE INDEX notifications_inbox ON notifications (company_id, user_id, id);
CREATE INDEX notifications_created ON notifications (created_at);

-- Where each person wants each kind of notification to go.
CREATE TABLE notification_preferences (
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    PRIMARY KEY (company_id, user_id, kind)
);
