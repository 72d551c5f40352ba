-- A membership has a role: owner, editor or viewer. Every existing member
-- becomes an owner, as any member could do everything before roles.
ALTER TABLE board_members ADD COLUMN role TEXT NOT NULL DEFAULT 'owner' CHECK (role IN ('owner', 'editor', 'viewer'));
