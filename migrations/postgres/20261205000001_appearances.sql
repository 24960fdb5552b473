-- One paper, many sources. A preprint and its journal version (or the
-- same work announced by two routes) are one record: every key a work is
-- known by (its own key, its DOI, the DOIs a source says are the same
-- work) points at that record, so a second appearance is not news again.
-- The journal a preprint became is kept for the card ("now published in").
-- `sources.cursor` is where a paged route goes on: the day its last
-- window ended, or a backfill's position.
-- Keep in step with the other backend's folder.
ALTER TABLE sources ADD COLUMN cursor TEXT;
ALTER TABLE papers ADD COLUMN published_in TEXT;
ALTER TABLE papers ADD COLUMN published_doi TEXT;
ALTER TABLE papers ADD COLUMN published_in_at BIGINT;

CREATE TABLE paper_aliases (
    alias    TEXT    PRIMARY KEY,
    paper_id BIGINT NOT NULL REFERENCES papers (id) ON DELETE CASCADE
);
CREATE INDEX paper_aliases_by_paper ON paper_aliases (paper_id);
INSERT INTO paper_aliases (alias, paper_id) SELECT paper_key, id FROM papers WHERE true
    ON CONFLICT DO NOTHING;
INSERT INTO paper_aliases (alias, paper_id) SELECT 'doi:' || doi, id FROM papers
    WHERE doi IS NOT NULL ON CONFLICT DO NOTHING;
