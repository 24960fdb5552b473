-- Operations. A message's body is kept only while it may still be sent:
-- once it is sent, failed or expired, the outbox row is the record of
-- sending and "view in browser" renders the briefing again from its
-- papers. The body was 95% of the database (about 30 KB per reader per
-- day); the trigger drops it in the statement that settles the message,
-- whichever path settles it.
-- A briefing's left-out list is read by its briefing (the primary key);
-- papers are never deleted, so the index by paper served nothing and
-- cost a quarter of the list's bytes.
-- When a message was last deferred and when it failed or expired (a sent
-- one has sent_at): what `academichub stats` counts for a day.
-- Keep in step with the other backend's folder.
ALTER TABLE outbox ADD COLUMN deferred_at INTEGER;
ALTER TABLE outbox ADD COLUMN settled_at INTEGER;

CREATE TRIGGER outbox_body_done AFTER UPDATE OF status ON outbox
WHEN NEW.status IN ('sent', 'failed', 'expired')
BEGIN
    DELETE FROM message_bodies WHERE outbox_id = NEW.id;
END;

DELETE FROM message_bodies
WHERE outbox_id IN (SELECT id FROM outbox WHERE status IN ('sent', 'failed', 'expired'));

DROP INDEX briefing_more_paper;
-- Left-out lists are forgotten after a week, found by their briefing's
-- age; and `stats` counts the day's briefings.
CREATE INDEX briefings_created ON briefings (created_at);
