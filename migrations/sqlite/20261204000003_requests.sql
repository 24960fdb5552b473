-- A subscribe request for an address we already hold waits here until the
-- link mailed for it is confirmed: a stranger who types someone's address
-- must not change their stored topics, language or status (nor make a
-- former subscriber `pending`, which expiry would delete with the history
-- of their consent and opt-out). Confirming applies the request.
-- `topics` is a JSON array of [name, query] pairs.
-- Keep in step with the other backend's folder.
CREATE TABLE subscription_requests (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    locale        TEXT    NOT NULL,
    timezone      TEXT    NOT NULL,
    send_hour     INTEGER NOT NULL,
    topics        TEXT    NOT NULL,
    requested_at  INTEGER NOT NULL
);
CREATE INDEX subscription_requests_by_subscriber ON subscription_requests (subscriber_id);
CREATE INDEX subscription_requests_by_time ON subscription_requests (requested_at);

-- Mail a stranger can cause (confirmations, pointers to preferences), per
-- mailbox (the address without its +tag), for the daily cap; rows older
-- than a day are pruned with the expiry of pending subscriptions.
CREATE TABLE mailbox_notices (
    mailbox TEXT    NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX mailbox_notices_by_mailbox ON mailbox_notices (mailbox, at);
