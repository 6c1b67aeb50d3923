-- The contact that carries a callback request through routing (the original one when the
-- caller kept their place; a new `callback` contact otherwise, and after a restart).
ALTER TABLE callbacks ADD COLUMN attempt_contact BIGINT;
