-- Delivery and feed faults. Keep in step with the other backend's folder.

-- A claim carries a random lease token, and a worker may only record the
-- outcome of a row it still holds (compare the token), so a worker whose
-- lease ran out cannot overwrite the row of the one that took over.
ALTER TABLE outbox ADD COLUMN lease_token TEXT;

-- What the last successful fetch of a feed left out, and why (items without
-- a title or a web link, items beyond the per-feed limit); NULL when nothing.
ALTER TABLE sources ADD COLUMN last_notes TEXT;
