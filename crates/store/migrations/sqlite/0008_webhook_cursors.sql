-- How far each webhook (by URL) has delivered the event log: deliveries resume from here
-- after a restart.
CREATE TABLE webhook_cursors (
    url TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);
