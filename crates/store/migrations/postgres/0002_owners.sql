-- Which server owns each tenant's routing: exactly one at a time, until its lease expires
-- (renewed while it runs, released when it stops).
CREATE TABLE owners (
    tenant     TEXT PRIMARY KEY,
    node       TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);
