-- The reader's side: subscription lifecycle with proof of consent, link
-- nonces, per-subscriber schedule and preferences, feedback, suppression,
-- and an outbox that also carries transactional mail (confirmations).
-- Keep in step with ../sqlite/.

ALTER TABLE subscribers ADD COLUMN status_changed_at BIGINT NOT NULL DEFAULT 0;
-- Mixed into every link token: deleting and re-creating a subscriber (or
-- rotating it) invalidates every link issued before.
ALTER TABLE subscribers ADD COLUMN link_nonce BIGINT NOT NULL DEFAULT 0;
-- `daily` or `weekly:mon` … `weekly:sun`.
ALTER TABLE subscribers ADD COLUMN cadence TEXT NOT NULL DEFAULT 'daily';
-- NULL: the instance's briefing.max_per_topic.
ALTER TABLE subscribers ADD COLUMN max_per_topic BIGINT;
-- Local date (YYYY-MM-DD) before which no briefing is made.
ALTER TABLE subscribers ADD COLUMN paused_until TEXT;
UPDATE subscribers SET status_changed_at = created_at,
    link_nonce = floor(random() * 2147483647)::BIGINT + 1;
CREATE INDEX subscribers_status ON subscribers (status, status_changed_at);

-- Every change of a subscription, with where it came from: the proof of
-- consent (when, from which IP and user agent a confirmation came).
CREATE TABLE subscriber_events (
    id            BIGSERIAL PRIMARY KEY,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    kind          TEXT   NOT NULL,
    source        TEXT   NOT NULL,
    ip            TEXT,
    user_agent    TEXT,
    at            BIGINT NOT NULL
);
CREATE INDEX subscriber_events_by_kind ON subscriber_events (subscriber_id, kind, at);

-- "More / less like this", one verdict per subscriber and paper.
CREATE TABLE feedback (
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    paper_id      BIGINT NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    verdict       TEXT   NOT NULL,
    at            BIGINT NOT NULL,
    PRIMARY KEY (subscriber_id, paper_id)
);
CREATE INDEX feedback_paper ON feedback (paper_id);

-- What is left of a subscriber who deleted their data: a hash of the
-- address, so that it is not mailed again without a new confirmation.
CREATE TABLE suppressions (
    email_hash TEXT   PRIMARY KEY,
    reason     TEXT   NOT NULL,
    at         BIGINT NOT NULL
);

-- The outbox now also carries mail that belongs to no briefing
-- (confirmations), addressed to a subscriber.
ALTER TABLE outbox ALTER COLUMN briefing_id DROP NOT NULL;
ALTER TABLE outbox ALTER COLUMN unsubscribe_url DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN subscriber_id BIGINT REFERENCES subscribers (id) ON DELETE CASCADE;
ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'briefing';
ALTER TABLE outbox ADD COLUMN priority BIGINT NOT NULL DEFAULT 0;
UPDATE outbox o SET subscriber_id = b.subscriber_id FROM briefings b WHERE b.id = o.briefing_id;
CREATE INDEX outbox_subscriber ON outbox (subscriber_id);

-- A paper's text and link belong to the feed that first announced it:
-- another feed carrying the same arXiv id or DOI cannot rewrite them.
ALTER TABLE papers ADD COLUMN source_id BIGINT REFERENCES sources (id) ON DELETE SET NULL;
CREATE INDEX papers_source ON papers (source_id);
