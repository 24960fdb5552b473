-- A briefing's papers, and the papers it left out, each in one row.
-- A row per paper cost PostgreSQL its 24-byte header, an item pointer and
-- two index entries for each of the dozen papers a reader gets a day:
-- 1.3 KB a reader a day, kept as long as the briefing (650 B here). Packed,
-- a list is JSON text: runs of papers under one topic, in the briefing's
-- order, [[topic, [entry, ...]], ...]; a paper's entry is [paper id,
-- version] (version null: the latest), a left-out one's [paper id, [words
-- that matched, ...]]. "Already sent" expands the papers list in SQL
-- (json_each); the web view and the data download read it whole. Papers
-- are never deleted, so the lists need no foreign key.
-- Keep in step with the other backend's folder.
ALTER TABLE briefings ADD COLUMN papers TEXT NOT NULL DEFAULT '[]';

-- A run is a stretch of positions under one topic: position minus the
-- paper's rank within its topic is the same along a run.
UPDATE briefings SET papers = (
    SELECT json_group_array(json_array(topic, json(entries)) ORDER BY first)
    FROM (
        SELECT topic, MIN(position) AS first,
               json_group_array(json_array(paper_id, version) ORDER BY position) AS entries
        FROM (
            SELECT *, position - ROW_NUMBER() OVER (PARTITION BY topic ORDER BY position) AS run
            FROM briefing_items WHERE briefing_items.briefing_id = briefings.id
        )
        GROUP BY topic, run
    )
)
WHERE EXISTS (SELECT 1 FROM briefing_items WHERE briefing_items.briefing_id = briefings.id);

DROP TABLE briefing_items;

CREATE TABLE briefing_left_out (
    briefing_id INTEGER PRIMARY KEY REFERENCES briefings (id) ON DELETE CASCADE,
    papers      TEXT    NOT NULL
);

-- The words that matched were one string, a line each: as a JSON array,
-- the quoted string's escaped newlines become the separators.
INSERT INTO briefing_left_out (briefing_id, papers)
SELECT briefing_id, json_group_array(json_array(topic, json(entries)) ORDER BY first)
FROM (
    SELECT briefing_id, topic, MIN(position) AS first,
           json_group_array(json_array(
               paper_id,
               json(CASE WHEN matched = '' THEN '[]'
                         ELSE '[' || replace(json_quote(matched), '\n', '","') || ']' END)
           ) ORDER BY position) AS entries
    FROM (
        SELECT *, position - ROW_NUMBER() OVER (PARTITION BY briefing_id, topic ORDER BY position) AS run
        FROM briefing_more
    )
    GROUP BY briefing_id, topic, run
)
GROUP BY briefing_id;

DROP TABLE briefing_more;
