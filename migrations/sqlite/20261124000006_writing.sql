-- What an LLM wrote, kept so that it is asked once: each paper's TL;DR per
-- language, and each analysis per (language, topics, papers). Tokens spent
-- per UTC day, shared by every daemon, for llm.daily_token_budget.
-- Keep in step with the other backend's folder.

CREATE TABLE paper_tldrs (
    paper_id   INTEGER NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    locale     TEXT NOT NULL,
    tldr       TEXT NOT NULL,
    model      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (paper_id, locale)
);

-- `key`: a hash of the language and the briefing's topics with their papers;
-- `body`: the text with [P<paper id>] markers.
CREATE TABLE analyses (
    key        TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    model      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX analyses_created ON analyses (created_at);

CREATE TABLE llm_usage (
    day    TEXT PRIMARY KEY,
    tokens INTEGER NOT NULL
);
