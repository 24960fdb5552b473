-- A topic is stored as its query in the canonical text form (see
-- src/domain/query.rs), one row per topic: the radar index is built from
-- these rows without decoding per-subscriber lists. Keep in step with the
-- other backend's folder.

ALTER TABLE topics ADD COLUMN query TEXT NOT NULL DEFAULT '';

-- The old lists become the same query: any one of the keywords (each a
-- phrase), minus the exclusions, in the categories.
UPDATE topics SET query = trim(
    coalesce((SELECT string_agg('"' || replace(k.value, '"', '') || '"', ' OR ' ORDER BY k.n)
              FROM jsonb_array_elements_text(topics.keywords::jsonb) WITH ORDINALITY AS k(value, n)), '')
    || coalesce((SELECT string_agg(' -"' || replace(e.value, '"', '') || '"', '' ORDER BY e.n)
                 FROM jsonb_array_elements_text(topics.exclusions::jsonb) WITH ORDINALITY AS e(value, n)), '')
    || coalesce((SELECT string_agg(' cat:' || c.value, '' ORDER BY c.n)
                 FROM jsonb_array_elements_text(topics.categories::jsonb) WITH ORDINALITY AS c(value, n)), ''));

ALTER TABLE topics DROP COLUMN keywords;
ALTER TABLE topics DROP COLUMN categories;
ALTER TABLE topics DROP COLUMN exclusions;
