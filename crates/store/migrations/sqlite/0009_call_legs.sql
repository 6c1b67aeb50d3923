-- Every leg of a call (the customer's, each agent's, supervisor's or number dialed),
-- closed out with its times, why it ended and how its audio went.
CREATE TABLE call_legs (
    id          INTEGER PRIMARY KEY,
    contact_id  BIGINT NOT NULL REFERENCES contacts (id),
    kind        TEXT NOT NULL,
    party       TEXT NOT NULL,
    started_ms  BIGINT NOT NULL,
    answered_ms BIGINT,
    ended_ms    BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    quality     TEXT
);
CREATE INDEX call_legs_contact ON call_legs (contact_id);
