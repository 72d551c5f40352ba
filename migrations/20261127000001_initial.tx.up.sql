CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);
--bun:split
CREATE TABLE boards (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    seq BIGINT NOT NULL DEFAULT 0,
    trimmed_seq BIGINT NOT NULL DEFAULT 0
);
--bun:split
CREATE TABLE board_members (
    board_id TEXT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (board_id, user_id)
);
--bun:split
CREATE INDEX board_members_user_idx ON board_members (user_id);
--bun:split
CREATE TABLE lists (
    id TEXT PRIMARY KEY,
    board_id TEXT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
--bun:split
CREATE INDEX lists_board_position_idx ON lists (board_id, position);
--bun:split
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    list_id TEXT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    board_id TEXT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    description TEXT,
    assignee_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    position INTEGER NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
--bun:split
CREATE INDEX tasks_list_position_idx ON tasks (list_id, position);
--bun:split
CREATE INDEX tasks_board_updated_idx ON tasks (board_id, updated_at);
--bun:split
CREATE INDEX tasks_assignee_idx ON tasks (assignee_id);
--bun:split
CREATE TABLE events (
    board_id TEXT NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    type TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    mutation_id TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (board_id, seq)
);
--bun:split
CREATE INDEX events_board_at_idx ON events (board_id, at);
--bun:split
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
--bun:split
CREATE INDEX tokens_user_idx ON tokens (user_id);
--bun:split
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_id TEXT REFERENCES tokens (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP
);
--bun:split
CREATE INDEX sessions_token_idx ON sessions (token_id);
--bun:split
CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
--bun:split
CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL DEFAULT 0,
    etag TEXT,
    body TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, method, path, key)
);
--bun:split
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
--bun:split
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
