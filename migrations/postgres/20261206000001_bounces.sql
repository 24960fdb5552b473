-- Bounces and complaints. Every returned message we read is a row of
-- `bounces`: what it said (outcome, status, detail) and whom it named, so
-- that soft bounces can be counted over days, a replayed report is seen
-- as one, and `academichub stats` can say how many per day. A report that
-- named nobody we know (forged, unreadable, an auto-reply) has no
-- subscriber. Why a subscription changed is kept with its event
-- (`subscriber_events.detail`, e.g. "bounced: 5.1.1 …").
-- Keep in step with the other backend's folder.
ALTER TABLE subscriber_events ADD COLUMN detail TEXT;

CREATE TABLE bounces (
    id            BIGSERIAL PRIMARY KEY,
    at            BIGINT NOT NULL,
    -- hard, soft, complaint, ignored, forged, unreadable
    outcome       TEXT    NOT NULL,
    subscriber_id BIGINT REFERENCES subscribers (id) ON DELETE CASCADE,
    outbox_id     BIGINT,
    status        TEXT,
    detail        TEXT    NOT NULL,
    report_id     TEXT
);
CREATE INDEX bounces_at ON bounces (at);
CREATE INDEX bounces_subscriber ON bounces (subscriber_id, outcome, at);
-- One outcome of each kind per message: a report read twice counts once.
CREATE UNIQUE INDEX bounces_once ON bounces (outbox_id, outcome) WHERE outbox_id IS NOT NULL;
