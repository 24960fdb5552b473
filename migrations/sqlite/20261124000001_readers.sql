-- The reader's side: subscription lifecycle with proof of consent, link
-- nonces, per-subscriber schedule and preferences, feedback, suppression,
-- and an outbox that also carries transactional mail (confirmations).
-- Keep in step with ../postgres/.

ALTER TABLE subscribers ADD COLUMN status_changed_at INTEGER NOT NULL DEFAULT 0;
-- Mixed into every link token: deleting and re-creating a subscriber (or
-- rotating it) invalidates every link issued before.
ALTER TABLE subscribers ADD COLUMN link_nonce INTEGER NOT NULL DEFAULT 0;
-- `daily` or `weekly:mon` … `weekly:sun`.
ALTER TABLE subscribers ADD COLUMN cadence TEXT NOT NULL DEFAULT 'daily';
-- NULL: the instance's briefing.max_per_topic.
ALTER TABLE subscribers ADD COLUMN max_per_topic INTEGER;
-- Local date (YYYY-MM-DD) before which no briefing is made.
ALTER TABLE subscribers ADD COLUMN paused_until TEXT;
UPDATE subscribers SET status_changed_at = created_at, link_nonce = abs(random() % 2147483647) + 1;
CREATE INDEX subscribers_status ON subscribers (status, status_changed_at);

-- Every change of a subscription, with where it came from: the proof of
-- consent (when, from which IP and user agent a confirmation came).
CREATE TABLE subscriber_events (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL,
    source        TEXT    NOT NULL,
    ip            TEXT,
    user_agent    TEXT,
    at            INTEGER NOT NULL
);
CREATE INDEX subscriber_events_by_kind ON subscriber_events (subscriber_id, kind, at);

-- "More / less like this", one verdict per subscriber and paper.
CREATE TABLE feedback (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    paper_id      INTEGER NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    verdict       TEXT    NOT NULL,
    at            INTEGER NOT NULL,
    PRIMARY KEY (subscriber_id, paper_id)
);
CREATE INDEX feedback_paper ON feedback (paper_id);

-- What is left of a subscriber who deleted their data: a hash of the
-- address, so that it is not mailed again without a new confirmation.
CREATE TABLE suppressions (
    email_hash TEXT    PRIMARY KEY,
    reason     TEXT    NOT NULL,
    at         INTEGER NOT NULL
);

-- The outbox now also carries mail that belongs to no briefing
-- (confirmations), addressed to a subscriber; SQLite cannot drop NOT NULL
-- in place, so the table is rebuilt.
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY,
    briefing_id     INTEGER UNIQUE REFERENCES briefings (id) ON DELETE CASCADE,
    subscriber_id   INTEGER REFERENCES subscribers (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL DEFAULT 'briefing',
    priority        INTEGER NOT NULL DEFAULT 0,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    html            TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    message_id      TEXT    NOT NULL,
    unsubscribe_url TEXT,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
INSERT INTO outbox_new (id, briefing_id, subscriber_id, kind, priority, recipient, subject, html, text,
                        message_id, unsubscribe_url, status, attempts, next_attempt_at, lease_until,
                        last_error, created_at, sent_at)
SELECT o.id, o.briefing_id, b.subscriber_id, 'briefing', 0, o.recipient, o.subject, o.html, o.text,
       o.message_id, o.unsubscribe_url, o.status, o.attempts, o.next_attempt_at, o.lease_until,
       o.last_error, o.created_at, o.sent_at
FROM outbox o JOIN briefings b ON b.id = o.briefing_id;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_subscriber ON outbox (subscriber_id);

-- A paper's text and link belong to the feed that first announced it:
-- another feed carrying the same arXiv id or DOI cannot rewrite them.
ALTER TABLE papers ADD COLUMN source_id INTEGER REFERENCES sources (id) ON DELETE SET NULL;
CREATE INDEX papers_source ON papers (source_id);
