-- A new version of a paper is news again, but only for topics that ask
-- `with:updates`. Keep in step with the other backend's folder.

-- When the paper's current version was first seen (a new version moves it).
ALTER TABLE papers ADD COLUMN version_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE papers SET version_seen_at = first_seen_at;
CREATE INDEX papers_version_seen ON papers (version_seen_at);

-- The version a briefing carried: a paper is "already sent" at that version
-- or older. NULL (briefings made before this column) counts as the latest.
ALTER TABLE briefing_items ADD COLUMN version BIGINT;
