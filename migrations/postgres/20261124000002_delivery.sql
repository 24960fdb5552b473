-- Delivery faults: a claim carries a random lease token, and a worker may
-- only record the outcome of a row it still holds (compare the token), so a
-- worker whose lease ran out cannot overwrite the row of the one that took
-- over. Keep in step with the other backend's folder.
ALTER TABLE outbox ADD COLUMN lease_token TEXT;
