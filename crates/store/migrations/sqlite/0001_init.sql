-- Switchboard's schema. Times are milliseconds since the Unix epoch (BIGINT), ids are
-- BIGINT, JSON documents are TEXT: the same statements run on PostgreSQL.

CREATE TABLE customers (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    phone         TEXT,
    email         TEXT,
    language      TEXT,
    segment       TEXT,
    tier          TEXT,
    account_owner TEXT,
    external_id   TEXT,
    created_ms    BIGINT NOT NULL
);
CREATE INDEX customers_phone ON customers (phone);
CREATE INDEX customers_email ON customers (email);

CREATE TABLE contacts (
    id           INTEGER PRIMARY KEY,
    channel      TEXT NOT NULL,
    address      TEXT NOT NULL,
    dialed       TEXT NOT NULL,
    customer_id  BIGINT REFERENCES customers (id),
    flow         TEXT,
    queue        TEXT,
    agent        TEXT,
    status       TEXT NOT NULL,
    ivr_path     TEXT NOT NULL DEFAULT '[]',
    transcript   TEXT NOT NULL DEFAULT '[]',
    created_ms   BIGINT NOT NULL,
    queued_ms    BIGINT,
    answered_ms  BIGINT,
    ended_ms     BIGINT,
    wrapped_ms   BIGINT,
    end_reason   TEXT,
    wrapup_code  TEXT,
    notes        TEXT,
    resolved     BOOLEAN,
    recording    TEXT,
    voicemail    TEXT,
    transferred  BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX contacts_customer ON contacts (customer_id, created_ms);
CREATE INDEX contacts_agent ON contacts (agent, created_ms);
CREATE INDEX contacts_status ON contacts (status);
CREATE INDEX contacts_created ON contacts (created_ms);

CREATE TABLE cases (
    id          INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    subject     TEXT NOT NULL,
    status      TEXT NOT NULL,
    opened_ms   BIGINT NOT NULL,
    closed_ms   BIGINT
);
CREATE INDEX cases_customer ON cases (customer_id);

CREATE TABLE callbacks (
    id           INTEGER PRIMARY KEY,
    contact_id   BIGINT REFERENCES contacts (id),
    queue        TEXT NOT NULL,
    number       TEXT NOT NULL,
    requested_ms BIGINT NOT NULL,
    status       TEXT NOT NULL
);

CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    contact_id BIGINT,
    agent      TEXT,
    queue      TEXT,
    data       TEXT NOT NULL
);
CREATE INDEX events_contact ON events (contact_id);

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    agent         TEXT
);

CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT
);

-- Configuration documents (queues, agents, calendars, wrap-up codes, numbers): one JSON
-- body per (kind, name), validated by the server before it is written.
CREATE TABLE config (
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (kind, name)
);

CREATE TABLE flow_versions (
    flow         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    source       TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    PRIMARY KEY (flow, version)
);

CREATE TABLE flows (
    flow    TEXT PRIMARY KEY,
    active  BIGINT NOT NULL
);

CREATE TABLE articles (
    id     INTEGER PRIMARY KEY,
    title  TEXT NOT NULL,
    body   TEXT NOT NULL,
    tags   TEXT NOT NULL DEFAULT ''
);
