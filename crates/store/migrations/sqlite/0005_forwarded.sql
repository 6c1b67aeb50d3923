-- A call transferred out of the contact center: the number it was connected to.
ALTER TABLE contacts ADD COLUMN forwarded_to TEXT;
