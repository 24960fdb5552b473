-- A topic is stored as its query in the canonical text form (see
-- src/domain/query.rs), one row per topic: the radar index is built from
-- these rows without decoding per-subscriber lists. Keep in step with the
-- other backend's folder.

ALTER TABLE topics ADD COLUMN query TEXT NOT NULL DEFAULT '';

-- The old lists become the same query: any one of the keywords (each a
-- phrase), minus the exclusions, in the categories.
UPDATE topics SET query = trim(
    coalesce((SELECT group_concat('"' || replace(value, '"', '') || '"', ' OR ')
              FROM json_each(topics.keywords)), '')
    || coalesce((SELECT group_concat(' -"' || replace(value, '"', '') || '"', '')
                 FROM json_each(topics.exclusions)), '')
    || coalesce((SELECT group_concat(' cat:' || value, '')
                 FROM json_each(topics.categories)), ''));

ALTER TABLE topics DROP COLUMN keywords;
ALTER TABLE topics DROP COLUMN categories;
ALTER TABLE topics DROP COLUMN exclusions;
