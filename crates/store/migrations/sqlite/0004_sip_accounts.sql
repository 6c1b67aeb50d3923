-- Agents' SIP phone credentials: the digest HA1 (MD5 of "agent:realm:password", RFC 2617
-- §3.2.2.2), never the password itself.
CREATE TABLE sip_accounts (
    agent TEXT PRIMARY KEY,
    realm TEXT NOT NULL,
    ha1 TEXT NOT NULL
);
