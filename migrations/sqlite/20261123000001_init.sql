-- AcademicHub schema, SQLite flavour. Keep in step with ../postgres/.
-- Times are unix seconds (INTEGER); lists are JSON arrays in TEXT.

CREATE TABLE sources (
    id              INTEGER PRIMARY KEY,
    url             TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    etag            TEXT,
    last_modified   TEXT,
    last_fetched_at INTEGER,
    next_check_at   INTEGER NOT NULL DEFAULT 0,
    error_count     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      INTEGER NOT NULL
);

CREATE TABLE papers (
    id            INTEGER PRIMARY KEY,
    paper_key     TEXT    NOT NULL UNIQUE,
    arxiv_id      TEXT,
    version       INTEGER,
    doi           TEXT,
    title         TEXT    NOT NULL,
    abstract      TEXT    NOT NULL,
    url           TEXT    NOT NULL,
    authors       TEXT    NOT NULL,
    venue         TEXT    NOT NULL,
    announce_type TEXT,
    published_at  INTEGER,
    first_seen_at INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX papers_first_seen ON papers (first_seen_at);

CREATE TABLE paper_categories (
    paper_id INTEGER NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    category TEXT    NOT NULL,
    PRIMARY KEY (paper_id, category)
);

CREATE TABLE subscribers (
    id         INTEGER PRIMARY KEY,
    email      TEXT    NOT NULL UNIQUE,
    locale     TEXT    NOT NULL,
    timezone   TEXT    NOT NULL,
    send_hour  INTEGER NOT NULL,
    status     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE topics (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    keywords      TEXT    NOT NULL,
    categories    TEXT    NOT NULL,
    exclusions    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (subscriber_id, name)
);

CREATE TABLE briefings (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    edition       TEXT    NOT NULL,
    paper_count   INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (subscriber_id, edition)
);

CREATE TABLE briefing_items (
    briefing_id INTEGER NOT NULL REFERENCES briefings (id) ON DELETE CASCADE,
    paper_id    INTEGER NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    topic       TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (briefing_id, paper_id)
);
CREATE INDEX briefing_items_paper ON briefing_items (paper_id);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    briefing_id     INTEGER NOT NULL UNIQUE REFERENCES briefings (id) ON DELETE CASCADE,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    html            TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    message_id      TEXT    NOT NULL,
    unsubscribe_url TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
