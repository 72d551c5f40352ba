-- Order keys replace stored positions: a row's position is its index among
-- its siblings sorted by rank, compared byte by byte ({{.RankCollation}}).
-- Existing positions p become the keys "e" followed by p in five base-62
-- digits, which keeps every list's and board's order.
ALTER TABLE lists ADD COLUMN rank TEXT COLLATE {{.RankCollation}} NOT NULL DEFAULT '';
--bun:split
UPDATE lists SET rank = 'e' || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', (position / 14776336) % 62 + 1, 1) || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', (position / 238328) % 62 + 1, 1) || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', (position / 3844) % 62 + 1, 1) || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', (position / 62) % 62 + 1, 1) || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', position % 62 + 1, 1);
--bun:split
-- When the order of a list's tasks last changed, for short polling by time.
ALTER TABLE lists ADD COLUMN order_changed_at TIMESTAMP;
--bun:split
DROP INDEX lists_board_position_idx;
--bun:split
ALTER TABLE lists DROP COLUMN position;
--bun:split
CREATE INDEX lists_board_rank_idx ON lists (board_id, rank);
--bun:split
ALTER TABLE tasks ADD COLUMN rank TEXT COLLATE {{.RankCollation}} NOT NULL DEFAULT '';
--bun:split
UPDATE tasks SET rank = 'e' || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', (position / 14776336) % 62 + 1, 1) || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', (position / 238328) % 62 + 1, 1) || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', (position / 3844) % 62 + 1, 1) || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', (position / 62) % 62 + 1, 1) || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', position % 62 + 1, 1);
--bun:split
DROP INDEX tasks_list_position_idx;
--bun:split
ALTER TABLE tasks DROP COLUMN position;
--bun:split
CREATE INDEX tasks_list_rank_idx ON tasks (list_id, rank);
