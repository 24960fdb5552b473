-- The round at scale. Keep in step with the other backend's folder.

-- When the round should look at a subscriber next: their next local send
-- slot, or a lease while a daemon composes their briefing. 0 means "now"
-- (new or changed subscribers); the round then works out the real slot.
-- A tick with nobody due is one search of this index.
ALTER TABLE subscribers ADD COLUMN next_due_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX subscribers_due ON subscribers (next_due_at, id) WHERE status = 'active';
-- Why the round could not make this subscriber's last briefing (a bad
-- row, a template error); NULL when the last one went fine.
ALTER TABLE subscribers ADD COLUMN round_error TEXT;

-- Claiming work reads the queue in order without sorting it: messages due
-- again after a deferral are moved back to 'queued' before a drain.
CREATE INDEX outbox_queue ON outbox (priority DESC, id) WHERE status = 'queued';
-- Dropping the HTML of old messages (retention) finds them by age.
CREATE INDEX outbox_created ON outbox (created_at);

-- One daemon fetches a feed at a time: the others skip it until this passes.
ALTER TABLE sources ADD COLUMN lease_until INTEGER;

-- A message's body apart from its state: claiming and settling a message
-- rewrites a small row, not 100 KB of HTML each time, and retention drops
-- old bodies while the outbox keeps its record of what was sent. New bodies
-- are stored ready for the wire ('quoted-printable'); those made before are
-- 'plain' and encoded when sent.
CREATE TABLE message_bodies (
    outbox_id INTEGER PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
    html      TEXT NOT NULL,
    text      TEXT NOT NULL,
    encoding  TEXT NOT NULL
);
INSERT INTO message_bodies (outbox_id, html, text, encoding) SELECT id, html, text, 'plain' FROM outbox;
ALTER TABLE outbox DROP COLUMN html;
ALTER TABLE outbox DROP COLUMN text;
