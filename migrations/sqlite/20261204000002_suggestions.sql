-- Words an LLM suggested a topic also matches (when [llm] is set), asked
-- once per distinct topic wording (its words, lower case: topic_key) and
-- kept as a JSON array of strings. A topic whose words change is a new key.
-- Keep in step with the other backend's folder.
CREATE TABLE topic_suggestions (
    topic_key TEXT   NOT NULL PRIMARY KEY,
    terms     TEXT   NOT NULL,
    model     TEXT   NOT NULL,
    asked_at  BIGINT NOT NULL
);
