-- Every recording of a contact (one per agent leg: a transferred call has several), in
-- order, one file name per line; `recording` stays the latest.
ALTER TABLE contacts ADD COLUMN recordings TEXT;
