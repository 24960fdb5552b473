-- The papers a briefing left out for its size cap, ranked per topic, with
-- the reader's words that matched: "N more on this topic" lists them.
-- They were not sent, so they stay news for a later briefing.
-- Keep in step with the other backend's folder.
CREATE TABLE briefing_more (
    briefing_id BIGINT  NOT NULL REFERENCES briefings (id) ON DELETE CASCADE,
    paper_id    BIGINT  NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    topic       TEXT    NOT NULL,
    matched     TEXT    NOT NULL,
    position    BIGINT  NOT NULL,
    PRIMARY KEY (briefing_id, paper_id)
);
CREATE INDEX briefing_more_paper ON briefing_more (paper_id);
