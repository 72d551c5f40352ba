-- Tokens get a name, a scope (read or write) and an optional expiry.
ALTER TABLE tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'write';
--bun:split
ALTER TABLE tokens ADD COLUMN expires_at TIMESTAMP;
--bun:split
-- A ticket carries the scope of the credential it was issued under.
ALTER TABLE tickets ADD COLUMN scope TEXT NOT NULL DEFAULT 'write';
