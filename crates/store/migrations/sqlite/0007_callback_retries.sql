-- Callbacks whose customer did not answer are tried again: how many attempts failed, and
-- when the next one is due (none: at once).
ALTER TABLE callbacks ADD COLUMN failed_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE callbacks ADD COLUMN due_ms BIGINT;
